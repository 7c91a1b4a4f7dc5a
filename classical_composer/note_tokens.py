"""The note-token representation: a MIDI file <-> one token per onset, the original's way.

In:  a read MIDI file (midi_files.read_midi_bytes) and the encoding settings;
     or tokens in the grammar of tokens.py ("C4", "0.4.7", "E-4.G4 short 81").
Out: the file's tokens (through a music21 score and parse.py); from tokens,
     a MIDI file again; and what the rest of the pipeline asks of tokens:
     how long they last, what they sound, the known token nearest to a new one.

`NoteTokens` is one of the two representation objects (the other is
performance.PerformanceEvents); representations.py picks one from the
settings, and the pipeline asks it instead of asking which it is.
"""

import functools
import math
from collections.abc import Iterable
from pathlib import Path

import numpy as np
from music21 import chord, instrument, note, pitch, stream, tempo
from music21.midi.translate import midiFileToStream

from classical_composer import performance, tokens
from classical_composer.midi_files import UnreadableMidi, music21_reading
from classical_composer.parse import tokens_of

NOTE_TOKENS_BPM = 120  # the tempo note tokens are played at, for they carry none of their own
LENGTH_ORDER = {name: position for position, (name, _, _) in enumerate(tokens.LENGTH_BINS)}


@functools.cache  # a vocabulary has few sounds, and music21 is slow to spell them
def midi_pitches(sound: str) -> tuple[int, ...]:
    """The MIDI numbers a sound plays, as it is written: () for a rest.

    A faithful chord's bare pitch classes are played in octave 4 ("0.4.7" is
    60, 64, 67), because that is where music21 puts a pitch without an octave.
    """
    return tuple(int(pitch.Pitch(part).midi) for part in tokens.pitches_to_play(sound))


def written_length(event: tokens.NoteEvent) -> float:
    """Quarter notes a decoded token lasts as written: its length bin's, or STEP_QUARTERS without --durations."""
    return tokens.WRITTEN_QUARTERS[event.length] if event.length else tokens.STEP_QUARTERS


# --- Tokens -> MIDI -----------------------------------------------------------


def tokens_to_stream(token_list: list[str], instrument_name: str = "Piano", bpm: float = NOTE_TOKENS_BPM) -> stream.Stream:
    """Tokens -> a music21 stream, one event after another.

    Without --durations every event lasts exactly STEP_QUARTERS and the next
    starts when it ends. (The original advanced the offset by 0.5 but left
    each note a full quarter long, so consecutive notes overlapped.)
    With --durations an event lasts its bin's written length.
    """
    part = stream.Stream()
    part.insert(0, instrument.fromString(instrument_name))
    part.insert(0, tempo.MetronomeMark(number=bpm))
    offset = 0.0
    for token in token_list:
        event = tokens.decode(token)
        length = written_length(event)
        to_play = tokens.pitches_to_play(event.sound)
        if not to_play:
            element = note.Rest(quarterLength=length)
        elif len(to_play) == 1 and isinstance(to_play[0], str):
            element = note.Note(to_play[0], quarterLength=length)
        else:
            # A faithful chord has bare pitch classes: note.Note(7) is G in
            # octave 4, as in the original (a documented limitation;
            # --octave-chords keeps the real octaves).
            element = chord.Chord([note.Note(pitch) for pitch in to_play], quarterLength=length)
        if event.velocity is not None:
            element.volume.velocity = event.velocity
        part.insert(offset, element)
        offset += length
    return part


# --- The nearest known token ----------------------------------------------------------


@functools.lru_cache(maxsize=None)
def pitch_summary(sound: str) -> tuple[frozenset, float]:
    """A note's or chord's pitch classes and mean MIDI pitch: what token_distance compares.

    Kept once per sound, because priming compares every token of the
    vocabulary (thousands) with every token the vocabulary lacks.
    """
    pitches = midi_pitches(sound)
    return frozenset(number % tokens.PITCH_CLASSES for number in pitches), sum(pitches) / len(pitches)


def token_distance(wanted: tokens.NoteEvent, known: tokens.NoteEvent) -> tuple:
    """How far a known token is from a wanted one, compared as a tuple, most important first.

    1. The sound. A rest is nearest only to a rest, a note or chord only to a
       note or chord. Between two notes or chords: first the number of pitch
       classes one has and the other lacks (harmony first: C4 is nearer to C5
       than to C#4), then the distance between their mean MIDI pitches.
    2. The length bin: how many bins apart (short, medium, long).
    3. The velocity: how many MIDI steps apart.
    """
    if tokens.is_rest(wanted.sound) or tokens.is_rest(known.sound):
        sound_gap = (0, 0.0) if wanted.sound == known.sound else (math.inf, math.inf)
    else:
        wanted_classes, wanted_mean = pitch_summary(wanted.sound)
        known_classes, known_mean = pitch_summary(known.sound)
        sound_gap = (len(wanted_classes ^ known_classes), abs(wanted_mean - known_mean))
    length_gap = abs(LENGTH_ORDER.get(wanted.length, 0) - LENGTH_ORDER.get(known.length, 0))
    velocity_gap = abs((wanted.velocity or 0) - (known.velocity or 0))
    return (*sound_gap, length_gap, velocity_gap)


ONES_IN_MASK = np.array([bin(mask).count("1") for mask in range(1 << tokens.PITCH_CLASSES)])  # mask -> its classes


def nearest_of_each(wanted_tokens: list[str], known_tokens: list[str]) -> list[str]:
    """For each wanted token, the known token nearest to it by `token_distance`, as `NoteTokens.nearest_known` finds it.

    The same order of comparison, worked out for all known tokens at once with
    numpy: --min-count looks for the nearest of thousands of tokens among
    thousands, which one comparison at a time would take minutes.
    """
    known = [tokens.decode(token) for token in known_tokens]
    known_rest = np.array([tokens.is_rest(event.sound) for event in known])
    known_sound = np.array([event.sound for event in known], dtype=object)
    known_classes, known_mean = class_masks_and_means([event.sound for event in known])
    known_length = np.array([LENGTH_ORDER.get(event.length, 0) for event in known])
    known_velocity = np.array([event.velocity or 0 for event in known])
    nearest = []
    for token in wanted_tokens:
        wanted = tokens.decode(token)
        if tokens.is_rest(wanted.sound):  # a rest is nearest only to the same rest
            same = known_sound == wanted.sound
            sound_keys = [np.where(same, 0, np.inf), np.where(same, 0.0, np.inf)]
        else:
            (classes,), (mean,) = class_masks_and_means([wanted.sound])
            differing = ONES_IN_MASK[known_classes ^ classes].astype(float)  # pitch classes in one, not the other
            sound_keys = [np.where(known_rest, np.inf, differing), np.where(known_rest, np.inf, np.abs(known_mean - mean))]
        keys = [*sound_keys, np.abs(known_length - LENGTH_ORDER.get(wanted.length, 0)),
                np.abs(known_velocity - (wanted.velocity or 0))]
        candidates = np.arange(len(known))
        for key in keys:  # most important first; ties go on to the next key, and at last to the first known
            candidates = candidates[key[candidates] == key[candidates].min()]
        nearest.append(known_tokens[candidates[0]])
    return nearest


def class_masks_and_means(sounds: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Notes' or chords' pitch classes as 12-bit masks, and their mean MIDI pitches (rests: 0 and 0)."""
    masks, means = [], []
    for sound in sounds:
        classes, mean = pitch_summary(sound) if not tokens.is_rest(sound) else (frozenset(), 0.0)
        masks.append(sum(1 << pitch_class for pitch_class in classes))
        means.append(mean)
    return np.array(masks, dtype=np.int64), np.array(means)


# --- The representation object ----------------------------------------------------------


class NoteTokens:
    """Note tokens as the pipeline asks for them; see representations.py for what each answer is for."""

    name = "notes"
    end_token = None  # a song of note tokens ends when it has --num-notes tokens
    report_unit = "tokens"  # what report.py counts runs, variety and copying in

    def __init__(self, encoding: dict):
        self.encoding = encoding  # Settings.encoding(): rests, octave chords, durations, velocities, transpose

    def tokens_of_midi(self, midi_file) -> list[str]:
        """A read MIDI file -> its tokens, through music21's score of it; raises UnreadableMidi when none."""
        with music21_reading("music21 could not make a score of it"):
            score = midiFileToStream(midi_file)
        # music21's analysis can fail on a strange score, e.g. finding no key.
        with music21_reading("music21 could not analyse it"):
            token_list = tokens_of(score, self.encoding)
        if not token_list:
            raise UnreadableMidi("it has no pitched notes")
        return token_list

    def check_token(self, token: str) -> None:
        """Raise ValueError unless the grammar of tokens.py writes `token`."""
        tokens.decode(token)

    def write_midi(self, token_list: list[str], path: Path, instrument_name: str, bpm: float | None) -> None:
        """Tokens -> a MIDI file at `path`, played at `bpm` (None: NOTE_TOKENS_BPM)."""
        tokens_to_stream(token_list, instrument_name, bpm or NOTE_TOKENS_BPM).write("midi", fp=path)

    def quarters_of_pieces(self, midi_dir: Path, pieces: list) -> float | None:
        """How many quarter notes the pieces last. Note tokens keep no time, so their files are read as performances.

        None if a file cannot be read so (performance.py's ValueError: SMPTE timing).
        """
        try:
            return float(sum(performance.beats(performance.performance_of_midi(midi_dir / piece.name))
                             for piece in pieces))
        except ValueError:
            return None

    def quarters_of_tokens(self, token_list: list[str]) -> float | None:
        """Note tokens keep no time of their own: None (the length bins are written lengths, not the music's)."""
        return None

    def notes_sounded(self, token_list: Iterable[str]) -> tuple[list[tuple[float, float, int]], float]:
        """Tokens -> ((start, end, MIDI pitch) of every note, in quarter notes; the length), as written to MIDI.

        Each token lasts its written length and the next starts when it ends; a rest sounds nothing.
        """
        notes, offset = [], 0.0
        for token in token_list:
            event = tokens.decode(token)
            length = written_length(event)
            notes.extend((offset, offset + length, number) for number in sorted(midi_pitches(event.sound)))
            offset += length
        return notes, offset

    def pitches_struck(self, token: str) -> tuple[int, ...]:
        """The MIDI numbers a token starts to play: its sound's."""
        return midi_pitches(tokens.decode(token).sound)

    def is_rest(self, token: str) -> bool:
        return tokens.is_rest(tokens.decode(token).sound)

    def onsets(self, token_list: list[str]) -> list[str]:
        """What report.py compares songs by: every token is one onset."""
        return list(token_list)

    def onset_text(self, onset: str) -> str:
        """How the report names one onset: the token itself."""
        return onset

    def onset_gaps(self, token_list: list[str]) -> list[int] | None:
        """Note tokens keep no time of their own, so no rhythm to compare: None."""
        return None

    def nearest_known(self, token: str, known_tokens: list[str]) -> str:
        """The known token nearest to `token` by `token_distance`; ties go to the first in `known_tokens`.

        So "E-4 short 81" missing from the vocabulary becomes "E-4 short 102" or
        "E-4 medium 81" if either is known (same sound, next velocity or length),
        a missing chord becomes the known chord sharing the most pitch classes,
        and a rest of a missing length becomes a rest of the nearest length.
        """
        wanted = tokens.decode(token)
        return min(known_tokens, key=lambda known: token_distance(wanted, tokens.decode(known)))

    def nearest_known_of_each(self, wanted_tokens: list[str], known_tokens: list[str]) -> list[str]:
        """nearest_known for many tokens at once, quickly."""
        return nearest_of_each(wanted_tokens, known_tokens)

    def transposition_table(self, vocabulary_tokens: list[str]) -> None:
        """Note tokens are not shifted while learning: --transpose moves each piece to C when it is read."""
        return None

    def sampling_rules(self, vocabulary_tokens: list[str], real_pieces: list, key_rules: bool = False,
                       limit_note_lengths: bool = True):
        """Every note token may follow every other: no rules."""
        return None
