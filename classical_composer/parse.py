"""Stage 1 of 4: a music21 score -> tokens, one per musical event.

In:  a music21 score and the encoding settings (`Settings.encoding()`).
     music21 reads a MIDI file into a score: `converter.parse("piece.mid")`.
Out: the score's tokens in time order, strings in the grammar of tokens.py.

How a score becomes tokens:
1. A score has parts (one per MIDI track or channel). Every pitched note of
   every part is collected with its start time (in quarter notes), length and
   velocity. Drum parts give music21 `Unpitched` notes, which are not pitched
   and so are left out.
2. Notes that start at the same moment become one event: a single pitch is a
   note, several are a chord, just as a listener hears two hands playing at once.
3. With --rests, time in which nothing sounds becomes a rest event.
4. Each event is spelled as a token by tokens.py.

note_tokens.NoteTokens reads a MIDI file through here; corpus.py does so for
every file in a folder, refuses damaged files with a reason, and caches the tokens. Whoever changes the tokens made here
bumps corpus.CACHE_VERSION, so that tokens cached before are made again.
"""

from music21 import chord, interval, note, pitch

from classical_composer import tokens
from classical_composer.tokens import NoteEvent

# Gaps shorter than this are articulation (a slightly detached note), not
# silence a listener would call a rest.
MIN_REST_QUARTERS = 0.25

# music21 leaves velocity unset for some notes; MIDI's own "no opinion" value.
DEFAULT_VELOCITY = 64


def transpose_to_c(score):
    """Transpose a score to C major or A minor by the nearest interval (music21's key analysis)."""
    if not score.pitches:  # drums or silence: no key to find (music21 would raise), nothing to transpose
        return score
    key = score.analyze("key")
    target = pitch.Pitch("C" if key.mode == "major" else "A")
    semitones = (target.pitchClass - key.tonic.pitchClass) % 12
    if semitones > 6:  # go down a fourth rather than up a fifth, and so on
        semitones -= 12
    return score.transpose(interval.Interval(semitones))


def onsets_of(score) -> dict:
    """Start time -> list of (pitch, quarter length, velocity) of every pitched note.

    The original read only `partitionByInstrument(score).parts[0]`, which is
    empty in some files (a first track with only tempo or a drum kit) and
    loses the second hand in others. Here every part is read and merged.
    """
    notes_by_onset: dict = {}
    for part in score.parts:
        # music21 cuts a note held across a barline into tied notes; a listener
        # hears one note, so the ties are joined back into one long note.
        notes = part.flatten()
        notes.stripTies(inPlace=True)
        for element in notes.notes:
            if isinstance(element, note.Note):
                sounding = [element]
            elif isinstance(element, chord.Chord):
                sounding = list(element.notes)
            else:  # Unpitched drums and percussion chords have no pitch to learn
                continue
            for single in sounding:
                velocity = single.volume.velocity or element.volume.velocity or DEFAULT_VELOCITY
                notes_by_onset.setdefault(element.offset, []).append(
                    (single.pitch, float(element.quarterLength), velocity)
                )
    return notes_by_onset


def events_of(score, encoding: dict) -> list[NoteEvent]:
    """A parsed score -> its events in time order, spelled as the encoding asks."""
    if encoding["transpose"]:
        score = transpose_to_c(score)
    events = []
    sounding_until = None  # when the last note heard so far stops, in quarters
    for onset, played in sorted(onsets_of(score).items()):
        if encoding["rests"] and sounding_until is not None and onset - sounding_until >= MIN_REST_QUARTERS:
            gap = float(onset - sounding_until)
            events.append(NoteEvent(tokens.REST, tokens.length_bin(gap) if encoding["durations"] else None))

        # Two tracks playing the same pitch are heard as one note.
        by_midi_number = {}
        for played_pitch, _, _ in played:
            by_midi_number.setdefault(played_pitch.ps, played_pitch)
        pitches = [by_midi_number[number] for number in sorted(by_midi_number)]
        if len(pitches) == 1:
            sound = pitches[0].nameWithOctave
        else:
            sound = tokens.chord_sound(
                [p.nameWithOctave for p in pitches],
                chord.Chord(pitches).normalOrder,
                encoding["octave_chords"],
            )
        longest = max(length for _, length, _ in played)
        loudest = max(velocity for _, _, velocity in played)  # a chord takes its loudest note's
        events.append(
            NoteEvent(
                sound,
                tokens.length_bin(longest) if encoding["durations"] else None,
                tokens.velocity_level(loudest) if encoding["velocities"] else None,
            )
        )
        end = onset + longest
        sounding_until = end if sounding_until is None else max(sounding_until, end)
    return events


def tokens_of(score, encoding: dict) -> list[str]:
    """A parsed score -> its tokens in time order; an empty list when it has no pitched note."""
    return [tokens.encode(event) for event in events_of(score, encoding)]
