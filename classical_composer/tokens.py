"""The token grammar: the one place that says what a token means.

In:  musical events (what sounds, for how long, how loud).
Out: token strings, and back: `decode(encode(event)) == event` and
     `encode(decode(token)) == token` for every token this module writes.

A token is up to three words separated by single spaces:

    SOUND [LENGTH] [VELOCITY]

SOUND     one of
          - a note: its pitch name with octave, as music21 spells it: "E-4", "F#2"
          - a chord, faithful: its normal-order pitch classes joined by dots: "4.8.11"
            (this is what the original did; the octave of every pitch is lost)
          - a chord with --octave-chords: its pitches with octave, low to high,
            joined by dots: "C2.G2.E-4"
          - a rest, with --rests: "rest"
LENGTH    with --durations: "short" (< 0.75 quarter), "medium" (< 1.5) or "long"
VELOCITY  with --velocities: 31, 59, 81 or 102 (never on a rest: silence has no loudness)

So the faithful vocabulary holds tokens like "E-4" and "4.8.11", and with every
flag on a token reads like "E-4 short 81", "C2.G2.E-4 long 59" or "rest medium".
Each combination is one class for the network, as in the write-up the
improvements come from ("A short 31").
"""

import re
from typing import NamedTuple

# --- Time -----------------------------------------------------------------

# The original spaced every event half a quarter note after the previous one.
STEP_QUARTERS = 0.5

# Three length bins, by the event's quarterLength. Each bin is written back as
# one length, and with --durations the next event starts when this one ends.
LENGTH_BINS = (  # (name, lengths below this upper bound, written length)
    ("short", 0.75, 0.5),
    ("medium", 1.5, 1.0),
    ("long", float("inf"), 2.0),
)
WRITTEN_QUARTERS = {name: written for name, _, written in LENGTH_BINS}

# --- Loudness --------------------------------------------------------------

# Four MIDI velocities, roughly pp, mp, mf and f. Every note goes to the nearest.
VELOCITY_LEVELS = (31, 59, 81, 102)

# --- Sound -----------------------------------------------------------------

REST = "rest"
CHORD_SEPARATOR = "."

# What a SOUND may be, so that decode refuses anything else ("banana").
# A note as music21 spells it: a letter, up to three sharps (#) or flats (-), an octave ("F#2", "E-4", "C-1").
NOTE_NAME = r"[A-G](?:#{1,3}|-{1,3})?-?[0-9]+"
PITCH_CLASSES = 12  # C, C#, ... B: a MIDI pitch's class is its number modulo 12
PITCH_CLASS = r"(?:1[01]|[0-9])"  # 0 to 11: a faithful chord's parts (one alone when its notes are octaves apart)
SOUND = re.compile(rf"{REST}|{PITCH_CLASS}(?:\.{PITCH_CLASS})*|{NOTE_NAME}(?:\.{NOTE_NAME})*")


class NoteEvent(NamedTuple):
    """One step of a piece: what sounds, and optionally its length bin and velocity level."""

    sound: str  # a note, a chord or REST, spelled as in the grammar above
    length: str | None = None  # a LENGTH_BINS name, with --durations
    velocity: int | None = None  # one of VELOCITY_LEVELS, with --velocities


def length_bin(quarter_length: float) -> str:
    """The name of the bin a length in quarter notes falls into."""
    for name, upper_bound, _ in LENGTH_BINS:
        if quarter_length < upper_bound:
            return name
    raise AssertionError("the last bin has no upper bound")


def velocity_level(velocity: int) -> int:
    """The level nearest to a MIDI velocity (ties go to the softer level)."""
    return min(VELOCITY_LEVELS, key=lambda level: abs(level - velocity))


def chord_sound(pitch_names_low_to_high: list[str], pitch_classes: list[int], octave_chords: bool) -> str:
    """Spell a chord: pitch names with octave, or the faithful normal-order pitch classes."""
    parts = pitch_names_low_to_high if octave_chords else [str(pc) for pc in pitch_classes]
    return CHORD_SEPARATOR.join(parts)


def encode(event: NoteEvent) -> str:
    """NoteEvent -> token."""
    words = [event.sound]
    if event.length is not None:
        words.append(event.length)
    if event.velocity is not None:
        words.append(str(event.velocity))
    return " ".join(words)


def decode(token: str) -> NoteEvent:
    """Token -> event. Raises ValueError for a token the grammar cannot produce."""
    sound, *rest = token.split(" ")
    length = velocity = None
    if rest and rest[0] in WRITTEN_QUARTERS:
        length = rest.pop(0)
    if rest and rest[0].isdigit() and int(rest[0]) in VELOCITY_LEVELS and sound != REST:
        velocity = int(rest.pop(0))
    if rest or not sound:
        raise ValueError(f"{token!r} is not a token of this grammar")
    if not SOUND.fullmatch(sound):
        raise ValueError(f"{token!r} is not a token of this grammar: {sound!r} is neither a note (E-4), "
                         f"a chord (4.8.11 or C2.G2.E-4) nor a rest")
    return NoteEvent(sound, length, velocity)


def is_rest(sound: str) -> bool:
    return sound == REST


def pitches_to_play(sound: str) -> list[str | int]:
    """What a sound asks to be played: pitch names, or bare pitch classes for a faithful chord.

    A faithful chord only knows its pitch classes, so the caller plays them in
    music21's default octave (4), as the original did. A rest plays nothing.
    """
    if is_rest(sound):
        return []
    parts = sound.split(CHORD_SEPARATOR)
    return [int(part) if part.isdigit() else part for part in parts]
