"""The parts of a token, as one fixed matrix the network can learn from.

In:  the vocabulary's tokens (strings of the grammar in tokens.py).
Out: `TokenParts`: the names of every part that occurs, and a matrix of
     shape (tokens, parts) whose row for a token says which parts it has.

Why: with every encoding flag on, each combination of sound, length and
loudness is its own class, and most classes are rare. "C3.E3.G3 long 81"
and "C3.E3.G3 medium 81" share a chord and a loudness, but a network that
knows each token only by its number cannot use what it learned about one
for the other. Splitting tokens into parts lets it:

    "C3.E3.G3 long 81"  ->  pitch C3, pitch E3, pitch G3,
                            pitch class 0, pitch class 4, pitch class 7,
                            size 3, length long, velocity 81

A faithful chord ("0.4.7") has no octaves, so only its pitch classes and
size; a note ("E-4") is a one-pitch sound; a rest is the part "rest". The
pitches of a chord share their weight (each 1 / number of pitches), so that
a chord of four notes does not count four times as loud as a single note.

The network (see network.py) multiplies this matrix by learned vectors, one
per part: a token's vector is the weighted sum of its parts' vectors. The
matrix itself is never trained, so a token that never appeared in training
still gets the vectors of parts that did.
"""

from dataclasses import dataclass

import numpy as np
from music21 import pitch

from classical_composer import tokens

MAX_COUNTED_PITCHES = 5  # chords of this many pitches or more share one size part


@dataclass
class TokenParts:
    names: list[str]  # one name per part, e.g. "pitch E-4", "length long"
    matrix: np.ndarray  # (tokens, parts) float32: how much of each part a token has


def parts_of(token: str) -> dict[str, float]:
    """A token -> {part name: weight}."""
    event = tokens.decode(token)
    parts: dict[str, float] = {}
    if tokens.is_rest(event.sound):
        parts["rest"] = 1.0
    else:
        pitches = tokens.pitches_to_play(event.sound)  # names with octave, or bare pitch classes
        share = 1.0 / len(pitches)
        for played in pitches:
            if isinstance(played, str):
                parts[f"pitch {played}"] = share
                pitch_class = pitch.Pitch(played).pitchClass
            else:
                pitch_class = played
            parts[f"pitch class {pitch_class}"] = parts.get(f"pitch class {pitch_class}", 0.0) + share
        parts[f"size {min(len(pitches), MAX_COUNTED_PITCHES)}"] = 1.0  # pitches sounding at once
    if event.length is not None:
        parts[f"length {event.length}"] = 1.0
    if event.velocity is not None:
        parts[f"velocity {event.velocity}"] = 1.0
    return parts


def token_parts(vocabulary_tokens: list[str]) -> TokenParts:
    """The part matrix of a vocabulary: row i holds the parts of token i."""
    rows = [parts_of(token) for token in vocabulary_tokens]
    names = sorted({name for row in rows for name in row})
    column_of = {name: column for column, name in enumerate(names)}
    matrix = np.zeros((len(rows), len(names)), dtype=np.float32)
    for row_number, row in enumerate(rows):
        for name, weight in row.items():
            matrix[row_number, column_of[name]] = weight
    return TokenParts(names, matrix)
