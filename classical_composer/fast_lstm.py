"""A faster LSTM layer: keras.layers.LSTM's function, with the input half of every gate outside the time loop.

In:  (batch, time, features) windows, exactly as keras.layers.LSTM takes them.
Out: (batch, time, units) with return_sequences, else (batch, units): the
     numbers keras.layers.LSTM(units) gives with the same weights.

Each of an LSTM's four gates adds two matrix products: this step's input times
`kernel`, and the previous step's output times `recurrent_kernel`. The first
does not depend on earlier steps, so `FastLSTM` computes it for the whole
window in one large product before the time loop, which a CPU runs faster than
one small product per step; the loop is left with the recurrent half. Keras'
own LSTM computes both halves at every step.

The weights are keras.layers.LSTM's (`kernel`, `recurrent_kernel`, `bias`,
gates in Keras' order: input, forget, candidate, output), so a model built of
one layer class takes the other's weights with `set_weights(get_weights())`.
`with_fast_lstms` and `with_stock_lstms` copy a whole model either way.

The textbook network stays built of keras.layers.LSTM; this layer is the
optional fast path, written with Keras' public API only. Where it pays, as
measured by benchmarks/fast_lstm_timing.py: docs/fast_lstm.md.
"""

import keras
from keras import layers, ops

# --- The layer ----------------------------------------------------------------


def forget_gate_bias(units: int):
    """Keras' unit_forget_bias: a bias of zeros, except ones for the forget gate, so that a new LSTM remembers."""

    def initializer(shape, dtype=None):
        return ops.concatenate([ops.zeros((units,), dtype), ops.ones((units,), dtype), ops.zeros((2 * units,), dtype)])

    return initializer


@keras.saving.register_keras_serializable(package="classical_composer")
class FastLSTM(layers.Layer):
    """keras.layers.LSTM(units) with the input half of every gate computed for the whole window at once.

    Takes the keras.layers.LSTM arguments the network uses: `units`,
    `return_sequences`, `recurrent_dropout` (with `seed`), `dtype` and
    `name`. The activations are Keras' defaults (tanh, and sigmoid for the
    gates), the initial state is zero, and no step is masked.

    Recurrent dropout acts in training only, as Keras' does: one mask per
    gate, drawn once per batch and kept for every step of the window.

    Mixed precision ("mixed_bfloat16"): the weights stay float32, the matrix
    products run in bfloat16, and the gates and the cell state stay float32,
    because the cell state sums a whole window of small changes.
    """

    def __init__(self, units: int, return_sequences: bool = False, recurrent_dropout: float = 0.0,
                 seed: int | None = None, **kwargs):
        super().__init__(**kwargs)
        if units < 1:
            raise ValueError(f"FastLSTM needs at least one unit; got units={units}")
        if not 0 <= recurrent_dropout < 1:
            raise ValueError(f"recurrent_dropout is a rate from 0 up to (not including) 1; got {recurrent_dropout}")
        self.units = units
        self.return_sequences = return_sequences
        self.recurrent_dropout = recurrent_dropout
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def build(self, input_shape):
        features, gates = input_shape[-1], 4 * self.units  # four gates side by side: input, forget, candidate, output
        # Created in keras.layers.LSTM's order and with its initializers, so get_weights lines up.
        # autocast=False: call() reads them as stored (float32) and casts the products' operands itself.
        self.kernel = self.add_weight(shape=(features, gates), initializer="glorot_uniform", name="kernel",
                                      autocast=False)
        self.recurrent_kernel = self.add_weight(shape=(self.units, gates), initializer="orthogonal",
                                                name="recurrent_kernel", autocast=False)
        self.bias = self.add_weight(shape=(gates,), initializer=forget_gate_bias(self.units), name="bias",
                                    autocast=False)

    def compute_output_shape(self, input_shape):
        batch, time = input_shape[0], input_shape[1]
        return (batch, time, self.units) if self.return_sequences else (batch, self.units)

    def call(self, inputs, training=False, mask=None):
        if mask is not None:
            raise ValueError("FastLSTM does not skip masked steps; use keras.layers.LSTM for masked input")
        product_dtype = self.compute_dtype  # bfloat16 under mixed precision, else float32
        kernel = ops.cast(self.kernel, product_dtype)
        recurrent_kernel = ops.cast(self.recurrent_kernel, product_dtype)

        # The input half of every gate, for every step at once. Time comes
        # first because the loop below steps along the first axis.
        steps = ops.transpose(inputs, (1, 0, 2))  # (time, batch, features)
        gate_inputs = ops.cast(ops.matmul(steps, kernel), "float32") + self.bias  # (time, batch, 4 x units)

        batch_size = ops.shape(inputs)[0]
        if training and self.recurrent_dropout:
            # Keras' four masks, one per gate, drawn in Keras' order from the same kind of seed.
            ones = ops.ones((batch_size, self.units), product_dtype)
            masks = [keras.random.dropout(ones, self.recurrent_dropout, seed=self.seed_generator) for _ in range(4)]
            recurrent_kernel_per_gate = ops.split(recurrent_kernel, 4, axis=1)  # 4 x (units, units)

            def recurrent_half(output):  # each gate sees the previous output through its own mask
                previous = ops.cast(output, product_dtype)
                return ops.concatenate([ops.matmul(previous * gate_mask, gate_kernel)
                                        for gate_mask, gate_kernel in zip(masks, recurrent_kernel_per_gate)], axis=-1)
        else:
            def recurrent_half(output):  # without dropout the four gates share one product
                return ops.matmul(ops.cast(output, product_dtype), recurrent_kernel)

        def step(state, gate_input):
            output, cell = state  # (batch, units) each, float32
            gates = gate_input + ops.cast(recurrent_half(output), "float32")  # (batch, 4 x units)
            input_gate, forget_gate, candidate, output_gate = ops.split(gates, 4, axis=-1)
            cell = ops.sigmoid(forget_gate) * cell + ops.sigmoid(input_gate) * ops.tanh(candidate)
            output = ops.sigmoid(output_gate) * ops.tanh(cell)
            return output, cell

        zero = ops.zeros((batch_size, self.units), "float32")  # output and cell before the first step
        # last_output: (batch, units); outputs: (time, batch, units)
        last_output, outputs = self.time_loop(step, (zero, zero), gate_inputs, training)
        if self.return_sequences:
            return ops.cast(ops.transpose(outputs, (1, 0, 2)), product_dtype)  # (batch, time, units)
        return ops.cast(last_output, product_dtype)  # (batch, units)

    def time_loop(self, step, state, gate_inputs, training=False):
        """Runs `step` along the first axis of `gate_inputs`; returns the last output and every step's, stacked.

        In training, with a known window length, the loop is unrolled: one
        copy of the step per time step, which TensorFlow's graph runs with
        less work per step than a loop, at the price of a slower first step.
        Otherwise keras.ops.scan, which XLA (predict.py compiles the network
        with it) runs faster than an unrolled window and compiles far sooner.
        """
        if training and gate_inputs.shape[0] is not None:
            outputs = []
            # unstack rather than gate_inputs[time]: the gradient of each index would be window-sized.
            for gate_input in ops.unstack(gate_inputs, axis=0):
                state = step(state, gate_input)
                outputs.append(state[0])
            return state[0], ops.stack(outputs)

        def scan_step(state, gate_input):
            state = step(state, gate_input)
            # scan stacks what a step returns second; on TensorFlow that must
            # have the state's structure, so it is the whole state.
            return state, state

        (last_output, _), (outputs, _) = ops.scan(scan_step, state, gate_inputs)
        return last_output, outputs

    def get_config(self):
        return {**super().get_config(), "units": self.units, "return_sequences": self.return_sequences,
                "recurrent_dropout": self.recurrent_dropout, "seed": self.seed}


# --- Whole models, one layer class or the other -------------------------------------

# keras.layers.LSTM settings FastLSTM does not take, each with the value it must have for the two
# to compute the same function. Initializers and `unroll` are not here: they change where a new
# layer starts and how fast it runs, not what it computes.
STOCK_ONLY_SETTINGS = {
    "activation": "tanh", "recurrent_activation": "sigmoid", "use_bias": True, "dropout": 0.0,
    "return_state": False, "go_backwards": False, "stateful": False,
    "kernel_regularizer": None, "recurrent_regularizer": None, "bias_regularizer": None,
    "activity_regularizer": None, "kernel_constraint": None, "recurrent_constraint": None, "bias_constraint": None,
}


def fast_lstm_like(lstm: layers.LSTM) -> FastLSTM:
    """A FastLSTM with the settings of a keras.layers.LSTM (not its weights)."""
    config = lstm.get_config()
    differing = [name for name, value in STOCK_ONLY_SETTINGS.items() if config[name] != value]
    if differing:
        raise ValueError(f"LSTM '{lstm.name}' sets {', '.join(differing)}, which FastLSTM does not have; "
                         "keep keras.layers.LSTM for it")
    return FastLSTM(lstm.units, return_sequences=lstm.return_sequences, recurrent_dropout=lstm.recurrent_dropout,
                    seed=config["seed"], dtype=lstm.dtype_policy, trainable=lstm.trainable, name=lstm.name)


def stock_lstm_like(fast: FastLSTM) -> layers.LSTM:
    """A keras.layers.LSTM with the settings of a FastLSTM (not its weights)."""
    return layers.LSTM(fast.units, return_sequences=fast.return_sequences, recurrent_dropout=fast.recurrent_dropout,
                       seed=fast.seed, dtype=fast.dtype_policy, trainable=fast.trainable, name=fast.name)


def with_layers_replaced(model: keras.Model, replaced_class, replacement) -> keras.Model:
    """A copy of `model` with each layer of exactly `replaced_class` made by `replacement`, holding the same weights.

    The copy is not compiled: compile it to train it.
    """

    def clone(layer):
        if type(layer) is replaced_class:  # exactly: a subclass may compute something else
            return replacement(layer)
        return layer.__class__.from_config(layer.get_config())

    copy = keras.models.clone_model(model, clone_function=clone)
    copy.set_weights(model.get_weights())
    return copy


def with_fast_lstms(model: keras.Model) -> keras.Model:
    """A copy of a functional or sequential model with every keras.layers.LSTM a FastLSTM; same weights."""
    return with_layers_replaced(model, layers.LSTM, fast_lstm_like)


def with_stock_lstms(model: keras.Model) -> keras.Model:
    """A copy with every FastLSTM a keras.layers.LSTM, e.g. to save a file that loads without this project."""
    return with_layers_replaced(model, FastLSTM, stock_lstm_like)
