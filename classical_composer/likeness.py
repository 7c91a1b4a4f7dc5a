"""How real the music sounds: songs against real pieces, feature by feature.

    python -m classical_composer.likeness --weights weights/events --composer bach
    python -m classical_composer.likeness --weights weights/events --songs 8 --json likeness.json

In:  a bundle; for each composer asked, the composer's held-out pieces (the
     reference) and three sets to compare with them: the composer's training
     pieces (other real music: the ceiling), N songs of the network, and N
     songs of the bundle's Kneser-Ney trigram (counting: the baseline).
Out: a printed table (and with --json a file): for each compared set the
     overlapping area of eleven features and their mean, 1 when the set is as
     close to the reference as real pieces are to each other; and the red
     flags a listener hears first, beside the reference's own.

The method is Yang and Lerch's ("On the evaluation of generative models in
music", 2018):

1. Every piece becomes the notes it sounds, (start, end, pitch) in quarter
   notes, whatever its representation (note tokens or performance events).
2. Every piece is cut into consecutive segments of equal length (32 quarter
   notes by default), because pitch count and range grow with the stretch
   they are counted over. A note is cut to the part of it that sounds in the
   segment; a last, shorter segment is dropped, and so a piece shorter than
   one segment gives none (its red flags still count).
3. Eleven features describe each segment (FEATURES below).
4. For each feature, the distances among the reference's segments (every
   pair once, a segment never with itself) say how much real pieces differ
   from each other; the distances from each compared segment to each
   reference segment say how much the compared set differs from them.
5. Each list of distances is smoothed into a density by a Gaussian kernel
   whose width follows Silverman's rule; the overlapping area of the two
   densities is the integral of the smaller of the two: 1 when the compared
   set cannot be told from the reference, 0 when they have nothing in common.

The red flags are taken over whole pieces: the longest sounding note, the
longest silence, and the most notes sounding at once.
"""

import argparse
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import NamedTuple

import numpy as np

from classical_composer.cli import HelpWithDefaults, UserError, check_bundle_folder, quiet_tensorflow, run
from classical_composer.tokens import PITCH_CLASSES

# --- Pieces as sounding notes ---------------------------------------------------


class Note(NamedTuple):
    start: float  # in quarter notes from the start of the piece
    end: float  # when it stops sounding, in quarter notes
    pitch: int  # MIDI pitch; 60 is middle C


class Piece(NamedTuple):
    notes: list[Note]  # by start, then pitch
    quarters: float  # how long the piece lasts, a silence at its end included


def piece_of(representation, token_list: Iterable[str]) -> Piece:
    """Tokens -> the notes they sound, as their representation writes them to MIDI."""
    notes, quarters = representation.notes_sounded(token_list)
    return Piece([Note(*played) for played in notes], quarters)


def pieces_of(bundle, index_pieces: list) -> list[Piece]:
    """Pieces of token indices of this bundle -> the notes each sounds."""
    return [piece_of(bundle.representation, bundle.vocabulary.decode(indices)) for indices in index_pieces]


# --- Features of a segment ------------------------------------------------------

# The note-length histogram's bins, in quarter notes: each holds the lengths up to
# its edge and above the previous one; the last holds everything longer than a whole note.
NOTE_LENGTH_EDGES = (0.25, 0.5, 1.0, 2.0, 4.0)
NOTE_LENGTH_BINS = ("<= 1/16", "<= 1/8", "<= 1/4", "<= 1/2", "<= whole", "longer")

# Every feature, in the order of the table, with its column heading.
FEATURES = {
    "pitch_count": "pitches",  # distinct MIDI pitches sounding in the segment
    "pitch_class_histogram": "pc hist",  # (12,) each pitch class's share of the notes sounding
    "pitch_class_transitions": "pc move",  # (12, 12) shares of the pitch-class steps from onset to onset
    "pitch_range": "range",  # highest minus lowest pitch sounding, in semitones
    "mean_interval": "interval",  # mean absolute step in semitones from onset to onset
    "onsets_per_quarter": "onset/q",  # moments at which something is struck, per quarter note
    "mean_inter_onset_interval": "ioi",  # mean time from one such moment to the next, in quarter notes
    "note_length_histogram": "lengths",  # (6,) shares of the notes struck in each NOTE_LENGTH_BINS bin
    "mean_polyphony": "poly",  # notes sounding, averaged over the segment's time
    "longest_note": "longest",  # the longest note, as cut to the segment, in quarter notes
    "longest_silence": "silence",  # the longest stretch with nothing sounding, in quarter notes
}


def longest_gap(starts: np.ndarray, ends: np.ndarray, span_start: float, span_end: float) -> float:
    """The longest stretch of [span_start, span_end] that no interval covers."""
    longest, covered_until = 0.0, span_start
    for start, end in sorted(zip(starts.tolist(), ends.tolist())):
        longest = max(longest, start - covered_until)
        covered_until = max(covered_until, end)
    return max(longest, span_end - covered_until)


def consecutive_onset_pairs(onset_times: np.ndarray, struck_pitches: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Every pitch struck at one onset, paired with every pitch struck at the next: (earlier pitches, later pitches).

    An onset is a moment at which at least one note starts; notes struck
    together are one onset, so a chord moving to a chord gives every pair.
    """
    moments = np.unique(onset_times)
    struck_at = [struck_pitches[onset_times == moment] for moment in moments]
    earlier, later = [np.zeros(0, int)], [np.zeros(0, int)]
    for before, after in zip(struck_at, struck_at[1:]):
        earlier.append(np.repeat(before, len(after)))
        later.append(np.tile(after, len(before)))
    return np.concatenate(earlier), np.concatenate(later)


def shares(counts: np.ndarray) -> np.ndarray:
    """Counts -> shares that sum to 1; all zero when nothing was counted."""
    total = counts.sum()
    return counts / total if total else counts.astype(float)


def segment_features(notes: np.ndarray, segment_start: float, segment_quarters: float) -> dict[str, np.ndarray]:
    """The eleven FEATURES of one segment of a piece, each a flat float array.

    notes: (notes, 3) start, end and pitch of every note of the piece.
    The notes sounding in the segment are cut to it; onsets, intervals and
    note lengths are those of the notes struck in it, at their full length.
    """
    segment_end = segment_start + segment_quarters
    starts, ends, pitches = notes[:, 0], notes[:, 1], notes[:, 2].astype(int)
    sounding = (starts < segment_end) & (ends > segment_start)
    cut_starts, cut_ends = np.maximum(starts[sounding], segment_start), np.minimum(ends[sounding], segment_end)
    sounding_pitches = pitches[sounding]
    struck = (starts >= segment_start) & (starts < segment_end)
    onset_times, struck_pitches, struck_lengths = starts[struck], pitches[struck], (ends - starts)[struck]

    moments = np.unique(onset_times)
    earlier, later = consecutive_onset_pairs(onset_times, struck_pitches)
    transitions = np.zeros((PITCH_CLASSES, PITCH_CLASSES))
    np.add.at(transitions, (earlier % PITCH_CLASSES, later % PITCH_CLASSES), 1)
    length_bins = np.searchsorted(NOTE_LENGTH_EDGES, struck_lengths, side="left")  # "up to the edge"
    has_sound = len(sounding_pitches) > 0
    features = {
        "pitch_count": len(np.unique(sounding_pitches)),
        "pitch_class_histogram": shares(np.bincount(sounding_pitches % PITCH_CLASSES, minlength=PITCH_CLASSES)),
        "pitch_class_transitions": shares(transitions),
        "pitch_range": sounding_pitches.max() - sounding_pitches.min() if has_sound else 0,
        "mean_interval": np.abs(later - earlier).mean() if len(earlier) else 0.0,
        "onsets_per_quarter": len(moments) / segment_quarters,
        # With fewer than two onsets nothing is struck again within the segment: the gap is as long as it can be.
        "mean_inter_onset_interval": np.diff(moments).mean() if len(moments) > 1 else segment_quarters,
        "note_length_histogram": shares(np.bincount(length_bins, minlength=len(NOTE_LENGTH_BINS))),
        "mean_polyphony": (cut_ends - cut_starts).sum() / segment_quarters,
        "longest_note": (cut_ends - cut_starts).max() if has_sound else 0.0,
        "longest_silence": longest_gap(cut_starts, cut_ends, segment_start, segment_end),
    }
    return {name: np.atleast_1d(np.asarray(value, dtype=float)).ravel() for name, value in features.items()}


def notes_array(piece: Piece) -> np.ndarray:
    """(notes, 3): start, end and pitch of every note."""
    return np.array(piece.notes, dtype=float).reshape(-1, 3)


def set_features(pieces: list[Piece], segment_quarters: float) -> dict[str, np.ndarray]:
    """The features of every whole segment of every piece: {feature: (segments, values)}."""
    per_segment = []
    for piece in pieces:
        notes = notes_array(piece)
        whole_segments = int(piece.quarters // segment_quarters)
        per_segment += [segment_features(notes, number * segment_quarters, segment_quarters)
                        for number in range(whole_segments)]
    empty = segment_features(np.zeros((0, 3)), 0.0, segment_quarters)  # only its sizes matter
    return {name: np.array([features[name] for features in per_segment]).reshape(len(per_segment), empty[name].size)
            for name in FEATURES}


# --- Red flags ------------------------------------------------------------------


def most_sounding_at_once(starts: np.ndarray, ends: np.ndarray) -> int:
    """The most notes sounding at one moment; a note ending as another starts does not overlap it."""
    changes = sorted([(end, -1) for end in ends.tolist()] + [(start, +1) for start in starts.tolist()])
    return int(max(np.cumsum([change for _, change in changes]), default=0))


def red_flags(pieces: list[Piece]) -> dict[str, float]:
    """What a listener hears first, the worst of the set: the longest note, the longest silence, most notes at once."""
    flags = {"longest_note": 0.0, "longest_silence": 0.0, "most_at_once": 0}
    for piece in pieces:
        notes = notes_array(piece)
        starts, ends = notes[:, 0], notes[:, 1]
        flags["longest_note"] = max(flags["longest_note"], float((ends - starts).max(initial=0.0)))
        flags["longest_silence"] = max(flags["longest_silence"], longest_gap(starts, ends, 0.0, piece.quarters))
        flags["most_at_once"] = max(flags["most_at_once"], most_sounding_at_once(starts, ends))
    return flags


# --- Distances and their overlapping area ---------------------------------------------


def intra_set_distances(reference: np.ndarray) -> np.ndarray:
    """(segments, values) -> the Euclidean distance of every pair of segments, each pair once."""
    return np.concatenate([np.zeros(0)] + [np.linalg.norm(reference[number + 1 :] - segment, axis=1)
                                           for number, segment in enumerate(reference)])


def inter_set_distances(compared: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """The Euclidean distance from each compared segment to each reference segment: (compared * reference,)."""
    return np.concatenate([np.zeros(0)] + [np.linalg.norm(reference - segment, axis=1) for segment in compared])


def silverman_bandwidth(values: np.ndarray) -> float:
    """Silverman's rule of thumb: 0.9 * min(standard deviation, interquartile range / 1.34) * n ** (-1/5).

    Where the quartiles coincide (many equal values) the standard deviation
    alone is used; 0 when all values are equal.
    """
    if len(values) < 2:
        return 0.0
    spread = float(np.std(values, ddof=1))
    quartile_spread = float(np.subtract(*np.percentile(values, [75, 25])))
    if quartile_spread > 0:
        spread = min(spread, quartile_spread / 1.34)
    return 0.9 * spread * len(values) ** -0.2


KERNEL_REACH = 4  # bandwidths; a Gaussian holds all but 0.006 % of its mass within 4 standard deviations
GRID_STEPS_PER_BANDWIDTH = 20  # the grid's fineness, against the narrower of the two kernels
FEWEST_GRID_POINTS = 2001
MOST_GRID_POINTS = 200_001  # where one density is far narrower than the span, its kernel gets fewer steps


def kernel_density_on_grid(values: np.ndarray, bandwidth: float, grid: np.ndarray) -> np.ndarray:
    """A Gaussian kernel density of the values, on an evenly spaced grid that reaches KERNEL_REACH bandwidths past them.

    Each value is first shared between its two nearest grid points (the nearer
    gets more), then the counts are smoothed with the kernel, so that a hundred
    thousand distances cost no more than a hundred. The density sums to
    1 / grid step, so its integral is 1.
    """
    step = grid[1] - grid[0]
    position = (values - grid[0]) / step  # in grid steps from the first point
    below = np.minimum(np.floor(position).astype(int), len(grid) - 2)
    above_share = position - below
    counts = (np.bincount(below, weights=1 - above_share, minlength=len(grid))
              + np.bincount(below + 1, weights=above_share, minlength=len(grid)))
    reach = int(np.ceil(KERNEL_REACH * bandwidth / step))
    offsets = np.arange(-reach, reach + 1) * step
    kernel = np.exp(-0.5 * (offsets / bandwidth) ** 2)
    return np.convolve(counts, kernel / kernel.sum(), mode="same") / (len(values) * step)


def overlapping_area(first: np.ndarray, second: np.ndarray) -> float:
    """The area under both Gaussian kernel densities of two lists of distances: 1 = the same, 0 = nothing shared.

    Both densities are evaluated on one grid that spans both lists. A list
    whose values are all equal has no spread of its own: it borrows the other
    list's bandwidth, so that a compared set that always lies at one distance
    is judged by how typical that distance is. If both lists are all one value,
    the area is 1 where the values are equal and 0 where they differ.
    """
    first, second = np.asarray(first, dtype=float), np.asarray(second, dtype=float)
    if not len(first) or not len(second):
        raise ValueError("an overlapping area needs at least one distance on each side")
    first_bandwidth, second_bandwidth = silverman_bandwidth(first), silverman_bandwidth(second)
    if first_bandwidth == 0 and second_bandwidth == 0:
        return float(np.isclose(first[0], second[0]))
    first_bandwidth, second_bandwidth = first_bandwidth or second_bandwidth, second_bandwidth or first_bandwidth
    lowest = min(first.min(), second.min()) - KERNEL_REACH * max(first_bandwidth, second_bandwidth)
    highest = max(first.max(), second.max()) + KERNEL_REACH * max(first_bandwidth, second_bandwidth)
    narrower = min(first_bandwidth, second_bandwidth)
    points = int(np.clip(np.ceil((highest - lowest) / narrower * GRID_STEPS_PER_BANDWIDTH) + 1,
                         FEWEST_GRID_POINTS, MOST_GRID_POINTS))
    grid = np.linspace(lowest, highest, points)
    smaller = np.minimum(kernel_density_on_grid(first, first_bandwidth, grid),
                         kernel_density_on_grid(second, second_bandwidth, grid))
    return float(smaller.sum() * (grid[1] - grid[0]))


def overlapping_areas(reference: dict[str, np.ndarray], compared: dict[str, np.ndarray]) -> dict[str, float]:
    """{feature: overlapping area of the intra-set distances of the reference and the compared set's distances to it}.

    Both are set_features results; the reference needs at least two segments.
    A compared set without a single whole segment has no areas: NaN.
    """
    if len(next(iter(reference.values()))) < 2:
        raise ValueError("the reference set needs at least two segments to compare its segments with each other")
    if not len(next(iter(compared.values()))):
        return {name: float("nan") for name in FEATURES}
    return {name: overlapping_area(intra_set_distances(reference[name]),
                                   inter_set_distances(compared[name], reference[name]))
            for name in FEATURES}


def mean_area(areas: dict[str, float]) -> float:
    return float(np.mean(list(areas.values())))


# --- Songs to compare ----------------------------------------------------------------


class CountModelReader:
    """A count model asked for the next token as predict.compose asks a network (see predict.WindowRereader)."""

    def __init__(self, count_model):
        self.count_model = count_model

    def start(self, windows: np.ndarray) -> np.ndarray:
        self.contexts = [[int(index) for index in window] for window in windows]
        return self.read()

    def after(self, chosen: np.ndarray) -> np.ndarray:
        for context, index in zip(self.contexts, chosen):
            context.append(int(index))
        return self.read()

    def read(self) -> np.ndarray:
        return np.stack([self.count_model.probabilities(context) for context in self.contexts])


def count_model_song(count_model, start_window: np.ndarray, num_notes: int, top_k: int,
                     random: np.random.Generator, ending: tuple) -> np.ndarray:
    """`num_notes` token indices sampled from a count model after a start window, as the network's are sampled.

    ending: predict.song_rules' (end index, rules), the same for both: a song
    of performance events ends at End, and its notes keep the rules.
    """
    from classical_composer.predict import compose

    end_index, rules = ending
    return compose(CountModelReader(count_model), start_window[np.newaxis], num_notes, top_k, 1.0, random,
                   end_index, rules)[0]


def composed_songs(bundle, composer: int | None, count_model, songs: int, num_notes: int,
                   top_k: int, key_rules: bool = False, limit_note_lengths: bool = True) -> tuple[list, list]:
    """Songs of the network and of the count model, seeds 1 to `songs`, each pair from the same seed window.

    A song is what predict.py --seed writes: the composed tokens, without the
    seed window, which is real music taken from a training piece.
    key_rules, limit_note_lengths: the rules both sample under (predict.song_rules); by default
    those predict.py samples under.
    Returns (network songs, count model songs), each a list of token index arrays.
    """
    from classical_composer.predict import compose_songs, song_rules

    ending = song_rules(bundle, composer, key_rules, limit_note_lengths)  # start() resets the rules for each song
    network_songs, count_songs = [], []
    for seed in range(1, songs + 1):
        try:
            starts, composed = compose_songs(bundle, composer, num_songs=1, num_notes=num_notes, top_k=top_k,
                                             seed=seed, ending=ending)
        except ValueError as error:  # no training piece as long as a seed window
            raise UserError(f"the bundle cannot seed generation: {error}") from None
        network_songs.append(composed[0])
        count_songs.append(count_model_song(count_model, starts[0], num_notes, top_k, np.random.default_rng(seed),
                                            ending))
    return network_songs, count_songs


# --- The comparison for one composer ------------------------------------------------

MIN_HELD_OUT_PIECES = 5  # fewer real pieces say too little about how real pieces differ from each other


def chosen_composers(bundle, names: list[str] | None) -> list[int | None]:
    """The composer numbers to compare: those named, or every one with MIN_HELD_OUT_PIECES held-out pieces.

    [None] for a bundle trained without --composers: all its pieces are one set.
    """
    if not bundle.settings.composers:
        if names:
            raise UserError("this bundle was trained without --composers, so it cannot be asked for a composer; "
                            "leave out --composer")
        if len(bundle.validation_pieces) < MIN_HELD_OUT_PIECES:
            raise UserError(f"the bundle holds out {len(bundle.validation_pieces)} pieces and the comparison needs "
                            f"at least {MIN_HELD_OUT_PIECES}; train it with a larger --validation-split")
        return [None]
    held_out = np.bincount(bundle.validation_composers, minlength=len(bundle.composers))
    enough = [number for number, count in enumerate(held_out) if count >= MIN_HELD_OUT_PIECES]
    choices = ", ".join(bundle.composers[number] for number in enough)
    if not names:
        if not enough:
            raise UserError(f"no composer of the bundle has {MIN_HELD_OUT_PIECES} held-out pieces, "
                            f"so there is no real music to compare with")
        return enough
    numbers = []
    for name in dict.fromkeys(names):  # each once, in the order asked
        if name not in bundle.composers:
            raise UserError(f"the bundle knows no composer '{name}'; choose one of: {choices}")
        number = bundle.composers.index(name)
        if held_out[number] < MIN_HELD_OUT_PIECES:
            raise UserError(f"the bundle holds out {held_out[number]} pieces of {name} and the comparison needs at "
                            f"least {MIN_HELD_OUT_PIECES}; choose one of: {choices}")
        numbers.append(number)
    return numbers


def pieces_by_composer(pieces: list, piece_composers, composer: int | None) -> list:
    if composer is None:
        return pieces
    return [piece for piece, number in zip(pieces, piece_composers) if number == composer]


def compare_with_held_out(bundle, composer: int | None, count_model, songs: int, num_notes: int, top_k: int,
                          segment_quarters: float, key_rules: bool = False, limit_note_lengths: bool = True) -> dict:
    """The likeness of the composer's training pieces, network songs and count-model songs to their held-out pieces."""
    name = "all pieces" if composer is None else bundle.composers[composer]
    held_out = pieces_of(bundle, pieces_by_composer(bundle.validation_pieces, bundle.validation_composers, composer))
    reference = set_features(held_out, segment_quarters)
    segments = len(reference["pitch_count"])
    print(f"{name}: {len(held_out)} held-out pieces, {segments} segments of {segment_quarters:g} quarter notes")
    if segments < 2:
        raise UserError(f"the held-out pieces of {name} give {segments} whole segments of {segment_quarters:g} "
                        f"quarter notes and the comparison needs two; lower --segment-quarters")

    training = pieces_by_composer(bundle.training_pieces, bundle.training_composers, composer)
    print(f"  composing with the network and with the trigram, top-{top_k}, seeds 1 to {songs}: "
          f"{num_notes} tokens a song")
    network_songs, count_songs = composed_songs(bundle, composer, count_model, songs, num_notes, top_k, key_rules,
                                                limit_note_lengths)
    compared_sets = {"other real pieces": pieces_of(bundle, training),
                     "network": pieces_of(bundle, network_songs),
                     "trigram": pieces_of(bundle, count_songs)}
    rows = [{"set": "held-out pieces", "pieces": len(held_out), "segments": segments, "red_flags": red_flags(held_out)}]
    for set_name, pieces in compared_sets.items():
        features = set_features(pieces, segment_quarters)
        if not len(features["pitch_count"]):
            longest = max((piece.quarters for piece in pieces), default=0.0)
            print(f"  {set_name}: the longest piece lasts {longest:.1f} quarter notes, less than one segment, so it "
                  f"has no areas; compose longer songs (--num-notes) or shorten --segment-quarters")
        areas = overlapping_areas(reference, features)
        rows.append({"set": set_name, "pieces": len(pieces), "segments": len(features["pitch_count"]),
                     "mean_area": mean_area(areas), "areas": areas, "red_flags": red_flags(pieces)})
    return {"composer": name, "rows": rows}


# --- The table ------------------------------------------------------------------------

RED_FLAG_HEADINGS = {"longest_note": "longest note", "longest_silence": "longest silence",
                     "most_at_once": "most at once"}


def area_cell(area: float, width: int) -> str:
    return f" {area:>{width}.2f}" if np.isfinite(area) else f" {'n/a':>{width}}"


def format_comparison(comparison: dict, segment_quarters: float) -> str:
    """One composer's comparison as two small tables: overlapping areas, then red flags."""
    label_width, area_width, flag_width = 24, 8, 16
    lines = [f"\n{comparison['composer']}: overlapping area with the held-out pieces' own distances, "
             f"on segments of {segment_quarters:g} quarter notes (1 = indistinguishable)",
             f"{'compared set (pieces)':<{label_width}} {'segments':>{area_width}} {'mean':>{area_width}}"
             + "".join(f" {heading:>{area_width}}" for heading in FEATURES.values())]
    for row in comparison["rows"][1:]:  # the first row is the reference itself
        label = f"{row['set']} ({row['pieces']})"
        lines.append(f"{label:<{label_width}} {row['segments']:>{area_width}}" + area_cell(row["mean_area"], area_width)
                     + "".join(area_cell(area, area_width) for area in row["areas"].values()))
    lines += [f"\n{comparison['composer']}: red flags over whole pieces, the worst of each set "
              f"(notes and silences in quarter notes)",
              f"{'set (pieces)':<{label_width}}" + "".join(f" {heading:>{flag_width}}"
                                                          for heading in RED_FLAG_HEADINGS.values())]
    for row in comparison["rows"]:
        flags, label = row["red_flags"], f"{row['set']} ({row['pieces']})"
        lines.append(f"{label:<{label_width}} {flags['longest_note']:>{flag_width}.2f}"
                     f" {flags['longest_silence']:>{flag_width}.2f} {flags['most_at_once']:>{flag_width}d}")
    return "\n".join(lines)


LEGEND = ("pitches: distinct pitches; pc hist: pitch-class shares; pc move: pitch-class steps from onset to onset; "
          "range: pitch range; interval: mean step from onset to onset; onset/q: onsets per quarter note; "
          "ioi: mean time between onsets; lengths: note-length shares; poly: notes sounding on average; "
          "longest: longest note; silence: longest silence")


# --- The command line -------------------------------------------------------------------


def parse_arguments(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m classical_composer.likeness",
        description="How real a bundle's songs sound: its songs, its trigram's songs and other real pieces, each "
                    "compared with a composer's held-out pieces feature by feature (Yang and Lerch, 2018).",
        formatter_class=HelpWithDefaults)
    parser.add_argument("--weights", metavar="FOLDER", default="weights", help="bundle folder written by train.py")
    parser.add_argument("--composer", metavar="NAME", nargs="+", action="extend", default=None,
                        help="the composers to compare, for a bundle trained with --composers (default: every "
                             f"composer with at least {MIN_HELD_OUT_PIECES} held-out pieces)")
    parser.add_argument("--songs", metavar="N", type=int, default=8,
                        help="songs of the network and of the trigram, with the seeds 1 to N")
    parser.add_argument("--num-notes", metavar="N", type=int, default=1000, help="tokens (or events) in each song")
    parser.add_argument("--top-k", metavar="K", type=int, default=7,
                        help="sample among the K most likely tokens, for the network and the trigram alike")
    parser.add_argument("--segment-quarters", metavar="Q", type=float, default=32.0,
                        help="the length of the segments every piece is cut into, in quarter notes")
    parser.add_argument("--key-rules", action="store_true",
                        help="sample performance events striking only keys that are up and releasing only keys "
                        "that are down (predict.song_rules), to measure what the rule is worth")
    parser.add_argument("--free-note-lengths", action="store_true",
                        help="let performance events hold a note as long as sampled, instead of at most as long as "
                        "999 in 1000 of the composer's training notes, to measure what the limit is worth")
    parser.add_argument("--json", metavar="PATH", default=None, help="also write the figures to this JSON file")
    arguments = parser.parse_args(argv)
    if arguments.songs < 1 or arguments.num_notes < 1:
        raise UserError("--songs and --num-notes must be at least 1")
    if arguments.top_k < 0:
        raise UserError("--top-k must be 0 (the whole distribution) or more")
    if not arguments.segment_quarters > 0:
        raise UserError("--segment-quarters must be more than 0")
    return arguments


def main(argv=None) -> None:
    arguments = parse_arguments(argv)
    check_bundle_folder(arguments.weights)
    quiet_tensorflow()
    from classical_composer.bundle import load_bundle, write_json_atomically
    from classical_composer.counting import CountModel

    bundle = load_bundle(Path(arguments.weights))
    if not bundle.validation_pieces:
        raise UserError(f"the bundle in {arguments.weights} records no held-out pieces, so there is no real music "
                        f"to compare with; retrain it with this version of train.py")
    composers = chosen_composers(bundle, arguments.composer)
    count_model = CountModel(3, len(bundle.vocabulary)).fit(bundle.training_pieces)  # the bundle's trigram
    comparisons = []
    for composer in composers:
        comparisons.append(compare_with_held_out(bundle, composer, count_model, arguments.songs, arguments.num_notes,
                                                 arguments.top_k, arguments.segment_quarters,
                                                 arguments.key_rules, not arguments.free_note_lengths))
        print(format_comparison(comparisons[-1], arguments.segment_quarters))
    print(f"\n{LEGEND}")
    if arguments.json:
        figures = {"settings": {name: value for name, value in vars(arguments).items() if name != "json"},
                   "comparisons": comparisons}
        try:
            # JSON has no NaN: a set without a whole segment has null areas.
            write_json_atomically(Path(arguments.json), json_ready(figures))
        except OSError as error:
            raise UserError(f"cannot write {arguments.json} ({error.strerror or error}); choose another --json") from None


def json_ready(value):
    """The figures with NaN as None, which JSON writes as null."""
    if isinstance(value, dict):
        return {key: json_ready(item) for key, item in value.items()}
    if isinstance(value, list):
        return [json_ready(item) for item in value]
    if isinstance(value, float) and not np.isfinite(value):
        return None
    return value


if __name__ == "__main__":
    run(lambda: main(sys.argv[1:]))
