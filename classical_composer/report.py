"""Honest statistics of a generated piece: is it varied, and is it copied?

In:  the generated token indices, the vocabulary's tokens, the training
     pieces as token indices (all three are in a bundle), and the tokens'
     representation object (representations.py), which says what an onset is.
Out: a plain dict of figures (`generation_report`, against the training side
     that `training_reference` works out once per bundle), one short printable
     text (`format_report`), and the small pure functions behind each figure.

The figures, and why each is there:

events              how many tokens were generated.
distinct tokens     how many different tokens among them; a handful means the
                    model is stuck in a small corner of its vocabulary.
longest run         the most times one token follows itself in a row; the
                    original's argmax sampling often repeats one note for ever.
rest share          the share of events that are rests (0 without --rests).
pitch range         the lowest and highest pitch that sounds, as MIDI numbers
                    and names. A faithful chord ("0.4.7") knows only pitch
                    classes and is played in octave 4, so it counts as played.
pitch-class distance
                    the total variation distance between the pitch-class
                    histograms of the piece and of the training data: half the
                    sum of the absolute differences of the twelve shares. 0
                    means the same share of C, C#, ... B; 1 means no pitch
                    class in common. Every sounding pitch of every event counts
                    once; rests count nothing.
rhythm distance     (performance events only) the same distance between the
                    histograms of the gaps from one onset to the next, in
                    twelfths of a beat (4 beats and longer in one bin): does
                    the piece move in the note values of the training data?
longest copied stretch
                    the length of the longest run of consecutive generated
                    tokens that appears, in the same order, inside one
                    training piece. A few tokens are common to any two pieces
                    in the same style; a stretch as long as the seed window or
                    longer means the model is reciting a training piece.

With performance events (performance.py) only a note-on sounds (its pitch
counts) and nothing is a rest. Runs, distinct items and copied stretches are
then counted in onsets (the pitches struck together), not events: a run of
waits or a copied stretch of note-offs says nothing about the music.
"""

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from music21 import pitch

from classical_composer import performance
from classical_composer.tokens import PITCH_CLASSES

INDEX_BYTES = 4  # token indices are compared as int32 bytes, see longest_copied_stretch


# --- One figure each -------------------------------------------------------------


def longest_run(sequence: Sequence) -> tuple[int, object]:
    """(length, item) of the longest run of one item repeated back to back; (0, None) when empty."""
    best_length, best_item, run_length = 0, None, 0
    for position, item in enumerate(sequence):
        run_length = run_length + 1 if position and sequence[position - 1] == item else 1
        if run_length > best_length:
            best_length, best_item = run_length, item
    return best_length, best_item


def rest_share(token_list: Sequence[str], representation) -> float:
    """The share of tokens that are rests, in [0, 1]; 0 for no tokens."""
    if not token_list:
        return 0.0
    return sum(representation.is_rest(token) for token in token_list) / len(token_list)


def pitch_range(token_list: Sequence[str], representation) -> tuple[int, int] | None:
    """(lowest, highest) MIDI number that sounds; None when nothing sounds."""
    sounding = [number for token in token_list for number in representation.pitches_struck(token)]
    return (min(sounding), max(sounding)) if sounding else None


def pitch_class_histogram(token_counts: Mapping[str, int], representation) -> np.ndarray:
    """Token -> count, in; the share of each pitch class C..B among all sounding pitches, out: (12,).

    All zeros when nothing sounds. Takes counts rather than a list so that
    60 000 training tokens cost one pass over the vocabulary.
    """
    histogram = np.zeros(PITCH_CLASSES)
    for token, count in token_counts.items():
        for number in representation.pitches_struck(token):
            histogram[number % PITCH_CLASSES] += count
    total = histogram.sum()
    return histogram / total if total else histogram


def onset_gap_histogram(gaps: Sequence[int]) -> np.ndarray:
    """Gaps between onsets in twelfths of a beat, in; the share of each gap, 1/12 to 4 beats and longer, out: (49,)."""
    longest = performance.LONGEST_WAIT_STEPS  # gaps of 4 beats or more share the last bin
    histogram = np.bincount(np.minimum(np.asarray(gaps, dtype=np.int64), longest), minlength=longest + 1).astype(float)
    total = histogram.sum()
    return histogram / total if total else histogram


def total_variation(shares_a: np.ndarray, shares_b: np.ndarray) -> float | None:
    """Half the summed absolute difference of two histograms of shares: 0 = equal, 1 = disjoint.

    None when either histogram is empty (nothing sounds), since there is nothing to compare.
    """
    if not shares_a.sum() or not shares_b.sum():
        return None
    return float(np.abs(shares_a - shares_b).sum() / 2)


def longest_copied_stretch(sequence: Sequence[int], pieces: Sequence[Sequence[int]]) -> int:
    """The length of the longest stretch of `sequence` found verbatim inside one of `pieces`.

    If a stretch of length L is copied, so is every shorter part of it, so
    the answer is found by binary search on L. For one L, every L-token
    stretch of the sequence goes into a set, and every L-token stretch of
    every piece is looked up in it. A stretch is the bytes of its int32
    indices, so Python compares and hashes it in C, exactly (no hash
    collisions can give a false match). With 60 000 training tokens and 500
    generated ones this takes about ten passes of 60 000 look-ups.
    """
    sequence_bytes = np.asarray(sequence, dtype=np.int32).tobytes()
    piece_bytes = [np.asarray(piece, dtype=np.int32).tobytes() for piece in pieces]

    def copied(length: int) -> bool:
        width = length * INDEX_BYTES
        wanted = {sequence_bytes[start : start + width]
                  for start in range(0, len(sequence_bytes) - width + 1, INDEX_BYTES)}
        return any(
            stream[start : start + width] in wanted
            for stream in piece_bytes
            for start in range(0, len(stream) - width + 1, INDEX_BYTES)
        )

    shortest_not_copied, longest_copied = len(sequence) + 1, 0  # copied(0) always holds
    while shortest_not_copied - longest_copied > 1:
        middle = (longest_copied + shortest_not_copied) // 2
        if copied(middle):
            longest_copied = middle
        else:
            shortest_not_copied = middle
    return longest_copied


# --- All figures together -----------------------------------------------------------


def style_histograms(texts_of_pieces: Sequence[Sequence[str]], representation) -> dict:
    """Some pieces' tokens, pooled: {"pitch_classes": (12,) shares, "rhythm": (49,) onset-gap shares or None}.

    The rhythm is there only for a representation that keeps time (performance events).
    """
    counts = Counter(text for texts in texts_of_pieces for text in texts)
    gaps_of_pieces = [representation.onset_gaps(texts) for texts in texts_of_pieces]
    rhythm = None
    if all(gaps is not None for gaps in gaps_of_pieces):
        rhythm = onset_gap_histogram([gap for gaps in gaps_of_pieces for gap in gaps])
    return {"pitch_classes": pitch_class_histogram(counts, representation), "rhythm": rhythm}


@dataclass
class TrainingReference:
    """What every song's report is compared with, worked out once per bundle by `training_reference`."""

    vocabulary_tokens: Sequence[str]
    representation: object  # the tokens' representation object (representations.py)
    style: dict  # style_histograms of the training pieces
    pieces: list  # the training pieces as copying is looked for in them: one number per onset
    onset_numbers: dict  # onset -> its number in `pieces`

    @property
    def unit(self) -> str:
        return self.representation.report_unit


def training_reference(vocabulary_tokens: Sequence[str], training_pieces: Sequence[Sequence[int]],
                       representation) -> TrainingReference:
    """The training pieces (token indices) as generation_report compares songs with them."""
    texts_of_pieces = [[vocabulary_tokens[int(index)] for index in piece] for piece in training_pieces]
    style = style_histograms(texts_of_pieces, representation)
    onset_numbers = {}
    pieces = [[onset_numbers.setdefault(onset, len(onset_numbers)) for onset in representation.onsets(texts)]
              for texts in texts_of_pieces]
    return TrainingReference(vocabulary_tokens, representation, style, pieces, onset_numbers)


def generation_report(generated: Sequence[int], reference: TrainingReference) -> dict:
    """Generated token indices -> a JSON-ready dict of every figure described at the top.

    "unit" says what the variety, run and copying figures count: "tokens", or
    "onsets" for performance events (their names keep "token" for both).
    """
    representation = reference.representation
    token_list = [reference.vocabulary_tokens[int(index)] for index in generated]
    lowest_highest = pitch_range(token_list, representation)
    song_style = style_histograms([token_list], representation)
    items = representation.onsets(token_list)
    never_in_training = len(reference.onset_numbers)  # a number no training onset has: it is never copied
    copied = longest_copied_stretch([reference.onset_numbers.get(onset, never_in_training) for onset in items],
                                    reference.pieces)
    rhythm_distance = None
    if song_style["rhythm"] is not None:  # a representation that keeps time
        rhythm_distance = total_variation(song_style["rhythm"], reference.style["rhythm"])
    run_length, run_item = longest_run(items)
    return {
        "events": len(token_list),
        "unit": reference.unit,
        "distinct_tokens": len(set(items)),
        "longest_run": run_length,
        "longest_run_token": None if run_item is None else representation.onset_text(run_item),
        "rest_share": rest_share(token_list, representation),
        "lowest_pitch": lowest_highest and pitch_figure(lowest_highest[0]),
        "highest_pitch": lowest_highest and pitch_figure(lowest_highest[1]),
        "pitch_class_distance": total_variation(song_style["pitch_classes"], reference.style["pitch_classes"]),
        "rhythm_distance": rhythm_distance,
        "longest_copied_stretch": copied,
    }


def pitch_figure(midi_number: int) -> dict:
    return {"midi": midi_number, "name": pitch.Pitch(midi=midi_number).nameWithOctave}


def format_report(report: dict) -> str:
    """The report as two short lines for the terminal."""
    if report["lowest_pitch"]:
        pitches = f"pitches {report['lowest_pitch']['name']} to {report['highest_pitch']['name']}"
    else:
        pitches = "no pitches"
    distance = report["pitch_class_distance"]
    distance_text = "n/a" if distance is None else f"{distance:.3f}"
    unit = report["unit"]
    rhythm = "" if report["rhythm_distance"] is None else f", rhythm distance {report['rhythm_distance']:.3f}"
    return (
        f"  {report['events']} events, {report['distinct_tokens']} distinct {unit}, longest run "
        f"{report['longest_run']} x '{report['longest_run_token']}', {report['rest_share']:.1%} rests, {pitches}\n"
        f"  against the training data: pitch-class distance {distance_text}{rhythm} (total variation: 0 = same "
        f"shares, 1 = none shared), longest stretch copied from a training piece: {report['longest_copied_stretch']} {unit}"
    )
