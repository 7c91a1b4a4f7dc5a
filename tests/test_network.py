"""Stage 3: settings -> Keras model. Every preset builds; the original preset is the original network;
--embedding and --token-parts change only the input and the output scores; --composers adds an input."""

import dataclasses

import keras
import numpy as np
import pytest

from classical_composer.fast_lstm import FastLSTM
from classical_composer.network import build_network, inference_copy, last_step
from classical_composer.prepare_sequences import NetworkInput
from classical_composer.settings import OPTIMIZERS, PRESETS, Settings
from classical_composer.token_parts import token_parts
from classical_composer.training import make_training_variables

VOCABULARY_SIZE = 37
SEQUENCE_LENGTH = 8


def layer_types(model: keras.Model) -> list[str]:
    return [type(layer).__name__ for layer in model.layers]


@pytest.mark.parametrize("preset", sorted(PRESETS))
def test_each_preset_builds_with_the_vocabulary_as_output(preset):
    settings = Settings(preset=preset, sequence_length=SEQUENCE_LENGTH)
    model = build_network(settings, VOCABULARY_SIZE)
    assert model.input_shape == (None, SEQUENCE_LENGTH, 1)  # (batch, time, 1): one scaled index per step
    assert model.output_shape == (None, VOCABULARY_SIZE)
    lstms = [layer for layer in model.layers if isinstance(layer, keras.layers.LSTM)]
    assert len(lstms) == PRESETS[preset].lstm_layers
    assert all(layer.units == PRESETS[preset].lstm_units for layer in lstms)


def test_original_preset_is_the_original_network():
    model = build_network(Settings(), VOCABULARY_SIZE)  # every default: the original
    assert model.input_shape == (None, 100, 1)
    assert layer_types(model) == [
        "InputLayer",
        "LSTM", "LSTM", "LSTM",
        "BatchNormalization", "Dropout", "Dense", "Activation",
        "BatchNormalization", "Dropout", "Dense", "Activation",
    ]
    lstm_configs = [layer.get_config() for layer in model.layers if isinstance(layer, keras.layers.LSTM)]
    assert [config["units"] for config in lstm_configs] == [512, 512, 512]
    assert [config["return_sequences"] for config in lstm_configs] == [True, True, False]
    assert [config["recurrent_dropout"] for config in lstm_configs] == [0.3, 0.3, 0.0]

    dense_configs = [layer.get_config() for layer in model.layers if isinstance(layer, keras.layers.Dense)]
    assert [config["units"] for config in dense_configs] == [256, VOCABULARY_SIZE]
    dropout_rates = [layer.get_config()["rate"] for layer in model.layers if isinstance(layer, keras.layers.Dropout)]
    assert dropout_rates == [0.3, 0.3]
    activations = [layer.get_config()["activation"] for layer in model.layers if isinstance(layer, keras.layers.Activation)]
    assert activations == ["relu", "softmax"]

    assert isinstance(model.optimizer, keras.optimizers.RMSprop)
    assert model.loss == "sparse_categorical_crossentropy"  # sparse integer targets, not one-hot rows


def test_output_is_the_softmax_of_the_token_scores():
    model = build_network(Settings(preset="tiny", sequence_length=SEQUENCE_LENGTH), VOCABULARY_SIZE)
    network_input = np.random.default_rng(0).random((3, SEQUENCE_LENGTH, 1), dtype=np.float32)
    probabilities = keras.ops.convert_to_numpy(model(network_input, training=False))
    assert probabilities.shape == (3, VOCABULARY_SIZE)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)
    # Each row is exp(score) / sum(exp(scores)) of the last Dense layer's scores for that window, and
    # nothing else: no second softmax, no temperature, no smoothing.
    scores = keras.ops.convert_to_numpy(
        keras.Model(model.input, model.get_layer("token_logits").output)(network_input, training=False))
    assert not np.allclose(scores[0], scores[1])  # the windows differ, and so do their scores
    expected = np.exp(scores - scores.max(axis=1, keepdims=True))
    np.testing.assert_allclose(probabilities, expected / expected.sum(axis=1, keepdims=True), rtol=1e-5, atol=1e-7)
    # A known distribution comes out as it was put in: scores that ignore the window and equal log p.
    wanted = np.random.default_rng(1).dirichlet(np.ones(VOCABULARY_SIZE)).astype(np.float32)
    kernel, _ = model.get_layer("token_logits").get_weights()
    model.get_layer("token_logits").set_weights([np.zeros_like(kernel), np.log(wanted)])
    np.testing.assert_allclose(keras.ops.convert_to_numpy(model(network_input, training=False)),
                               np.tile(wanted, (3, 1)), rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("optimizer, keras_class", sorted(OPTIMIZERS.items()))
def test_the_network_is_compiled_with_the_optimizer_and_learning_rate_asked_for(optimizer, keras_class):
    settings = Settings(preset="tiny", sequence_length=SEQUENCE_LENGTH, optimizer=optimizer, learning_rate=0.0125)
    model = build_network(settings, VOCABULARY_SIZE)
    assert type(model.optimizer) is getattr(keras.optimizers, keras_class)
    assert float(model.optimizer.learning_rate.numpy()) == pytest.approx(0.0125)
    # One step of it moves every trainable weight against its gradient (all ones here).
    before = [variable.numpy() for variable in model.trainable_variables]
    model.optimizer.apply([keras.ops.ones_like(variable) for variable in model.trainable_variables],
                          model.trainable_variables)
    for old, variable in zip(before, model.trainable_variables):
        assert (variable.numpy() < old).all()


@pytest.mark.parametrize("model_name", ["lstm", "transformer"])
def test_dropout_replaces_every_dropout_of_the_preset(model_name):
    def rates(settings):
        model = build_network(settings, VOCABULARY_SIZE)
        dropouts = [layer.rate for layer in model.layers if isinstance(layer, keras.layers.Dropout)]
        recurrent = [layer.recurrent_dropout for layer in model.layers if isinstance(layer, keras.layers.LSTM)]
        return dropouts, recurrent

    preset = Settings(preset="small", sequence_length=SEQUENCE_LENGTH, model=model_name)
    dropouts, recurrent = rates(preset)
    assert dropouts and set(dropouts) == {0.3 if model_name == "lstm" else 0.1}
    dropouts, recurrent = rates(dataclasses.replace(preset, dropout=0.05))
    assert dropouts and set(dropouts) == {0.05}
    # The original keeps the last LSTM free of recurrent dropout; --dropout changes the others only.
    assert recurrent == ([0.05, 0.0] if model_name == "lstm" else [])


def test_inference_copy_has_no_recurrent_dropout_and_computes_the_same():
    settings = Settings(preset="tiny", sequence_length=SEQUENCE_LENGTH)
    assert settings.network_size.recurrent_dropout > 0, "the test needs a model that has recurrent dropout"
    model = build_network(settings, VOCABULARY_SIZE)
    # Move every weight (batch-norm statistics too) off its initial value, so
    # that a copy which missed one would compute something else.
    random = np.random.default_rng(1)
    model.set_weights([weight + random.uniform(0, 0.1, weight.shape).astype(weight.dtype) for weight in model.get_weights()])
    copy = inference_copy(model)
    recurrent = [layer for layer in copy.layers if "lstm" in layer.name]
    assert len(recurrent) == settings.network_size.lstm_layers
    assert all(isinstance(layer, FastLSTM) and layer.recurrent_dropout == 0.0 for layer in recurrent)

    network_input = np.random.default_rng(2).random((5, SEQUENCE_LENGTH, 1), dtype=np.float32)
    expected = keras.ops.convert_to_numpy(model(network_input, training=False))
    got = keras.ops.convert_to_numpy(copy(network_input, training=False))
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)


# --- --embedding and --token-parts ------------------------------------------------------

PART_TOKENS = ["C3 long 81", "C3 short 81", "C3.E3.G3 long 81", "E3 short 59", "G3 medium 81", "rest short"]


def parts_settings(**changes) -> Settings:
    return Settings(preset="tiny", sequence_length=4, embedding=6, token_parts=True, **changes)


def test_embedding_network_reads_token_indices_through_a_learned_table():
    model = build_network(Settings(preset="tiny", sequence_length=SEQUENCE_LENGTH, embedding=5), VOCABULARY_SIZE)
    assert model.input_shape == (None, SEQUENCE_LENGTH)  # (batch, time) token indices
    embedding = model.get_layer("token_embedding")
    assert embedding.trainable and embedding.get_weights()[0].shape == (VOCABULARY_SIZE, 5)
    # The rest is the original shape: the first LSTM reads the embedding.
    assert layer_types(model)[1:4] == ["Embedding", "LSTM", "LSTM"]


def test_token_parts_network_holds_the_fixed_matrix_both_ways():
    parts = token_parts(PART_TOKENS)
    model = build_network(parts_settings(), len(PART_TOKENS), parts.matrix)
    np.testing.assert_array_equal(model.get_layer("token_parts").get_weights()[0], parts.matrix)
    np.testing.assert_array_equal(model.get_layer("parts_to_tokens").get_weights()[0], parts.matrix.T)
    frozen = {weight.path for weight in model.non_trainable_weights}
    assert {"token_parts/embeddings", "parts_to_tokens/kernel"} <= frozen


def test_training_leaves_the_parts_matrix_as_it_was(parts_and_plain_networks):
    vocabulary, with_parts, _, windows = parts_and_plain_networks
    parts = token_parts(vocabulary)
    np.testing.assert_array_equal(with_parts.get_layer("token_parts").get_weights()[0], parts.matrix)
    np.testing.assert_array_equal(with_parts.get_layer("parts_to_tokens").get_weights()[0], parts.matrix.T)
    probabilities = keras.ops.convert_to_numpy(with_parts(windows, training=False))
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)


def test_token_parts_network_refuses_to_build_without_its_matrix():
    with pytest.raises(ValueError, match="token-to-parts matrix"):
        build_network(parts_settings(), len(PART_TOKENS))


@pytest.fixture(scope="module")
def parts_and_plain_networks():
    """(vocabulary, with parts, plain, windows): two networks trained alike on data in which 'C3 short 81' never occurs."""
    vocabulary = ["C3 long 81", "C3 short 81", "E3 long 81", "E3 short 81", "G3 long 81", "G3 short 81"]
    # Training: after E3 or G3 (long or short), C3 follows, always long; and short E3 or G3 follow C3.
    # Shared parts say that C3 is likely and that short is likely, so unseen "C3 short 81" gets some of it.
    random = np.random.default_rng(0)
    windows = random.choice([2, 3, 4, 5], size=(256, 4)).astype(np.int32)
    targets = np.where(random.random(256) < 0.5, 0, random.choice([3, 5], size=256))
    # FastLSTM, as train.py uses on a CPU: the same function, and quicker to set up for training.
    keras.utils.set_random_seed(0)
    with_parts = build_network(parts_settings(optimizer="adam", learning_rate=0.01), len(vocabulary),
                               token_parts(vocabulary).matrix, fast_lstm=True)
    keras.utils.set_random_seed(0)
    plain = build_network(Settings(preset="tiny", sequence_length=4, embedding=6, optimizer="adam",
                                   learning_rate=0.01), len(vocabulary), fast_lstm=True)
    for model in (with_parts, plain):
        make_training_variables(model, (windows[:64], targets[:64]))  # so that fit traces its step once
        model.fit(windows, targets, epochs=8, batch_size=64, verbose=0)
    return vocabulary, with_parts, plain, windows


def test_a_token_unseen_in_training_gets_more_probability_from_its_parts(parts_and_plain_networks):
    _, with_parts, plain, windows = parts_and_plain_networks
    unseen = 1  # "C3 short 81"
    from_parts = keras.ops.convert_to_numpy(with_parts(windows, training=False))
    from_counts = keras.ops.convert_to_numpy(plain(windows, training=False))
    np.testing.assert_allclose(from_parts.sum(axis=1), 1.0, rtol=1e-5)
    assert from_parts[:, unseen].mean() > 2 * from_counts[:, unseen].mean()


@pytest.mark.parametrize("flags", [{}, {"embedding": 8}, {"model": "transformer"}],
                         ids=["original input", "embedding", "transformer"])
def test_a_composers_network_reads_the_composer_at_every_step_and_it_changes_the_prediction(flags):
    settings = Settings(preset="tiny", sequence_length=SEQUENCE_LENGTH, composers=True, **flags)
    model = build_network(settings, VOCABULARY_SIZE, composer_count=3)
    assert sorted(model.input) == ["composer_indices", NetworkInput.of(settings, VOCABULARY_SIZE).token_name]
    assert model.get_layer("composer_embedding").input_dim == 3
    windows = np.tile(np.arange(SEQUENCE_LENGTH), (3, 1))  # the same window three times...
    network_input = NetworkInput.of(settings, VOCABULARY_SIZE).encode(
        windows, composers=np.array([0, 1, 2]))  # ...told three composers
    assert network_input["composer_indices"].tolist() == [[0] * SEQUENCE_LENGTH, [1] * SEQUENCE_LENGTH,
                                                          [2] * SEQUENCE_LENGTH]
    probabilities = keras.ops.convert_to_numpy(last_step(model)(network_input, training=False))
    assert probabilities.shape == (3, VOCABULARY_SIZE)
    assert not np.allclose(probabilities[0], probabilities[1]) and not np.allclose(probabilities[1], probabilities[2])


def test_a_composers_network_refuses_to_build_without_the_number_of_composers():
    with pytest.raises(ValueError, match="needs the number of composers"):
        build_network(Settings(preset="tiny", sequence_length=SEQUENCE_LENGTH, composers=True), VOCABULARY_SIZE)
