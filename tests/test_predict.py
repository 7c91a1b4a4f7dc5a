"""Stage 4: sampling, the generation loop, and tokens written back as MIDI."""

import numpy as np
import pytest
from music21 import chord, note

from classical_composer.network import build_network
from classical_composer.corpus import Piece, parse_midi_file
from classical_composer.predict import (
    choose_next, generate, probability_function, seed_windows, write_midi,
)
from classical_composer.prepare_sequences import NetworkInput, Vocabulary, WindowBatches, make_windows
from classical_composer.settings import Settings
from classical_composer.tokens import STEP_QUARTERS
from classical_composer.note_tokens import tokens_to_stream
from classical_composer.representations import representation_of

DRAWS = 2000

# A distribution with one clear favourite and a long tail: (classes,)
PEAKED = np.array([0.02, 0.30, 0.05, 0.20, 0.01, 0.15, 0.03, 0.10, 0.04, 0.06, 0.04])
# Nearly flat, decreasing slowly, so that the 7 most likely are classes 0..6.
NEARLY_FLAT = np.linspace(1.0, 0.9, 20) / np.linspace(1.0, 0.9, 20).sum()


def picks(probabilities, top_k, temperature, seed=0, draws=DRAWS) -> np.ndarray:
    random = np.random.default_rng(seed)
    return np.array([choose_next(probabilities, top_k, temperature, random) for _ in range(draws)])


# --- Sampling ------------------------------------------------------------------------


def test_top_1_is_argmax_whatever_the_temperature():
    for probabilities in (PEAKED, NEARLY_FLAT, np.random.default_rng(3).dirichlet(np.ones(50))):
        for temperature in (0.5, 1.0, 3.0):
            assert set(picks(probabilities, 1, temperature, draws=20)) == {int(np.argmax(probabilities))}


@pytest.mark.parametrize("top_k", [2, 3, 7])
def test_top_k_never_picks_outside_the_k_most_likely(top_k):
    most_likely = set(np.argsort(-PEAKED)[:top_k].tolist())
    chosen = picks(PEAKED, top_k, temperature=1.0)
    assert set(chosen.tolist()) == most_likely  # only these, and each of them at some point


def test_top_7_on_a_nearly_flat_distribution_stays_in_the_first_7():
    assert set(picks(NEARLY_FLAT, 7, 1.0).tolist()) == set(range(7))


def test_top_0_samples_the_whole_distribution():
    chosen = picks(NEARLY_FLAT, 0, 1.0)
    assert (chosen >= 7).any(), "top-k 0 should reach beyond the 7 most likely"
    assert len(set(chosen.tolist())) == len(NEARLY_FLAT)


def test_top_k_follows_the_renormalised_probabilities():
    top_3 = np.argsort(-PEAKED)[:3]
    chosen = picks(PEAKED, 3, 1.0, draws=4000)
    expected = PEAKED[top_3] / PEAKED[top_3].sum()
    observed = np.array([(chosen == klass).mean() for klass in top_3])
    np.testing.assert_allclose(observed, expected, atol=0.04)


def test_temperature_sharpens_below_one_and_flattens_above():
    favourite = int(np.argmax(PEAKED))
    share = {temperature: (picks(PEAKED, 0, temperature) == favourite).mean() for temperature in (0.1, 1.0, 10.0)}
    assert share[0.1] > 0.95
    assert share[0.1] > share[1.0] > share[10.0]
    assert share[10.0] < 0.2  # close to 1 / 11, the flat share
    assert len(set(picks(PEAKED, 0, 10.0).tolist())) == len(PEAKED)


def test_the_same_seed_gives_the_same_picks_and_another_seed_others():
    first, again, other = (picks(PEAKED, 7, 1.0, seed=seed) for seed in (4, 4, 5))
    np.testing.assert_array_equal(first, again)
    assert (first != other).any(), "the seed should decide the picks"
    assert (first != np.argmax(PEAKED)).any(), "top-7 should sample, not always take the favourite"


# --- The generation loop (bug 7) ------------------------------------------------------


def test_the_network_sees_what_training_would_have_fed_at_every_step():
    """Record every input of the generation loop and compare it with WindowBatches over the same tokens."""
    vocabulary = Vocabulary([f"token_{number:02d}" for number in range(11)])
    vocabulary_size, sequence_length, num_notes = len(vocabulary), 5, 12
    # The next token's probabilities depend on the last token of the window.
    table = np.random.default_rng(0).random((vocabulary_size, vocabulary_size))
    seen = []

    def probabilities_of(network_input):  # (songs, time, 1) -> (songs, vocabulary)
        seen.append(np.array(network_input))
        last_token = np.rint(network_input[:, -1, 0] * vocabulary_size).astype(int)
        return table[last_token] / table[last_token].sum(axis=1, keepdims=True)

    start_windows = np.array([[1, 2, 3, 4, 5], [10, 0, 9, 0, 8]])  # (songs, time)
    composed = generate(probabilities_of, NetworkInput(vocabulary_size), start_windows, num_notes, top_k=3,
                        random=np.random.default_rng(5))
    assert composed.shape == (2, num_notes)
    assert len(seen) == num_notes

    for song in range(len(start_windows)):
        # Training on seed + composition would cut exactly these windows and targets.
        piece = Piece("composed", vocabulary.decode(np.concatenate([start_windows[song], composed[song]])))
        windows = make_windows([piece], vocabulary, sequence_length)
        training_batches = WindowBatches(windows, NetworkInput(vocabulary_size), batch_size=1, shuffle=False)
        for step in range(num_notes):
            training_input, training_target = training_batches[step]
            np.testing.assert_array_equal(seen[step][song : song + 1], training_input)
            assert training_target[0] == composed[song, step]  # the token picked is the one appended


def test_generation_is_repeatable_with_a_seed():
    probabilities = np.random.default_rng(1).dirichlet(np.ones(9), size=1)

    def probabilities_of(network_input):
        return np.repeat(probabilities, len(network_input), axis=0)

    start = np.zeros((2, 4), dtype=np.int32)
    first, again, other = (generate(probabilities_of, NetworkInput(9), start, 30, top_k=0,
                                    random=np.random.default_rng(seed))
                           for seed in (7, 7, 8))
    np.testing.assert_array_equal(first, again)
    assert (first != other).any(), "another seed should compose other songs"
    # Both songs start alike but are sampled apart: neither each other nor one repeated token.
    assert first[0].tolist() != first[1].tolist()
    assert all(len(set(song.tolist())) > 1 for song in first)


def test_seed_windows_lie_inside_one_long_enough_piece():
    pieces = [np.arange(0, 3), np.arange(100, 110), np.arange(200, 206)]  # the first is too short for 4
    starts = seed_windows(pieces, 4, count=50, random=np.random.default_rng(0))
    assert starts.shape == (50, 4)
    for window in starts:
        assert window[0] >= 100  # never from the short piece
        assert np.array_equal(window, np.arange(window[0], window[0] + 4)), "a seed window ran across pieces"
    # Random windows: from both long pieces, at many places (10 windows of 4 fit in them).
    assert {int(window[0]) // 100 for window in starts} == {1, 2}
    assert len({int(window[0]) for window in starts}) >= 5
    with pytest.raises(ValueError, match="^no training piece has the 20 tokens a seed window needs$"):
        seed_windows(pieces, 20, count=1, random=np.random.default_rng(0))


# --- Tokens -> MIDI ------------------------------------------------------------------


def written_events(token_list):
    return list(tokens_to_stream(token_list).notesAndRests)


def test_without_durations_each_event_lasts_the_step_and_none_overlap():
    """Bug 3: the original advanced by 0.5 but left every note a quarter long."""
    events = written_events(["E-4", "0.4.7", "G4", "C2.E2.G2", "E-4"])
    assert [float(event.offset) for event in events] == [0.0, 0.5, 1.0, 1.5, 2.0]
    assert all(float(event.quarterLength) == STEP_QUARTERS for event in events)
    for event, following in zip(events, events[1:]):
        assert event.offset + event.quarterLength == following.offset


def test_faithful_chords_are_written_in_octave_4_octave_chords_keep_theirs():
    faithful, low, high = written_events(["4.8.11", "C2.E2.G2", "E5.G#5.B5"])
    assert isinstance(faithful, chord.Chord)
    # A documented limitation (bug 2): pitch classes alone cannot say the octave.
    assert sorted(pitch.midi for pitch in faithful.pitches) == [64, 68, 71]  # E4 G#4 B4
    assert [pitch.nameWithOctave for pitch in low.pitches] == ["C2", "E2", "G2"]
    assert [pitch.nameWithOctave for pitch in high.pitches] == ["E5", "G#5", "B5"]


def test_durations_velocities_and_rests_are_written():
    events = written_events(["E-4 short 31", "rest long", "C2.G2 medium 102", "rest short", "G4 long 59"])
    assert [type(event) for event in events] == [note.Note, note.Rest, chord.Chord, note.Rest, note.Note]
    assert [float(event.quarterLength) for event in events] == [0.5, 2.0, 1.0, 0.5, 2.0]
    assert [float(event.offset) for event in events] == [0.0, 0.5, 2.5, 3.5, 4.0]  # each starts when the last ends
    assert [events[number].volume.velocity for number in (0, 2, 4)] == [31, 102, 59]


def test_written_midi_parses_back_into_the_same_tokens(tmp_path, two_hands_file):
    encoding = Settings(rests=True, octave_chords=True, durations=True, velocities=True).encoding()
    token_list = parse_midi_file(two_hands_file, encoding)
    write_midi(token_list, tmp_path / "again.mid", representation_of(Settings()))
    assert parse_midi_file(tmp_path / "again.mid", encoding) == token_list
    assert [path.name for path in tmp_path.iterdir()] == ["again.mid"]  # no temporary file left behind


def test_the_compiled_probability_function_computes_what_the_model_does():
    """Generation runs a compiled copy of the network; it must give the trained model's probabilities."""
    settings = Settings(preset="tiny", sequence_length=6)
    model = build_network(settings, 13)
    network_input = NetworkInput(13).encode(np.random.default_rng(0).integers(0, 13, size=(3, 6)))  # (songs, time, 1)
    expected = np.asarray(model(network_input, training=False))
    got = probability_function(model)(network_input)
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)
