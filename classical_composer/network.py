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

Each LSTM is a `WindowLSTM`: Keras' LSTM, with the same weights and the same
function, computed in an order that suits a CPU (see the class).
"""

import keras
from keras import layers, ops
# The loop over time steps that keras.layers.LSTM itself runs on. It is not in
# Keras' public API (keras.ops.scan is, but runs this layer's training about a
# tenth slower), so requirements.txt pins the Keras version it comes from.
from keras.src.backend import rnn as time_loop

from classical_composer.settings import Settings

# --- The LSTM layer -------------------------------------------------------------


@keras.saving.register_keras_serializable(package="classical_composer")
class WindowLSTM(layers.LSTM):
    """keras.layers.LSTM, with the input half of every gate computed before the time loop.

    Each of an LSTM's four gates adds two matrix products: this step's input
    times `kernel`, and the previous step's output times `recurrent_kernel`.
    The first does not depend on earlier steps, so here it is computed for
    the whole window in one large product, which a CPU runs far faster than
    a hundred small ones; the time loop is left with the recurrent half.
    Keras' own LSTM computes both halves at every step.

    Same weights (kernel, recurrent_kernel, bias), same gates, and the same
    recurrent dropout: one mask per gate, drawn by Keras once per batch and
    kept for every step of the window. A model saved with keras.layers.LSTM
    loads its weights into this layer unchanged. On the faithful network this
    trains about 1.3x and generates about 2x faster; on the small preset, whose
    products are small anyway, it is as fast as Keras' LSTM.

    Mixed precision: the weights are cast to bfloat16 once per batch (Keras'
    LSTM casts them at every step, which costs more than bfloat16 saves),
    the matrix products run in bfloat16, and the gates and the cell state
    stay in float32, as the summing of a hundred steps wants.
    """

    def inner_loop(self, sequences, initial_state, mask, training=False):
        # The network never masks, reverses, drops inputs or carries state between batches.
        assert mask is None and not self.go_backwards and not self.stateful and not self.cell.dropout
        cell = self.cell
        # Reading a variable inside the layer casts it to the compute dtype: here once per batch.
        # The products run in that dtype, the gates and the state in float32; in a float32
        # network every ops.cast below is to the dtype the tensor already has, and adds nothing.
        kernel, recurrent_kernel, bias = (ops.convert_to_tensor(weight)
                                          for weight in (cell.kernel, cell.recurrent_kernel, cell.bias))

        # The input half of every gate, for every step at once.
        gate_inputs = ops.cast(ops.matmul(sequences, kernel) + bias, "float32")  # (batch, time, 4 x units)

        # Recurrent dropout (training only): Keras' four masks, one per gate,
        # drawn once per batch and kept for every step of the window.
        masks = None
        if training and cell.recurrent_dropout:
            masks = cell.get_recurrent_dropout_mask(initial_state[0])  # 4 x (batch, units)
            recurrent_kernel_per_gate = ops.split(recurrent_kernel, 4, axis=1)  # 4 x (units, units)

        def step(gate_input, state):
            output, carry = state  # (batch, units) each, float32
            previous = ops.cast(output, self.compute_dtype)
            if masks is None:  # the four gates share one product
                recurrent = ops.split(ops.cast(ops.matmul(previous, recurrent_kernel), "float32"), 4, axis=-1)
            else:  # each gate sees its own dropout
                recurrent = [ops.cast(ops.matmul(previous * gate_mask, gate_kernel), "float32")
                             for gate_mask, gate_kernel in zip(masks, recurrent_kernel_per_gate)]
            input_gate, forget_gate, candidate, output_gate = (
                gate + product for gate, product in zip(ops.split(gate_input, 4, axis=-1), recurrent))
            carry = (cell.recurrent_activation(forget_gate) * carry
                     + cell.recurrent_activation(input_gate) * cell.activation(candidate))
            output = cell.recurrent_activation(output_gate) * cell.activation(carry)
            return output, [output, carry]

        last_output, outputs, (_, last_carry) = time_loop(
            step, gate_inputs, [ops.cast(state, "float32") for state in initial_state],
            input_length=sequences.shape[1], return_all_outputs=self.return_sequences)
        # outputs: (batch, time, units) with return_sequences, else the last output alone.
        last_output, outputs, last_carry = (ops.cast(tensor, self.compute_dtype)
                                            for tensor in (last_output, outputs, last_carry))
        return last_output, outputs, [last_output, last_carry]


# --- The network ------------------------------------------------------------------


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
        x = WindowLSTM(
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
