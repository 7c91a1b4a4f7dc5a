"""Stage 3: settings -> Keras model. Every preset builds; the original preset is the original network."""

import keras
import numpy as np
import pytest

from classical_composer.network import build_network, inference_copy
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
