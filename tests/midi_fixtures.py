"""Small MIDI files built in code, so that every test knows exactly what it reads.

In:  a folder to write into.
Out: MIDI files whose notes, lengths, velocities and tracks are spelled out
     below, and the tokens they must give are written in the tests beside them.

Most files are written from a music21 score. music21 leaves out a part with no
notes when it writes a score, so the empty first track is added one level
lower, to the MidiFile that music21's translator builds.
"""

import random
import shutil
from pathlib import Path

from music21 import chord, instrument, midi, note, stream
from music21.midi import translate

# --- Building blocks -----------------------------------------------------------


def place(part: stream.Part, offset: float, pitches: list[str], quarter_length: float, velocity: int) -> None:
    """Put a note (one pitch) or a chord (several) into a part at an offset, in quarter notes."""
    if len(pitches) == 1:
        element = note.Note(pitches[0], quarterLength=quarter_length)
    else:
        element = chord.Chord(pitches, quarterLength=quarter_length)
    element.volume.velocity = velocity
    part.insert(offset, element)


def hand(name: str) -> stream.Part:
    part = stream.Part(id=name)
    part.insert(0, instrument.Piano())
    return part


def drum_part(offsets: list[float]) -> stream.Part:
    """A drum kit part: music21 writes it on MIDI channel 10 and reads it back as unpitched notes."""
    part = stream.Part(id="drums")
    part.insert(0, instrument.BassDrum())
    for offset in offsets:
        hit = note.Unpitched(quarterLength=0.5)
        hit.volume.velocity = 120
        part.insert(offset, hit)
    return part


def empty_track(index: int) -> midi.MidiTrack:
    """A MIDI track with a name and nothing else: no notes, no instrument."""
    track = midi.MidiTrack(index=index)
    for event_type, data in ((midi.MetaEvents.SEQUENCE_TRACK_NAME, b"Empty"), (midi.MetaEvents.END_OF_TRACK, b"")):
        track.events.append(midi.DeltaTime(track, time=0))
        event = midi.MidiEvent(track, type=event_type)
        event.data = data
        track.events.append(event)
    return track


def write_score(score: stream.Score, path: Path, empty_first_track: bool = False) -> Path:
    """Write a score as a MIDI file; optionally with an empty track before every other (after the tempo track)."""
    midi_file = translate.streamToMidiFile(score)
    if empty_first_track:
        midi_file.tracks.insert(1, empty_track(index=1))
        for index, track in enumerate(midi_file.tracks):
            track.index = index
    midi_file.open(str(path), "wb")
    try:
        midi_file.write()
    finally:
        midi_file.close()
    return Path(path)


def score_of(*parts: stream.Part) -> stream.Score:
    score = stream.Score()
    for part in parts:
        score.insert(0, part)
    return score


# --- The two-hands piece ---------------------------------------------------------
#
# Two bars of 4/4, quarter notes from the start:
#
#   offset  right hand (track 4)     left hand (track 5)        drums (track 3, channel 10)
#   0.0     E-4  1.0  vel 50         C2 1.0 vel 90    -> one chord, with the loudest velocity
#   1.0     G4   0.5  vel 40
#   1.5                              C2 E2 G2 0.5 vel 75 (a chord in octave 2)
#   2.0                                                         bass drum 0.5
#   2.0-3.0 silence for the piano: a rest of 1 quarter
#   3.0     E5 G#5 B5  1.0 vel 110 (a chord in octave 5)
#   4.0     B-4  2.0  vel 100        A2 0.5 at 5.0 vel 64 (no rest: B-4 still sounds)
#   6.0     F#4  0.75 vel 50                                    bass drum 6.0
#
# Track 1 (after the tempo track) is empty, and the drum part is music21's first
# part: reading only the first part, as the original did, gives no pitched note.


def two_hands_score(drums: bool = True) -> stream.Score:
    right, left = hand("right"), hand("left")
    place(right, 0.0, ["E-4"], 1.0, 50)
    place(left, 0.0, ["C2"], 1.0, 90)
    place(right, 1.0, ["G4"], 0.5, 40)
    place(left, 1.5, ["C2", "E2", "G2"], 0.5, 75)
    place(right, 3.0, ["E5", "G#5", "B5"], 1.0, 110)
    place(right, 4.0, ["B-4"], 2.0, 100)
    place(left, 5.0, ["A2"], 0.5, 64)
    place(right, 6.0, ["F#4"], 0.75, 50)
    return score_of(drum_part([2.0, 6.0]), right, left) if drums else score_of(right, left)


def write_two_hands(path: Path, drums: bool = True, empty_first_track: bool = True) -> Path:
    return write_score(two_hands_score(drums), path, empty_first_track)


def write_drums_only(path: Path) -> Path:
    return write_score(score_of(drum_part([0.0, 1.0, 2.0])), path)


def write_held_across_barline(path: Path) -> Path:
    """G4 held for two quarters from beat 4 of bar 1 into bar 2, then C5: two events."""
    right = hand("right")
    place(right, 0.0, ["E4"], 3.0, 80)
    place(right, 3.0, ["G4"], 2.0, 80)
    place(right, 5.0, ["C5"], 1.0, 80)
    return write_score(score_of(right), path)


# --- Longer pieces for training ------------------------------------------------------

# Events the training pieces are drawn from: (pitches, quarter length). Notes,
# chords in octaves 2 and 5, and a rest (no pitches) of each of the three lengths,
# so that generated tokens written back and read again stay in the vocabulary.
TRAINING_EVENTS = [
    (["C4"], 0.5), (["E4"], 0.5), (["G4"], 1.0), (["A4"], 0.5), (["D4"], 2.0),
    (["C2", "G2"], 1.0), (["C2", "E2", "G2"], 0.5), (["E5", "G#5", "B5"], 1.0),
    ([], 0.5), ([], 1.0), ([], 2.0),
]
TRAINING_VELOCITIES = (30, 60, 80, 105)


def write_training_piece(path: Path, seed: int, events: int = 32) -> Path:
    """A one-hand piece of `events` events drawn from TRAINING_EVENTS, the same for the same seed."""
    chooser = random.Random(seed)
    right = hand("right")
    offset = 0.0
    for number in range(events):
        # Start and end on a sounding event: leading and trailing silence gives no rest token.
        pitches, length = TRAINING_EVENTS[number % 5] if number in (0, events - 1) else chooser.choice(TRAINING_EVENTS)
        if pitches:
            place(right, offset, pitches, length, chooser.choice(TRAINING_VELOCITIES))
        offset += length
    return write_score(score_of(right), path)


def write_training_folder(folder: Path, pieces: int = 3) -> Path:
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for number in range(pieces):
        write_training_piece(folder / f"piece_{number + 1}.mid", seed=number)
    return folder


def programs_in(path: Path) -> set[int]:
    """The instrument numbers (MIDI program changes) a written file sets."""
    midi_file = midi.MidiFile()
    midi_file.open(str(path))
    midi_file.read()
    midi_file.close()
    return {event.data for track in midi_file.tracks for event in track.events
            if event.type == midi.ChannelVoiceMessages.PROGRAM_CHANGE}


def write_two_composers(folder: Path, training_folder: Path, beta_seeds: tuple[int, ...]) -> Path:
    """Two composers in one MIDI folder: alpha/ holds the training folder's pieces, beta/ one piece per seed."""
    for composer in ("alpha", "beta"):
        (folder / composer).mkdir()
    for path in sorted(Path(training_folder).glob("*.mid")):
        shutil.copy(path, folder / "alpha" / path.name)
    for number, seed in enumerate(beta_seeds):
        write_training_piece(folder / "beta" / f"beta_{number + 1}.mid", seed=seed)
    return folder
