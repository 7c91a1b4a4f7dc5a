"""The likeness yardstick: hand-made pieces, their notes and features, and overlapping areas worked out by hand.

In:  token lists and note lists written here; the shipped events bundle for the command's refusals.
Out: nothing; these tests fail if tokens sound other notes than the MIDI writers play, a feature
     or a red flag differs from its hand-computed value, or an overlapping area from its own.
"""

import math
import statistics
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from classical_composer import likeness
from classical_composer.likeness import (
    Note, Piece, chosen_composers, overlapping_area, overlapping_areas, piece_of,
    pieces_of, red_flags, set_features, silverman_bandwidth,
)
from classical_composer.performance import PerformanceEvents
from classical_composer.representations import representation_of
from classical_composer.settings import Settings
from script_runs import run_main

EVENTS_WEIGHTS = Path(__file__).resolve().parent.parent / "weights" / "events"


def normal_tail(x: float) -> float:
    """The share of a standard normal distribution above x."""
    return 0.5 * math.erfc(x / math.sqrt(2))


# --- Tokens -> sounding notes ---------------------------------------------------------


def test_performance_events_sound_from_on_to_off_and_unreleased_notes_to_the_end():
    texts = ["Start", "Tempo 120 bpm", "Volume 2",
             "Note 60 On", "Note 64 On", "Wait 1 beat",      # C4 and E4 at 0
             "Note 60 Off", "Note 55 Off", "Wait 1/2 beat",   # C4 ends at 1; G3 was never struck: nothing
             "Note 67 On", "Note 62 On", "Note 62 Off",       # G4 at 1.5; D4 released at once: a twelfth of a beat
             "Wait 1/2 beat", "Note 67 On",                   # G4 struck again at 2: the first G4 ends there
             "Wait 1 beat", "End", "Note 70 On"]              # E4 and the second G4 never released: end at 3
    assert piece_of(PerformanceEvents(), texts) == Piece(
        [Note(0.0, 1.0, 60), Note(0.0, 3.0, 64), Note(1.5, 1.5 + 1 / 12, 62), Note(1.5, 2.0, 67),
         Note(2.0, 3.0, 67)], quarters=3.0)


def test_a_key_struck_twice_at_one_moment_is_one_note_and_a_silent_end_counts():
    texts = ["Note 72 On", "Note 72 On", "Wait 1/4 beat", "Note 72 Off", "Wait 4 beat", "Wait 4 beat"]
    assert piece_of(PerformanceEvents(), texts) == Piece([Note(0.0, 0.25, 72)], quarters=8.25)


def test_note_tokens_sound_one_after_another_as_tokens_to_stream_writes_them():
    token_list = ["C4",                # no length: STEP_QUARTERS (0.5)
                  "E-4 long 81",       # 2 quarter notes
                  "rest medium",       # 1 quarter note of silence
                  "0.4.7 short",       # a faithful chord: pitch classes in octave 4
                  "C2.G2.E-4"]         # a chord with octaves
    assert piece_of(representation_of(Settings()), token_list) == Piece(
        [Note(0.0, 0.5, 60), Note(0.5, 2.5, 63),
         Note(3.5, 4.0, 60), Note(3.5, 4.0, 64), Note(3.5, 4.0, 67),
         Note(4.0, 4.5, 36), Note(4.0, 4.5, 43), Note(4.0, 4.5, 63)], quarters=4.5)


def test_the_bundle_settings_choose_how_tokens_are_read():
    words = ["Note 60 On", "Wait 1 beat", "C4"]
    for representation, expected in (("events", [Note(0.0, 1.0, 60)]), ("notes", [Note(0.0, 0.5, 60)])):
        bundle = SimpleNamespace(representation=representation_of(Settings(representation=representation)),
                                 vocabulary=SimpleNamespace(decode=lambda indices: [words[i] for i in indices]))
        indices = [0, 1] if representation == "events" else [2]
        assert [piece.notes for piece in pieces_of(bundle, [np.array(indices)])] == [expected]


# --- Features and red flags --------------------------------------------------------------

# Two segments of 4 quarter notes, and a quarter note left over that is dropped:
#
#   C4 60  |0-1|                      E4 64  |0-1|
#   G4 67      |1---3|                C5 72          |3----------6|   (crosses into segment 2)
#   D4 62                                                  |7-7.5|     F4 65 |8.75-9| (left over)
HAND_MADE = Piece([Note(0, 1, 60), Note(0, 1, 64), Note(1, 3, 67), Note(3, 6, 72), Note(7, 7.5, 62),
                   Note(8.75, 9, 65)], quarters=9.0)


def test_features_of_a_hand_made_piece_are_the_hand_computed_ones():
    features = set_features([HAND_MADE], segment_quarters=4)
    first, second = ({name: values[segment] for name, values in features.items()} for segment in (0, 1))

    # Segment 1, [0, 4): C4 E4 G4 sound, and C5 for its first quarter (3 to 4).
    assert first["pitch_count"] == [4]
    expected_classes = np.zeros(12)
    expected_classes[[0, 4, 7]] = [2 / 4, 1 / 4, 1 / 4]  # C4 and C5 are both pitch class 0
    np.testing.assert_allclose(first["pitch_class_histogram"], expected_classes)
    # Onsets at 0 {C4, E4}, 1 {G4}, 3 {C5}: steps C->G, E->G, G->C.
    expected_moves = np.zeros((12, 12))
    expected_moves[0, 7] = expected_moves[4, 7] = expected_moves[7, 0] = 1 / 3
    np.testing.assert_allclose(first["pitch_class_transitions"], expected_moves.ravel())
    assert first["pitch_range"] == [12]
    assert first["mean_interval"] == [(7 + 3 + 5) / 3]
    assert first["onsets_per_quarter"] == [3 / 4]
    assert first["mean_inter_onset_interval"] == [(1 + 2) / 2]
    # Full lengths 1, 1, 2 and 3 (C5 is long though cut): two quarters, a half, a whole.
    np.testing.assert_allclose(first["note_length_histogram"], [0, 0, 2 / 4, 1 / 4, 1 / 4, 0])
    assert first["mean_polyphony"] == [(1 + 1 + 2 + 1) / 4]
    assert first["longest_note"] == [2]
    assert first["longest_silence"] == [0]

    # Segment 2, [4, 8): the rest of C5 (4 to 6), then D4 alone; only D4 is struck here.
    assert second["pitch_count"] == [2]
    expected_classes = np.zeros(12)
    expected_classes[[0, 2]] = 1 / 2
    np.testing.assert_allclose(second["pitch_class_histogram"], expected_classes)
    np.testing.assert_allclose(second["pitch_class_transitions"], np.zeros(144))  # one onset: no step
    assert second["pitch_range"] == [10]
    assert second["mean_interval"] == [0]
    assert second["onsets_per_quarter"] == [1 / 4]
    assert second["mean_inter_onset_interval"] == [4]  # nothing struck again: the whole segment
    np.testing.assert_allclose(second["note_length_histogram"], [0, 1, 0, 0, 0, 0])
    assert second["mean_polyphony"] == [(2 + 0.5) / 4]
    assert second["longest_note"] == [2]
    assert second["longest_silence"] == [1]  # 6 to 7


def test_a_piece_shorter_than_a_segment_gives_none():
    assert len(set_features([HAND_MADE], segment_quarters=16)["pitch_count"]) == 0
    assert len(set_features([HAND_MADE], segment_quarters=9)["pitch_count"]) == 1


def test_red_flags_are_taken_over_whole_pieces():
    # C5 lasts 3 quarter notes whole; the silence from 7.5 to 8.75 is the longest; at 1 C4 and E4
    # end as G4 starts, so no more than two notes ever sound at once.
    assert red_flags([HAND_MADE]) == {"longest_note": 3.0, "longest_silence": 1.25, "most_at_once": 2}
    chord_and_gap = Piece([Note(0, 1, 60), Note(0, 1, 64), Note(0, 1, 67)], quarters=5.0)
    assert red_flags([HAND_MADE, chord_and_gap]) == {"longest_note": 3.0, "longest_silence": 4.0, "most_at_once": 3}


# --- Overlapping areas --------------------------------------------------------------------


def test_silverman_bandwidth_by_hand():
    # 0 and 4: standard deviation 2.83, quartiles 1 and 3, so the quartile spread 2 / 1.34 is the smaller.
    assert silverman_bandwidth(np.array([0.0, 4.0])) == pytest.approx(0.9 * (2 / 1.34) * 2 ** -0.2)
    # Quartiles that coincide: the standard deviation alone.
    values = np.array([1.0, 1, 1, 1, 1, 1, 1, 9])
    assert silverman_bandwidth(values) == pytest.approx(0.9 * np.std(values, ddof=1) * 8 ** -0.2)
    assert silverman_bandwidth(np.array([3.0, 3.0])) == 0


def test_degenerate_distances_have_an_area_of_one_or_zero():
    assert overlapping_area([2.0, 2.0, 2.0], [2.0]) == 1
    assert overlapping_area([2.0, 2.0], [3.0, 3.0]) == 0
    assert overlapping_area([0.0, 1.0], [0.0, 1.0]) == pytest.approx(1, abs=1e-4)
    assert overlapping_area([0.0, 1.0], [100.0, 101.0]) == pytest.approx(0, abs=1e-6)
    with pytest.raises(ValueError):
        overlapping_area([], [1.0])


def test_one_value_borrows_the_other_sides_bandwidth():
    # A point at 4 against 0 and 4, both with the bandwidth h of {0, 4}: the densities cross at 2,
    # so the area is the point's tail below 2 plus the pair's mass above 2:
    # P(N(4, h) < 2) + (P(N(0, h) > 2) + P(N(4, h) > 2)) / 2 = 1/2 + P(N(0, 1) > 2 / h).
    bandwidth = 0.9 * (2 / 1.34) * 2 ** -0.2
    expected = 0.5 + normal_tail(2 / bandwidth)
    assert overlapping_area([4.0], [0.0, 4.0]) == pytest.approx(expected, abs=2e-4)


def reference_overlap(first: list, second: list) -> float:
    """The overlapping area worked out directly: each density a sum of Gaussians, integrated on a fine grid."""
    def bandwidth(values):
        quartiles = statistics.quantiles(values, n=4, method="inclusive")
        spread = min(statistics.stdev(values), (quartiles[2] - quartiles[0]) / 1.34)
        return 0.9 * spread * len(values) ** -0.2

    grid = np.linspace(-30, 40, 700_001)

    def density(values):
        width = bandwidth(values)
        return sum(np.exp(-0.5 * ((grid - value) / width) ** 2) for value in values) / (
            len(values) * width * math.sqrt(2 * math.pi))

    smaller = np.minimum(density(first), density(second))
    return float(np.sum((smaller[1:] + smaller[:-1]) / 2) * (grid[1] - grid[0]))


def test_overlapping_area_of_two_made_up_lists_is_that_of_a_direct_integration():
    within, between = [1.0, 2.0, 2.5, 4.0, 4.5], [2.0, 3.0, 3.5, 5.0, 6.0, 8.0]
    expected = reference_overlap(within, between)
    assert 0.3 < expected < 0.9  # a case that is neither of the extremes
    assert overlapping_area(within, between) == pytest.approx(expected, abs=1e-3)


def one_segment(*notes) -> Piece:
    return Piece(list(notes), quarters=4.0)


def test_two_small_made_up_sets_give_the_hand_computed_areas():
    # The reference: one C4 held (range 0, 1 pitch, 1 note sounding), and C4 with E4 (range 4, 2 pitches,
    # 2 sounding). The compared set: one G4 (range 0, 1 pitch, 1 sounding). For pitch range the distance
    # within the reference is 4 and those from the compared set 0 and 4; pitch count and polyphony are
    # the same picture scaled by 1/4, which scales the bandwidths alike: the same area.
    reference = set_features([one_segment(Note(0, 4, 60)), one_segment(Note(0, 4, 60), Note(0, 4, 64))], 4)
    compared = set_features([one_segment(Note(0, 4, 67))], 4)
    bandwidth = 0.9 * (2 / 1.34) * 2 ** -0.2
    areas = overlapping_areas(reference, compared)
    for name in ("pitch_range", "pitch_count", "mean_polyphony"):
        assert areas[name] == pytest.approx(0.5 + normal_tail(2 / bandwidth), abs=2e-4), name
    # Every note is as long as the segment in all three pieces: their lengths cannot be told apart.
    assert areas["longest_note"] == 1


def random_piece(random: np.random.Generator, segments: int, segment_quarters: float) -> Piece:
    """A piece of random notes on a sixteenth-note grid, lasting a whole number of segments."""
    quarters = segments * segment_quarters
    notes = []
    for _ in range(int(quarters * 2)):
        start = random.integers(int(quarters * 4)) / 4
        length = random.choice([0.25, 0.5, 1.0, 1.5, 3.0])
        notes.append(Note(start, min(start + length, quarters), int(random.integers(48, 84))))
    return Piece(sorted(notes, key=lambda played: (played.start, played.pitch)), quarters)


def test_a_set_compared_with_a_copy_of_itself_is_nearly_indistinguishable():
    random = np.random.default_rng(0)
    pieces = [random_piece(random, segments=5, segment_quarters=8) for _ in range(4)]
    features = set_features(pieces, 8)
    copy = set_features(list(pieces), 8)
    # Of the 20 x 20 distances from the copy, 20 are a segment with itself (0): the rest are the
    # reference's own distances, each twice, so the area can fall short of 1 by little more than 1/20.
    areas = overlapping_areas(features, copy)
    assert min(areas.values()) > 0.9, areas
    # And a set of other music is told apart: silence against those pieces.
    silent = set_features([Piece([], 16.0)], 8)
    assert likeness.mean_area(overlapping_areas(features, silent)) < 0.3


def test_a_compared_set_without_a_whole_segment_has_no_areas():
    reference = set_features([one_segment(Note(0, 4, 60)), one_segment(Note(0, 4, 64))], 4)
    areas = overlapping_areas(reference, set_features([Piece([Note(0, 1, 60)], 1.0)], 4))
    assert set(areas) == set(likeness.FEATURES) and all(math.isnan(area) for area in areas.values())
    with pytest.raises(ValueError):
        overlapping_areas(set_features([one_segment(Note(0, 4, 60))], 4), reference)


# --- Choosing the composers, and the command's refusals ---------------------------------------


def stand_in_bundle(composers=("alpha", "beta", "gamma"), held_out=(0, 0, 0, 0, 0, 1, 1, 2, 2, 2, 2, 2)):
    return SimpleNamespace(settings=SimpleNamespace(composers=composers is not None), composers=list(composers or []),
                           validation_composers=np.array(held_out), validation_pieces=[None] * len(held_out))


def test_composers_with_enough_held_out_pieces_are_compared_by_default():
    assert chosen_composers(stand_in_bundle(), None) == [0, 2]
    assert chosen_composers(stand_in_bundle(), ["gamma", "alpha", "gamma"]) == [2, 0]
    assert chosen_composers(stand_in_bundle(composers=None), None) == [None]


@pytest.mark.parametrize("bundle, names, sentence", [
    (stand_in_bundle(), ["delta"], "the bundle knows no composer 'delta'; choose one of: alpha, gamma"),
    (stand_in_bundle(), ["beta"],
     "the bundle holds out 2 pieces of beta and the comparison needs at least 5; choose one of: alpha, gamma"),
    (stand_in_bundle(held_out=(0, 1, 2)), None,
     "no composer of the bundle has 5 held-out pieces, so there is no real music to compare with"),
    (stand_in_bundle(composers=None), ["alpha"],
     "this bundle was trained without --composers, so it cannot be asked for a composer; leave out --composer"),
])
def test_composers_that_cannot_be_compared_are_refused_in_one_sentence(bundle, names, sentence):
    with pytest.raises(likeness.UserError) as refusal:
        chosen_composers(bundle, names)
    assert str(refusal.value) == sentence


def test_the_command_refuses_an_unknown_composer():
    # The shipped events bundle: loading it costs seconds (TensorFlow), so one call.
    status, printed, errors = run_main(likeness, "--weights", EVENTS_WEIGHTS, "--composer", "nobody")
    assert status == 2
    assert errors == "error: the bundle knows no composer 'nobody'; choose one of: bach, monteverdi, palestrina\n"
    assert printed == ""
