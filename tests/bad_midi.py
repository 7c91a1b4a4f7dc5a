"""Small MIDI files built byte by byte, good ones and every kind of bad one.

In:  nothing but the Standard MIDI File layout (written out below).
Out: `bytes` of a MIDI file, and `write_fixture_folder()`, which puts each
     bad case beside good files in a folder, the way real collections look.

The files are written by hand rather than with music21 so that a test can
say exactly what is in them, and so that a file can be cut or damaged at a
known place. A Standard MIDI File is:

    "MThd" <length 6> <format> <track count> <ticks per quarter note>
    "MTrk" <length of the events> <events> ...   one chunk per track

and every event starts with the time since the previous event in ticks,
written as a variable-length number (seven bits per byte, high bit = more).
"""

import struct
from pathlib import Path

TICKS_PER_QUARTER = 480
PIANO_CHANNEL = 0
DRUM_CHANNEL = 9  # General MIDI's percussion channel ("channel 10" counted from 1)
LOUD_ENOUGH = 80  # a velocity: any value above 0 starts a note

NOTE_ON, NOTE_OFF = 0x90, 0x80
META, TEMPO, TIME_SIGNATURE, END_OF_TRACK = 0xFF, 0x51, 0x58, 0x2F
MICROSECONDS_PER_MINUTE = 60_000_000

# A C major scale up and down with a chord every fourth step: enough tokens
# for a window of 8 and a few distinct classes.
SCALE = [60, 62, 64, 65, 67, 69, 71, 72, 71, 69, 67, 65, 64, 62]


def variable_length(number: int) -> bytes:
    """A MIDI variable-length number: seven bits per byte, the high bit set on all but the last."""
    groups = [number & 0x7F]
    number >>= 7
    while number:
        groups.append((number & 0x7F) | 0x80)
        number >>= 7
    return bytes(reversed(groups))


def meta_event(kind: int, data: bytes, delta: int = 0) -> bytes:
    return variable_length(delta) + bytes([META, kind]) + variable_length(len(data)) + data


def tempo_event(bpm: float, delta: int = 0) -> bytes:
    return meta_event(TEMPO, round(MICROSECONDS_PER_MINUTE / bpm).to_bytes(3, "big"), delta)


def time_signature_event(numerator: int, denominator: int, delta: int = 0) -> bytes:
    # The denominator is stored as a power of two; then MIDI clocks per click and 32nds per quarter.
    return meta_event(TIME_SIGNATURE, bytes([numerator, denominator.bit_length() - 1, 24, 8]), delta)


def track_chunk(events: bytes) -> bytes:
    events += meta_event(END_OF_TRACK, b"")
    return b"MTrk" + struct.pack(">I", len(events)) + events


def midi_file(tracks: list[bytes], ticks_per_quarter: int = TICKS_PER_QUARTER) -> bytes:
    """Format 1 (tracks played together) with the given track chunks."""
    header = b"MThd" + struct.pack(">IHHH", 6, 1, len(tracks), ticks_per_quarter)
    return header + b"".join(tracks)


def melody_events(chords: list[list[int]], channel: int = PIANO_CHANNEL, quarters_each: float = 0.5,
                  bpm_changes: dict | None = None) -> bytes:
    """Note events: each inner list sounds together for `quarters_each`, one after another.

    bpm_changes maps a step number to a new tempo that starts there.
    """
    ticks = round(quarters_each * TICKS_PER_QUARTER)
    events = b""
    for step, pitches in enumerate(chords):
        if bpm_changes and step in bpm_changes:
            events += tempo_event(bpm_changes[step])
        for pitch in pitches:
            events += variable_length(0) + bytes([NOTE_ON | channel, pitch, LOUD_ENOUGH])
        for number, pitch in enumerate(pitches):
            events += variable_length(ticks if number == 0 else 0) + bytes([NOTE_OFF | channel, pitch, 0])
    return events


def scale_piece(repeats: int = 3, transpose: int = 0) -> list[list[int]]:
    """The scale `repeats` times, a triad every fourth step."""
    steps = []
    for _ in range(repeats):
        for step, pitch in enumerate(SCALE):
            pitch += transpose
            steps.append([pitch, pitch + 4, pitch + 7] if step % 4 == 0 else [pitch])
    return steps


def good_midi(repeats: int = 3, transpose: int = 0, numerator: int = 4, denominator: int = 4,
              bpm_changes: dict | None = None) -> bytes:
    """A readable piano piece: a tempo/meter track and a note track."""
    conductor = track_chunk(tempo_event(120) + time_signature_event(numerator, denominator))
    notes = track_chunk(melody_events(scale_piece(repeats, transpose), bpm_changes=bpm_changes))
    return midi_file([conductor, notes])


def drums_only_midi() -> bytes:
    """Notes only on the percussion channel: sounds, but no pitches to learn."""
    return midi_file([track_chunk(tempo_event(120) + melody_events([[36], [38], [42], [38]] * 4, DRUM_CHANNEL))])


def no_notes_midi() -> bytes:
    """A valid file that holds only a tempo and a meter."""
    return midi_file([track_chunk(tempo_event(120) + time_signature_event(4, 4))])


def endless_note_midi(quarters: int = 1_000_000) -> bytes:
    """One note held for `quarters` quarter notes: what a damaged delta time looks like."""
    held = (variable_length(0) + bytes([NOTE_ON | PIANO_CHANNEL, 60, LOUD_ENOUGH])
            + variable_length(quarters * TICKS_PER_QUARTER) + bytes([NOTE_OFF | PIANO_CHANNEL, 60, 0]))
    return midi_file([track_chunk(tempo_event(120)), track_chunk(held)])


def zero_ticks_midi() -> bytes:
    """A good file whose header says a quarter note lasts 0 ticks."""
    return midi_file([track_chunk(melody_events(scale_piece(1)))], ticks_per_quarter=0)


def truncated_midi() -> bytes:
    """A good file cut off in the middle of its note track: the chunk claims more bytes than there are."""
    whole = good_midi()
    return whole[: len(whole) * 2 // 3]


# Each bad case: file name -> its bytes. Every one of them must be skipped.
BAD_FILES = {
    "endless_note.mid": endless_note_midi(),
    "zero_ticks_per_quarter.mid": zero_ticks_midi(),
    "corrupt_bytes.mid": bytes(range(256)) * 4,
    "text_named_midi.mid": b"This is a shopping list, not music.\nMilk\nBread\n",
    "zero_length.mid": b"",
    "truncated_track.mid": truncated_midi(),
    "only_drums.mid": drums_only_midi(),
    "no_notes.mid": no_notes_midi(),
}

# Long enough (about 170 tokens each) that an epoch of training on them takes
# a few seconds, so that a test can stop training in the middle of one.
GOOD_PIECE_REPEATS = 12

# Each good case: file name -> its bytes. Every one of them must be read.
GOOD_FILES = {
    "scale_in_four.mid": good_midi(GOOD_PIECE_REPEATS),
    "seven_eight.midi": good_midi(GOOD_PIECE_REPEATS, transpose=2, numerator=7, denominator=8),
    "five_four.MID": good_midi(GOOD_PIECE_REPEATS, transpose=-3, numerator=5, denominator=4),
    "tempo_changes.mid": good_midi(GOOD_PIECE_REPEATS, transpose=5, bpm_changes={5: 80, 17: 160, 30: 96}),
}

# Not MIDI by name: must be ignored, neither read nor reported.
IGNORED_FILES = {
    "README.txt": b"Pieces for the test.\n",
    "cover.png": b"\x89PNG\r\n\x1a\n",
}


def write_files(folder: Path, files: dict) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, content in files.items():
        (folder / name).write_bytes(content)
    return folder


def write_fixture_folder(folder: Path) -> Path:
    """Every good, bad and ignored file in one folder."""
    return write_files(folder, {**GOOD_FILES, **BAD_FILES, **IGNORED_FILES})
