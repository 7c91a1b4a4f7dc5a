"""The transformer (--model transformer): every preset builds with a prediction after every step,
the causal mask holds, and train.py writes a bundle that predict.py composes from twice alike for one seed,
and otherwise for another.
(That the saved model loads in plain Keras, without this project, is checked in test_learning.py.)"""

import keras
import numpy as np
import pytest
import tensorflow as tf

import predict as predict_script
import train as train_script
from classical_composer.bundle import load_bundle
from classical_composer.corpus import parse_folder
from classical_composer.network import build_network, inference_copy
from classical_composer.settings import TRANSFORMER_PRESETS, Settings
from classical_composer.token_parts import token_parts
from script_runs import run_main, succeeds

VOCABULARY_SIZE = 37
SEQUENCE_LENGTH = 8
TRANSFORMER_FLAGS = ["--model", "transformer", "--preset", "tiny", "--epochs", "1", "--sequence-length", "8",
                     "--batch-size", "32"]
NO_GPU_LINE = "--distribute: no GPU found, training on one device (CPU)"


# --- The network ---------------------------------------------------------------------


@pytest.mark.parametrize("preset", sorted(TRANSFORMER_PRESETS))
def test_each_preset_builds_with_probabilities_after_every_step(preset):
    model = build_network(Settings(model="transformer", preset=preset, sequence_length=SEQUENCE_LENGTH),
                          VOCABULARY_SIZE)
    assert model.input_shape == (None, SEQUENCE_LENGTH)  # (batch, time) token indices
    assert model.output_shape == (None, SEQUENCE_LENGTH, VOCABULARY_SIZE)  # (batch, time, vocabulary)
    size = TRANSFORMER_PRESETS[preset]
    attention = [layer for layer in model.layers if isinstance(layer, keras.layers.MultiHeadAttention)]
    assert len(attention) == size.blocks
    assert model.get_layer("token_embedding").output_dim == size.width
    assert not any(isinstance(layer, keras.layers.LSTM) for layer in model.layers)


def test_a_later_token_does_not_change_earlier_probabilities():
    model = build_network(Settings(model="transformer", preset="tiny", sequence_length=SEQUENCE_LENGTH),
                          VOCABULARY_SIZE)
    windows = np.random.default_rng(0).integers(0, VOCABULARY_SIZE, (4, SEQUENCE_LENGTH)).astype(np.int32)
    changed = windows.copy()
    changed[:, 5] = (changed[:, 5] + 1) % VOCABULARY_SIZE
    before, after = model(windows, training=False).numpy(), model(changed, training=False).numpy()
    np.testing.assert_array_equal(before[:, :5], after[:, :5])  # steps 0..4 never see step 5
    assert np.abs(before[:, 5:] - after[:, 5:]).max() > 0  # and the steps from 5 on do


def test_the_inference_copy_is_the_last_step():
    model = build_network(Settings(model="transformer", preset="tiny", sequence_length=SEQUENCE_LENGTH),
                          VOCABULARY_SIZE)
    windows = np.arange(2 * SEQUENCE_LENGTH, dtype=np.int32).reshape(2, SEQUENCE_LENGTH) % VOCABULARY_SIZE
    copy = inference_copy(model)
    assert copy.output_shape == (None, VOCABULARY_SIZE)
    np.testing.assert_allclose(copy(windows).numpy(), model(windows).numpy()[:, -1], atol=1e-6)


def test_token_parts_work_for_the_transformer():
    vocabulary = ["C3 long 81", "C3 short 81", "C3.E3.G3 long 81", "E3 short 59", "G3 medium 81", "rest short"]
    parts = token_parts(vocabulary)
    settings = Settings(model="transformer", preset="tiny", sequence_length=4, token_parts=True, durations=True,
                        velocities=True, rests=True, octave_chords=True)
    model = build_network(settings, len(vocabulary), parts.matrix)
    assert model.output_shape == (None, 4, len(vocabulary))
    np.testing.assert_array_equal(model.get_layer("parts_to_tokens").get_weights()[0], parts.matrix.T)
    # The inference copy scores only the last step, through the same output layers, parts included.
    windows = np.array([[0, 1, 2, 3], [5, 4, 3, 2]], dtype=np.int32)
    np.testing.assert_allclose(inference_copy(model)(windows).numpy(), model(windows).numpy()[:, -1], atol=1e-6)


# --- Flags that do not go together --------------------------------------------------------


@pytest.mark.parametrize("flags, sentence", [
    (["--embedding", "16"], "the transformer's token vectors are as wide as its preset says, so leave out "
                            "--embedding with --model transformer"),
])
def test_bad_combinations_exit_2_with_their_sentence(flags, sentence, training_folder, tmp_path):
    status, _, errors = run_main(train_script, *TRANSFORMER_FLAGS, *flags, "--midi-dir", training_folder,
                                 "--out", tmp_path / "never")
    assert (status, errors) == (2, f"error: {sentence}\n")
    assert not (tmp_path / "never").exists()


def test_an_unknown_model_is_refused_in_one_sentence():
    with pytest.raises(ValueError, match=r"^unknown model 'gru'; choose one of lstm, transformer$"):
        Settings(model="gru")


# --- train.py and predict.py ---------------------------------------------------------------


@pytest.fixture(scope="module")
def transformer_run(training_folder, tmp_path_factory) -> tuple:
    """train.py --model transformer --distribute on the tests' folder: (bundle folder, what it printed)."""
    parse_folder(training_folder, Settings().encoding(), workers=1)  # into the private cache: train.py starts no pool
    out = tmp_path_factory.mktemp("transformer_bundle")
    printed = succeeds(train_script, *TRANSFORMER_FLAGS, "--distribute", "--midi-dir", training_folder, "--out", out)
    return out, printed


def test_train_writes_a_transformer_bundle(transformer_run):
    out, printed = transformer_run
    bundle = load_bundle(out)
    assert bundle.settings == Settings(model="transformer", preset="tiny", epochs=1, sequence_length=8, batch_size=32)
    assert bundle.model.output_shape == (None, 8, len(bundle.vocabulary))
    assert bundle.training["best_epoch"] == 1
    assert "network: transformer, preset tiny" in printed


@pytest.mark.skipif(bool(tf.config.list_physical_devices("GPU")), reason="the line is for machines without a GPU")
def test_distribute_without_a_gpu_says_so_in_one_line_and_trains(transformer_run):
    out, printed = transformer_run
    assert printed.count(NO_GPU_LINE) == 1
    assert (out / "bundle.json").is_file()


def test_predict_composes_the_same_file_twice_from_a_seed_and_another_from_another_seed(transformer_run, tmp_path):
    out, _ = transformer_run
    first, second, other_seed = tmp_path / "first.mid", tmp_path / "second.mid", tmp_path / "other_seed.mid"
    for output, seed in ((first, "1"), (second, "1"), (other_seed, "2")):
        succeeds(predict_script, "--weights", out, "--top-k", "7", "--seed", seed, "--num-notes", "40",
                 "--output", output)
    assert first.read_bytes() == second.read_bytes()
    assert other_seed.read_bytes() != first.read_bytes()
