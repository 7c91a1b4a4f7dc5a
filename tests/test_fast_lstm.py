"""FastLSTM computes what keras.layers.LSTM computes, with the same weights, and models move between the two."""

import keras
import numpy as np
import pytest
import tensorflow as tf  # gradients and XLA are the backend's business

from classical_composer.fast_lstm import FastLSTM, with_fast_lstms, with_stock_lstms

UNITS = 6
RECURRENT_DROPOUT = 0.4


def windows(batch: int = 4, time: int = 9, features: int = 5, seed: int = 0) -> np.ndarray:
    # (batch, time, features)
    return np.random.default_rng(seed).normal(size=(batch, time, features)).astype(np.float32)


def keras_and_fast_lstm(return_sequences: bool, recurrent_dropout: float = RECURRENT_DROPOUT, seed: int = 3):
    """A keras.layers.LSTM and a FastLSTM with the same recurrent dropout, seed and (non-initial) weights.

    Both are built without being called: keras.layers.LSTM draws its dropout
    masks on every call, FastLSTM only in training, so a first call would put
    their random streams out of step.
    """
    inputs = windows()
    theirs = keras.layers.LSTM(UNITS, return_sequences=return_sequences, recurrent_dropout=recurrent_dropout, seed=seed)
    ours = FastLSTM(UNITS, return_sequences=return_sequences, recurrent_dropout=recurrent_dropout, seed=seed)
    theirs.build(inputs.shape)
    ours.build(inputs.shape)
    # Weights away from their initial values, so that a gate taken from the wrong slice would show.
    random = np.random.default_rng(1)
    weights = [weight + random.normal(0, 0.5, weight.shape).astype(np.float32) for weight in theirs.get_weights()]
    theirs.set_weights(weights)
    ours.set_weights(weights)
    return theirs, ours, inputs


def small_network(lstm_class, dtype: str = "float32") -> keras.Model:
    """Two LSTMs and a Dense layer, the network's shape in miniature."""
    inputs = keras.Input(shape=(9, 5))  # (batch, time, features)
    x = lstm_class(UNITS, return_sequences=True, recurrent_dropout=RECURRENT_DROPOUT, dtype=dtype,
                   name="lstm_1")(inputs)
    x = lstm_class(UNITS, dtype=dtype, name="lstm_2")(x)
    outputs = keras.layers.Dense(3, dtype=dtype)(x)
    return keras.Model(inputs, outputs)


def as_numpy(tensor) -> np.ndarray:
    return keras.ops.convert_to_numpy(keras.ops.cast(tensor, "float32"))


# --- The same function ---------------------------------------------------------------


def test_fast_lstm_has_keras_lstm_weights():
    theirs, ours, _ = keras_and_fast_lstm(return_sequences=True)
    assert [weight.name for weight in ours.weights] == [weight.name for weight in theirs.weights]
    assert [weight.shape for weight in ours.weights] == [weight.shape for weight in theirs.weights]
    # A new layer starts as Keras' does: the forget gate's bias at one, the others at zero.
    new = FastLSTM(UNITS)
    new.build((None, 9, 5))
    np.testing.assert_array_equal(as_numpy(new.bias), np.repeat([0.0, 1.0, 0.0, 0.0], UNITS))


@pytest.mark.parametrize("return_sequences", [True, False])
@pytest.mark.parametrize("training", [False, True])  # the two time loops: scan, and unrolled in training
@pytest.mark.parametrize("recurrent_dropout", [0.0, RECURRENT_DROPOUT])
def test_fast_lstm_computes_what_keras_lstm_computes(return_sequences, training, recurrent_dropout):
    # In training both draw Keras' recurrent dropout masks from the same seed,
    # so this also checks that each gate gets its own mask, as in Keras.
    theirs, ours, inputs = keras_and_fast_lstm(return_sequences, recurrent_dropout)
    expected = as_numpy(theirs(inputs, training=training))
    got = as_numpy(ours(inputs, training=training))
    assert got.shape == expected.shape == ((4, 9, UNITS) if return_sequences else (4, UNITS))
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)


def test_a_window_of_unknown_length_trains_through_scan_the_same():
    # Unrolling needs the window length; without it training takes the scan loop.
    theirs, ours, inputs = keras_and_fast_lstm(return_sequences=True)
    unknown_length = tf.function(lambda network_input: ours(network_input, training=True),
                                 input_signature=[tf.TensorSpec((None, None, inputs.shape[-1]), tf.float32)])
    np.testing.assert_allclose(as_numpy(unknown_length(inputs)), as_numpy(theirs(inputs, training=True)),
                               rtol=1e-5, atol=1e-6)


def test_recurrent_dropout_acts_only_in_training():
    _, ours, inputs = keras_and_fast_lstm(return_sequences=True)
    inference = as_numpy(ours(inputs, training=False))
    assert np.array_equal(inference, as_numpy(ours(inputs, training=False)))  # no randomness outside training
    assert np.abs(as_numpy(ours(inputs, training=True)) - inference).max() > 1e-3


@pytest.mark.parametrize("training", [False, True])  # scan, and the unrolled loop with dropout masks
def test_gradients_match_keras_lstm(training):
    theirs, ours, inputs = keras_and_fast_lstm(return_sequences=True)
    inputs = tf.constant(inputs)
    gradients = []
    for layer in (theirs, ours):
        with tf.GradientTape() as tape:
            tape.watch(inputs)
            loss = tf.reduce_sum(tf.square(layer(inputs, training=training)))
        gradients.append(tape.gradient(loss, [inputs, *layer.trainable_variables]))  # inputs, kernel, recurrent, bias
    for theirs_gradient, our_gradient in zip(*gradients):
        np.testing.assert_allclose(as_numpy(our_gradient), as_numpy(theirs_gradient), rtol=1e-4, atol=1e-5)


def test_compiled_with_xla_it_computes_the_same():
    # predict.py compiles its inference network with XLA.
    theirs, ours, inputs = keras_and_fast_lstm(return_sequences=False)
    compiled = tf.function(lambda network_input: ours(network_input, training=False), jit_compile=True)
    np.testing.assert_allclose(as_numpy(compiled(tf.constant(inputs))), as_numpy(theirs(inputs, training=False)),
                               rtol=1e-5, atol=1e-6)


def test_mixed_precision_computes_in_bfloat16_near_float32():
    _, ours, inputs = keras_and_fast_lstm(return_sequences=True)
    mixed = FastLSTM(UNITS, return_sequences=True, dtype="mixed_bfloat16")
    mixed.build(inputs.shape)
    mixed.set_weights(ours.get_weights())
    output = mixed(inputs, training=False)
    assert keras.backend.standardize_dtype(output.dtype) == "bfloat16"
    assert all(keras.backend.standardize_dtype(weight.dtype) == "float32" for weight in mixed.weights)
    # bfloat16 keeps 8 bits of mantissa: agreement to about 1e-2 is all it can give.
    np.testing.assert_allclose(as_numpy(output), as_numpy(ours(inputs, training=False)), atol=5e-2)


# --- Whole models, either way ------------------------------------------------------------


def test_weights_copy_between_networks_built_with_either_class():
    stock, fast = small_network(keras.layers.LSTM), small_network(FastLSTM)
    inputs = windows()
    fast.set_weights(stock.get_weights())
    np.testing.assert_allclose(as_numpy(fast(inputs)), as_numpy(stock(inputs)), rtol=1e-5, atol=1e-6)
    random = np.random.default_rng(2)
    fast.set_weights([weight + random.normal(0, 0.1, weight.shape).astype(np.float32) for weight in fast.get_weights()])
    stock.set_weights(fast.get_weights())
    np.testing.assert_allclose(as_numpy(stock(inputs)), as_numpy(fast(inputs)), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("dtype", ["float32", "mixed_bfloat16"])
def test_with_fast_lstms_and_back_keep_the_settings_and_the_function(dtype):
    stock = small_network(keras.layers.LSTM, dtype)
    fast = with_fast_lstms(stock)
    assert [type(layer).__name__ for layer in fast.layers] == ["InputLayer", "FastLSTM", "FastLSTM", "Dense"]
    assert [layer.name for layer in fast.layers[1:]] == [layer.name for layer in stock.layers[1:]]
    assert [(layer.return_sequences, layer.recurrent_dropout, layer.dtype_policy.name) for layer in fast.layers[1:3]] \
        == [(True, RECURRENT_DROPOUT, dtype), (False, 0.0, dtype)]
    back = with_stock_lstms(fast)
    assert [type(layer) for layer in back.layers[1:3]] == [keras.layers.LSTM, keras.layers.LSTM]
    inputs = windows()
    expected = as_numpy(stock(inputs))
    for copy in (fast, back):
        for weight, copied in zip(stock.get_weights(), copy.get_weights()):
            np.testing.assert_array_equal(copied, weight)
        # Mixed precision: FastLSTM keeps its gates in float32 where Keras' LSTM rounds them to bfloat16.
        np.testing.assert_allclose(as_numpy(copy(inputs)), expected, atol=1e-5 if dtype == "float32" else 5e-2)


def test_with_fast_lstms_refuses_an_lstm_it_cannot_stand_in_for():
    inputs = keras.Input(shape=(9, 5))
    model = keras.Model(inputs, keras.layers.LSTM(UNITS, go_backwards=True, name="backwards")(inputs))
    with pytest.raises(ValueError, match="'backwards' sets go_backwards"):
        with_fast_lstms(model)


def test_a_model_of_fast_lstms_saves_and_loads(tmp_path):
    model = small_network(FastLSTM)
    path = tmp_path / "fast.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    assert [type(layer).__name__ for layer in loaded.layers] == ["InputLayer", "FastLSTM", "FastLSTM", "Dense"]
    assert loaded.layers[1].get_config() == model.layers[1].get_config()
    inputs = windows()
    np.testing.assert_array_equal(as_numpy(loaded(inputs)), as_numpy(model(inputs)))
