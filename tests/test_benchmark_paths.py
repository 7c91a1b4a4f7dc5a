"""The fast generation path composes exactly what the original loop composes.

The benchmark (benchmarks/run.py) times predict.py's compiled path against the
original's loop, one `model.predict` on the full window per note; the speed-up
only counts if the tokens are the same. These tests check that on a tiny
network built as the original built it, the same network reading token
indices (--embedding), and that songs composed together in one batch
(--num-songs) are each the song that would have been composed alone. The last
test runs benchmarks/chunks.py's two comparisons at tiny sizes, judging no timing.
"""

import numpy as np
import pytest

from benchmarks.original import generate_original, original_network
from classical_composer.network import build_network
from classical_composer.predict import generate, probability_function
from classical_composer.prepare_sequences import NetworkInput
from classical_composer.settings import Settings

VOCABULARY_SIZE = 11
NUM_NOTES = 30
SONGS = 3
# Large random weights make the tiny network's pick swing with every token of
# the window, so that agreeing on 30 picks means agreeing on the whole function.
WEIGHT_SCALE = 4.0


def made_lively(model):
    """The model, its matrices replaced by large random ones (biases and batch-norm vectors kept)."""
    random = np.random.default_rng(0)
    model.set_weights([
        random.normal(0.0, WEIGHT_SCALE, weights.shape).astype(np.float32) if weights.ndim > 1 else weights
        for weights in model.get_weights()
    ])
    return model


@pytest.fixture(scope="module")
def lively_network():
    """The original's tiny training network (Keras' LSTM, recurrent dropout) with large random weights."""
    settings = Settings(preset="tiny", sequence_length=8)
    return made_lively(original_network(settings, VOCABULARY_SIZE)), settings


@pytest.fixture(scope="module")
def start_windows(lively_network):
    _, settings = lively_network
    return np.random.default_rng(1).integers(VOCABULARY_SIZE, size=(SONGS, settings.sequence_length))


@pytest.fixture(scope="module")
def original_song(lively_network, start_windows):
    """What the original loop composes on the original's network from the first start window: (notes,)."""
    model, _ = lively_network
    song = generate_original(model, start_windows[0], NUM_NOTES, VOCABULARY_SIZE)
    assert len(set(song.tolist())) >= 5, "the network should be lively enough to make the check meaningful"
    return song


def test_fast_path_composes_the_same_tokens_as_the_original_loop(lively_network, start_windows, original_song):
    model, settings = lively_network

    # Our path: an inference copy without recurrent dropout, holding the training network's weights.
    probabilities_of = probability_function(model)
    fast = generate(probabilities_of, NetworkInput(VOCABULARY_SIZE), start_windows[:1], NUM_NOTES)  # (1, notes)

    assert fast[0].tolist() == original_song.tolist()


def test_fast_path_composes_what_model_predict_composes_on_a_network_reading_token_indices(start_windows):
    """With --embedding the window goes in as token indices: the original loop's way, one model.predict per
    note on the indices themselves, is the reference."""
    settings = Settings(preset="tiny", sequence_length=8, embedding=4)
    model = made_lively(build_network(settings, VOCABULARY_SIZE))
    window, reference = [int(index) for index in start_windows[0]], []
    for _ in range(NUM_NOTES):
        probabilities = model.predict(np.array([window], dtype=np.int32), verbose=0)[0]  # (vocabulary,)
        reference.append(int(np.argmax(probabilities)))
        window = window[1:] + reference[-1:]
    assert len(set(reference)) >= 5, "the network should be lively enough to make the check meaningful"

    fast = generate(probability_function(model), NetworkInput.of(settings, VOCABULARY_SIZE), start_windows[:1],
                    NUM_NOTES)  # (1, notes)

    assert fast[0].tolist() == reference


def test_each_song_of_a_batch_is_the_song_composed_alone(lively_network, start_windows):
    model, settings = lively_network
    probabilities_of = probability_function(model)
    together = generate(probabilities_of, NetworkInput(VOCABULARY_SIZE), start_windows, NUM_NOTES)  # (songs, notes)

    assert together.shape == (SONGS, NUM_NOTES)
    assert len({tuple(song) for song in together.tolist()}) == SONGS, "different seeds should give different songs"
    for song, window in zip(together, start_windows):
        alone = generate(probabilities_of, NetworkInput(VOCABULARY_SIZE), window[np.newaxis], NUM_NOTES)
        assert song.tolist() == alone[0].tolist()


def test_chunk_benchmark_runs_both_comparisons_on_a_tiny_network():
    """benchmarks/chunks.py's two comparisons at tiny sizes: every figure is there and positive, and the
    carried state gives the probabilities of reading the whole song. No timing is judged."""
    from benchmarks.chunks import Plan, compare_generation, compare_training

    # Windows of 4: the LSTM unrolls its loop in training, so short windows trace sooner.
    plan = Plan(train_lengths=(4,), train_steps=2, train_rounds=1, notes=3, repeats=1, check_steps=4,
                seed_length=4, preset="tiny", embedding=4, batch_size=4, vocabulary=VOCABULARY_SIZE,
                piece_tokens=(12, 24))
    random = np.random.default_rng(0)

    training = compare_training(plan, random)["4"]
    for feed in ("sliding_windows", "chunks"):
        assert training[feed]["rows_per_s"] > 0 and training[feed]["new_targets_per_s"] > 0
    # A chunk row teaches up to 4 new targets, a window 1.
    assert training["chunks"]["new_targets_a_batch"] > training["sliding_windows"]["new_targets_a_batch"]
    assert training["ratio"] > 0 and "ratio_goal_met" not in training  # the goal is set at length 32 only

    generation = compare_generation(plan, random)
    assert generation["check_max_difference"] <= 1e-5
    assert generation["carried_s_per_note"] > 0 and generation["reread_s_per_note"] > 0 and generation["ratio"] > 0
