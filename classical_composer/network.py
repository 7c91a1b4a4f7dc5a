"""Stage 3 of 4: settings -> a Keras model.

In:  the settings (preset, input, sequence length, optimizer, mixed precision),
     the vocabulary size, and with --token-parts the token-to-parts matrix.
Out: a compiled `keras.Model` mapping a window of tokens to the next token's
     probabilities, (batch, vocabulary_size), or with --every-step to the
     next token's after every step, (batch, time, vocabulary_size); and an
     inference copy of a trained model for fast generation, always (batch, vocabulary_size);
     and for a network trained on chunks, a copy that reads windows of any
     length, carrying its LSTM state from call to call if asked (any_length_copy).
     With --model transformer the network is transformer.py's, compiled here the same way.

The shape is the original's, whatever the preset:

    input -> LSTM -> LSTM -> ... -> LSTM   (all but the last return sequences)
    -> BatchNorm -> Dropout -> Dense -> ReLU -> BatchNorm -> Dropout
    -> Dense(vocabulary) -> softmax

trained with RMSprop on cross-entropy. The targets are class numbers, so the
loss is the sparse form of the original's categorical cross-entropy: the same
number, without a one-hot row per window.

The input is one of three (see prepare_sequences.NetworkInput):

    the original     one number per step, index / vocabulary size: (batch, time, 1)
    --embedding N    a learned vector of N numbers per token:       (batch, time) indices
    --token-parts    the same, plus the sum of the vectors of the token's parts

With --composers the network has a second input, the piece's composer at
every step, (batch, time) indices, whose learned vector goes beside the token's.

Every layer is a stock Keras layer, so a saved model loads in any Keras 3
without this project's code. `fast_lstm=True` swaps in FastLSTM
(fast_lstm.py), which computes the same function faster on a CPU; training
and generation use it, and bundles are saved with keras.layers.LSTM.
"""

import keras
import numpy as np
from keras import layers

from classical_composer.fast_lstm import FastLSTM
from classical_composer.network_parts import (
    PART_SCORES, PARTS_TO_TOKENS, PROBABILITIES, TOKEN_AND_PART_LOGITS, TOKEN_LOGITS, TOKEN_PARTS, composer_vectors,
    network_inputs, token_scores, token_vectors,
)
from classical_composer.prepare_sequences import NetworkInput
from classical_composer.settings import OPTIMIZERS, Settings
from classical_composer.transformer import build_transformer

COMPOSER_VECTOR_SIZE = 16  # numbers in the LSTM's learned vector of each composer

# --- The network ---------------------------------------------------------------------


def build_network(settings: Settings, vocabulary_size: int, part_matrix: np.ndarray | None = None,
                  fast_lstm: bool = False, composer_count: int = 0) -> keras.Model:
    """The original network, sized by the preset, reading its input as the settings say.

    part_matrix:    (vocabulary, parts) from token_parts.py; needed with --token-parts only.
    fast_lstm:      build the LSTMs as FastLSTM, the same function and weights, faster to train.
    composer_count: the number of composers; needed with --composers only.
    With --model transformer: transformer.py's network instead, compiled the same way.
    """
    if settings.token_parts and part_matrix is None:
        raise ValueError("a network with token parts needs the token-to-parts matrix")
    if settings.composers and composer_count < 1:
        raise ValueError("a network that reads the composer needs the number of composers")
    part_count = part_matrix.shape[1] if settings.token_parts else 0
    composer_count = composer_count if settings.composers else 0
    if settings.model == "transformer":
        model = build_transformer(settings, vocabulary_size, part_count, composer_count)
    else:
        model = build_lstm_network(settings, vocabulary_size, part_count, fast_lstm, composer_count)
    if settings.token_parts:
        # The fixed matrix, in both directions: token -> parts, and parts -> token scores.
        model.get_layer(TOKEN_PARTS).set_weights([part_matrix])
        model.get_layer(PARTS_TO_TOKENS).set_weights([part_matrix.T])
    optimizer_class = getattr(keras.optimizers, OPTIMIZERS[settings.optimizer])
    if settings.predicts_every_step:
        # Validation weighs only the last step (see WindowBatches): divide by the weights, not the steps.
        loss = keras.losses.SparseCategoricalCrossentropy(reduction="mean_with_sample_weight")
        model.compile(optimizer=optimizer_class(learning_rate=settings.learning_rate), loss=loss,
                      weighted_metrics=["accuracy"])
    else:
        model.compile(optimizer=optimizer_class(learning_rate=settings.learning_rate),
                      loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def build_lstm_network(settings: Settings, vocabulary_size: int, part_count: int, fast_lstm: bool,
                       composer_count: int = 0) -> keras.Model:
    """The original network, not yet compiled (build_network compiles it)."""
    size = settings.network_size
    # Mixed precision: compute in bfloat16, keep weights (and, below, the
    # softmax) in float32 so that small probabilities do not round to zero.
    dtype_policy = "mixed_bfloat16" if settings.mixed_precision else "float32"

    inputs, composer_indices = network_inputs(settings, vocabulary_size)
    x = token_vectors(inputs, settings, vocabulary_size, part_count, dtype_policy)
    if composer_indices is not None:
        x = layers.Concatenate(dtype=dtype_policy, name="token_and_composer")(
            [x, composer_vectors(composer_indices, composer_count, COMPOSER_VECTOR_SIZE, dtype_policy)])
    lstm_class = FastLSTM if fast_lstm else layers.LSTM
    for layer_number in range(size.lstm_layers):
        is_last = layer_number == size.lstm_layers - 1
        x = lstm_class(
            size.lstm_units,
            # With --every-step the last LSTM too returns every step, and the
            # layers after it act on each step alone.
            return_sequences=not is_last or settings.predicts_every_step,
            # The original put recurrent dropout on all LSTMs but the last.
            recurrent_dropout=0.0 if is_last else size.recurrent_dropout,
            dtype=dtype_policy,
            name=f"lstm_{layer_number + 1}",
        )(x)
    # x: (batch, lstm_units), the summary of the whole window; with --every-step (batch, time, lstm_units)
    x = layers.BatchNormalization(dtype=dtype_policy)(x)
    x = layers.Dropout(size.dropout, dtype=dtype_policy)(x)
    x = layers.Dense(size.dense_units, dtype=dtype_policy)(x)
    x = layers.Activation("relu", dtype=dtype_policy)(x)
    x = layers.BatchNormalization(dtype=dtype_policy)(x)
    x = layers.Dropout(size.dropout, dtype=dtype_policy)(x)
    x = token_scores(x, settings, vocabulary_size, part_count, dtype_policy)
    outputs = layers.Activation("softmax", dtype="float32", name=PROBABILITIES)(x)  # (batch, [time,] vocabulary)

    return keras.Model(NetworkInput.model_inputs(inputs, composer_indices), outputs, name=f"composer_{settings.preset}")


def last_step(model: keras.Model) -> keras.Model:
    """The model itself, or for --every-step a model of its probabilities after the window's last step.

    The last step is taken before the output layers, which then score the
    vocabulary once per window instead of once per step: with thousands of
    classes they are the largest product of the network.
    """
    if len(model.output.shape) == 2:  # (batch, vocabulary)
        return model

    def reapply(layer_name: str, x):  # the trained layer itself, so the weights are shared
        return model.get_layer(layer_name)(x)

    features = model.get_layer(TOKEN_LOGITS).input[:, -1]  # (batch, features): what token_scores reads
    scores = reapply(TOKEN_LOGITS, features)
    if any(layer.name == PART_SCORES for layer in model.layers):  # the same sum as token_scores makes
        summed = reapply(PARTS_TO_TOKENS, reapply(PART_SCORES, features))
        scores = reapply(TOKEN_AND_PART_LOGITS, [scores, summed])
    return keras.Model(model.input, reapply(PROBABILITIES, scores), name=f"{model.name}_last_step")


def fast_lstm_pays() -> bool:
    """FastLSTM on a CPU; on a GPU keras.layers.LSTM, whose cuDNN kernel is faster still."""
    import tensorflow as tf  # Keras runs on TensorFlow here

    return not tf.config.list_physical_devices("GPU")


def inference_copy(model: keras.Model) -> keras.Model:
    """The same network for generation: (batch, vocabulary), without recurrent dropout, on FastLSTM on a CPU.

    Dropout does nothing when not training, so this copy computes the same
    function as the trained model; FastLSTM computes it faster, and Keras can
    run the copy as one fused graph. A network without LSTMs (the transformer)
    has nothing to swap: its last step is used as it is.
    """
    if not any(isinstance(layer, (layers.LSTM, FastLSTM)) for layer in model.layers):
        return last_step(model)

    lstm_class = FastLSTM if fast_lstm_pays() else layers.LSTM

    def fast_without_recurrent_dropout(layer):
        if isinstance(layer, (layers.LSTM, FastLSTM)):
            return lstm_class(layer.units, return_sequences=layer.return_sequences, dtype=layer.dtype_policy,
                              name=layer.name)
        return layer.__class__.from_config(layer.get_config())

    copy = keras.models.clone_model(model, clone_function=fast_without_recurrent_dropout)
    copy.set_weights(model.get_weights())
    return last_step(copy)


def any_length_copy(model: keras.Model, batch_size: int | None = None, carries_state: bool = False,
                    steps: int | None = None) -> keras.Model:
    """The same network reading windows of any length: (batch, time) in, (batch, time, vocabulary) out.

    For a network that learned every step (--chunks): evaluate.py reads each
    held-out piece whole with it. carries_state=True makes its LSTMs stateful:
    each call starts where the last one ended, so generation can read the
    seed once and then one token a call; that needs a fixed batch_size (the
    songs) and `reset_lstm_states` before each new batch of songs.
    steps: a fixed number of steps a call instead of any; the LSTMs then run
    unrolled, without a loop, which makes a one-step call cheaper.
    The stock LSTM is used here, FastLSTM's gain being in long windows.
    """

    def any_length_input(tensor):
        return keras.Input(batch_shape=(batch_size, steps, *tensor.shape[2:]), dtype=tensor.dtype, name=tensor.name)

    def stock_lstm_without_recurrent_dropout(layer):
        if isinstance(layer, (layers.LSTM, FastLSTM)):
            return layers.LSTM(layer.units, return_sequences=True, stateful=carries_state, unroll=steps is not None,
                               dtype=layer.dtype_policy, name=layer.name)
        return layer.__class__.from_config(layer.get_config())

    inputs = keras.tree.map_structure(any_length_input, model.input)
    copy = keras.models.clone_model(model, input_tensors=inputs, clone_function=stock_lstm_without_recurrent_dropout)
    copy.set_weights(model.get_weights())
    return copy


def stateful_lstms(model: keras.Model) -> list:
    """The LSTM layers of an any_length_copy that carry their state, in the network's order."""
    return [layer for layer in model.layers if isinstance(layer, layers.LSTM) and layer.stateful]


def reset_lstm_states(model: keras.Model) -> None:
    """Zero the carried state of every stateful LSTM of an any_length_copy, to start new songs."""
    for layer in stateful_lstms(model):
        layer.reset_state()


def copy_lstm_states(source: keras.Model, target: keras.Model) -> None:
    """Hand the carried states of one stateful copy of a network to another copy of the same network."""
    for from_layer, to_layer in zip(stateful_lstms(source), stateful_lstms(target), strict=True):
        for from_state, to_state in zip(from_layer.states, to_layer.states, strict=True):
            to_state.assign(from_state)


def compiled_function(model: keras.Model, jit_compile: bool):
    """The model as one compiled graph: network input (an array, or a dict of them) -> its output as numpy.

    Calling a Keras model step by step runs it layer by layer; one traced
    function runs it as a whole. jit_compile also fuses it with XLA, which
    pays for the small repeated calls of generation; reduce_retracing lets
    windows of new lengths reuse one trace.
    """
    import tensorflow as tf  # the compiled path is TensorFlow's; Keras runs on it here

    @tf.function(jit_compile=jit_compile, reduce_retracing=True)
    def run(network_input):
        return model(network_input, training=False)

    # A dict of inputs (with --composers) becomes a dict of tensors.
    return lambda network_input: run(tf.nest.map_structure(tf.constant, network_input)).numpy()
