"""Stage 3 of 4: settings -> a Keras model.

In:  the settings (preset, sequence length, mixed precision) and the vocabulary size.
Out: a compiled `keras.Model` mapping (batch, sequence_length, 1) inputs to
     (batch, vocabulary_size) next-token probabilities; and an inference copy
     of a trained model for fast generation.

The shape is the original's, whatever the preset:

    LSTM -> LSTM -> ... -> LSTM            (all but the last return sequences)
    -> BatchNorm -> Dropout -> Dense -> ReLU -> BatchNorm -> Dropout
    -> Dense(vocabulary) -> softmax

trained with RMSprop on cross-entropy. The targets are class numbers, so the
loss is the sparse form of the original's categorical cross-entropy: the same
number, without a one-hot row per window.
"""

import keras
from keras import layers

from classical_composer.settings import Settings


def build_network(settings: Settings, vocabulary_size: int, for_inference: bool = False) -> keras.Model:
    """The original network, sized by the preset.

    `for_inference=True` leaves out recurrent dropout. Dropout does nothing
    when not training, so this copy computes the same function as the trained
    model once it holds the same weights, and Keras can run it as one fused,
    compiled graph.
    """
    size = settings.network_size
    # Mixed precision: compute in bfloat16, keep weights (and, below, the
    # softmax) in float32 so that small probabilities do not round to zero.
    dtype_policy = "mixed_bfloat16" if settings.mixed_precision else "float32"

    inputs = keras.Input(shape=(settings.sequence_length, 1), name="scaled_token_indices")  # (batch, time, 1)
    x = inputs
    for layer_number in range(size.lstm_layers):
        is_last = layer_number == size.lstm_layers - 1
        x = layers.LSTM(
            size.lstm_units,
            return_sequences=not is_last,
            # The original put recurrent dropout on all LSTMs but the last.
            recurrent_dropout=0.0 if (is_last or for_inference) else size.recurrent_dropout,
            dtype=dtype_policy,
            name=f"lstm_{layer_number + 1}",
        )(x)
    # x: (batch, lstm_units), the summary of the whole window
    x = layers.BatchNormalization(dtype=dtype_policy)(x)
    x = layers.Dropout(size.dropout)(x)
    x = layers.Dense(size.dense_units, dtype=dtype_policy)(x)
    x = layers.Activation("relu", dtype=dtype_policy)(x)
    x = layers.BatchNormalization(dtype=dtype_policy)(x)
    x = layers.Dropout(size.dropout)(x)
    x = layers.Dense(vocabulary_size, dtype=dtype_policy, name="token_logits")(x)
    outputs = layers.Activation("softmax", dtype="float32", name="next_token_probabilities")(x)  # (batch, vocabulary)

    model = keras.Model(inputs, outputs, name=f"composer_{settings.preset}")
    model.compile(
        optimizer=keras.optimizers.RMSprop(),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    return model


def inference_copy(model: keras.Model, settings: Settings, vocabulary_size: int) -> keras.Model:
    """The same network without recurrent dropout, holding the trained model's weights."""
    copy = build_network(settings, vocabulary_size, for_inference=True)
    copy.set_weights(model.get_weights())
    return copy
