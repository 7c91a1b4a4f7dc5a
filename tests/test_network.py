"""Stage 3: settings -> Keras model. Every preset builds; the original preset is the original network."""

import keras
import numpy as np
import pytest

from classical_composer.network import WindowLSTM, build_network, inference_copy
from classical_composer.settings import PRESETS, Settings

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
        "WindowLSTM", "WindowLSTM", "WindowLSTM",
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


def test_output_is_a_probability_distribution():
    model = build_network(Settings(preset="tiny", sequence_length=SEQUENCE_LENGTH), VOCABULARY_SIZE)
    network_input = np.random.default_rng(0).random((3, SEQUENCE_LENGTH, 1), dtype=np.float32)
    probabilities = keras.ops.convert_to_numpy(model(network_input, training=False))
    assert probabilities.shape == (3, VOCABULARY_SIZE)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)


def test_inference_copy_has_no_recurrent_dropout_and_computes_the_same():
    settings = Settings(preset="tiny", sequence_length=SEQUENCE_LENGTH)
    assert settings.network_size.recurrent_dropout > 0, "the test needs a model that has recurrent dropout"
    model = build_network(settings, VOCABULARY_SIZE)
    # Move every weight (batch-norm statistics too) off its initial value, so
    # that a copy which missed one would compute something else.
    random = np.random.default_rng(1)
    model.set_weights([weight + random.uniform(0, 0.1, weight.shape).astype(weight.dtype) for weight in model.get_weights()])
    copy = inference_copy(model, settings, VOCABULARY_SIZE)
    assert all(layer.get_config()["recurrent_dropout"] == 0.0 for layer in copy.layers if isinstance(layer, keras.layers.LSTM))

    network_input = np.random.default_rng(2).random((5, SEQUENCE_LENGTH, 1), dtype=np.float32)
    expected = keras.ops.convert_to_numpy(model(network_input, training=False))
    got = keras.ops.convert_to_numpy(copy(network_input, training=False))
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)


# --- WindowLSTM: Keras' LSTM, computed with the input half outside the time loop ---


def keras_and_window_lstm(return_sequences: bool, seed: int = 3):
    """A keras.layers.LSTM and a WindowLSTM with recurrent dropout, the same seed and the same (non-initial) weights."""
    inputs = np.random.default_rng(0).normal(size=(4, 9, 5)).astype(np.float32)  # (batch, time, features)
    theirs = keras.layers.LSTM(6, return_sequences=return_sequences, recurrent_dropout=0.4, seed=seed)
    ours = WindowLSTM(6, return_sequences=return_sequences, recurrent_dropout=0.4, seed=seed)
    theirs(inputs), ours(inputs)  # build both
    random = np.random.default_rng(1)
    weights = [weight + random.normal(0, 0.5, weight.shape).astype(np.float32) for weight in theirs.get_weights()]
    theirs.set_weights(weights)
    ours.set_weights(weights)
    return theirs, ours, inputs


@pytest.mark.parametrize("return_sequences", [True, False])
@pytest.mark.parametrize("training", [False, True])
def test_window_lstm_computes_what_keras_lstm_computes(return_sequences, training):
    # In training both draw Keras' recurrent dropout masks from the same seed,
    # so this also checks that the masks are applied per gate as Keras does.
    theirs, ours, inputs = keras_and_window_lstm(return_sequences)
    expected = keras.ops.convert_to_numpy(theirs(inputs, training=training))
    got = keras.ops.convert_to_numpy(ours(inputs, training=training))
    assert got.shape == expected.shape
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)


def test_window_lstm_recurrent_dropout_acts_only_in_training():
    _, ours, inputs = keras_and_window_lstm(return_sequences=True)
    inference = keras.ops.convert_to_numpy(ours(inputs, training=False))
    training = keras.ops.convert_to_numpy(ours(inputs, training=True))
    assert np.abs(training - inference).max() > 1e-3


def test_window_lstm_gradients_match_keras_lstm():
    import tensorflow as tf  # gradients are the backend's business

    theirs, ours, inputs = keras_and_window_lstm(return_sequences=True)
    gradients = []
    for layer in (theirs, ours):
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(tf.square(layer(inputs, training=False)))
        gradients.append([gradient.numpy() for gradient in tape.gradient(loss, layer.trainable_variables)])
    for theirs_gradient, our_gradient in zip(*gradients):
        np.testing.assert_allclose(our_gradient, theirs_gradient, rtol=1e-4, atol=1e-5)


def test_window_lstm_in_mixed_precision_computes_in_bfloat16_near_float32():
    _, ours, inputs = keras_and_window_lstm(return_sequences=True)
    mixed = WindowLSTM(6, return_sequences=True, dtype="mixed_bfloat16")
    mixed(inputs)
    mixed.set_weights(ours.get_weights())
    output = mixed(inputs, training=False)
    assert keras.backend.standardize_dtype(output.dtype) == "bfloat16"
    assert all(keras.backend.standardize_dtype(weight.dtype) == "float32" for weight in mixed.weights)
    expected = keras.ops.convert_to_numpy(ours(inputs, training=False))
    # bfloat16 keeps 8 bits of mantissa: agreement to about 1e-2 is all it can give.
    np.testing.assert_allclose(keras.ops.convert_to_numpy(keras.ops.cast(output, "float32")), expected, atol=5e-2)
