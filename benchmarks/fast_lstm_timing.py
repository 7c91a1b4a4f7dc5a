"""FastLSTM against keras.layers.LSTM, and FastLSTM's time loop against the other public ones.

    python benchmarks/fast_lstm_timing.py train --preset original --sequence-length 100
    python benchmarks/fast_lstm_timing.py train --preset small --sequence-length 16 --no-recurrent-dropout
    python benchmarks/fast_lstm_timing.py generate --preset original --songs 8
    python benchmarks/fast_lstm_timing.py train --preset small --features 96 --loops fast,scan,unrolled,while_loop

In:  a network shape (preset, window length, features per step), what to time
     (training steps, or generation calls compiled with XLA as predict.py
     compiles them) and which layers.
Out: a table on stdout: milliseconds per call for each layer, and how many
     times faster than keras.layers.LSTM each one is.

The network is the LSTM stack of a preset (recurrent dropout on all but the
last LSTM in training, none in generation) and a softmax Dense layer, fed
random windows of 128 (training) or of --songs (generation). Every layer
class gets the same weights, so every one does the same arithmetic.

The layers compared:
  keras       keras.layers.LSTM, the reference;
  fast        FastLSTM as it is: the loop unrolled in training, keras.ops.scan otherwise;
  scan        FastLSTM with keras.ops.scan in training too;
  unrolled    FastLSTM with the loop unrolled in generation too;
  while_loop  FastLSTM with keras.ops.while_loop (what keras.ops.fori_loop runs on TensorFlow)
              in the last LSTM, and scan in the others: a while loop can only hand back a window
              of outputs through slice_update, which has no gradient on TensorFlow.

The machine is shared, so the layers take turns, round after round, and the
ratio is taken within each round; the table gives the median ratio and the
middle half of the rounds, in wall-clock and in CPU seconds. Results are in
docs/fast_lstm.md.
"""

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a script from anywhere

from classical_composer.cli import quiet_tensorflow  # noqa: E402  (needs the path above)

quiet_tensorflow()  # before keras loads TensorFlow

import keras  # noqa: E402
import numpy as np  # noqa: E402
from keras import ops  # noqa: E402

from classical_composer.fast_lstm import FastLSTM  # noqa: E402
from classical_composer.settings import PRESETS  # noqa: E402

BATCH_SIZE = 128  # windows per training step, the project's default
VOCABULARY_SIZE = 300  # output classes; about the faithful encoding's count

# --- FastLSTM with its time loop changed, to compare the loops -----------------------------


class ScanFastLSTM(FastLSTM):
    """FastLSTM with keras.ops.scan in training too."""

    def time_loop(self, step, state, gate_inputs, training=False):
        return super().time_loop(step, state, gate_inputs, training=False)


class UnrolledFastLSTM(FastLSTM):
    """FastLSTM with the loop unrolled in inference too."""

    def time_loop(self, step, state, gate_inputs, training=False):
        return super().time_loop(step, state, gate_inputs, training=True)


class WhileLoopFastLSTM(FastLSTM):
    """FastLSTM with keras.ops.while_loop where no window of outputs is wanted back."""

    def time_loop(self, step, state, gate_inputs, training=False):
        if self.return_sequences:
            return super().time_loop(step, state, gate_inputs, training=False)

        def body(time_step, output, cell):
            return time_step + 1, *step((output, cell), gate_inputs[time_step])

        steps = ops.shape(gate_inputs)[0]
        _, last_output, _ = ops.while_loop(lambda time_step, *_: time_step < steps, body, (0, *state))
        return last_output, None


LAYER_CLASSES = {"keras": keras.layers.LSTM, "fast": FastLSTM, "scan": ScanFastLSTM, "unrolled": UnrolledFastLSTM,
                 "while_loop": WhileLoopFastLSTM}

# --- Networks and what is timed -----------------------------------------------------------


def lstm_stack(layer_class, preset: str, sequence_length: int, features: int, recurrent_dropout: float,
               mixed_precision: bool) -> keras.Model:
    """A preset's LSTMs and a softmax Dense layer; recurrent dropout on all but the last LSTM, as the network has it."""
    size = PRESETS[preset]
    dtype = "mixed_bfloat16" if mixed_precision else "float32"
    inputs = keras.Input(shape=(sequence_length, features))  # (batch, time, features)
    x = inputs
    for layer_number in range(size.lstm_layers):
        is_last = layer_number == size.lstm_layers - 1
        x = layer_class(size.lstm_units, return_sequences=not is_last,
                        recurrent_dropout=0.0 if is_last else recurrent_dropout, dtype=dtype)(x)
    outputs = keras.layers.Dense(VOCABULARY_SIZE, activation="softmax", dtype=dtype)(x)  # (batch, vocabulary)
    return keras.Model(inputs, outputs)


def training_step(model: keras.Model, windows: np.ndarray):
    """One RMSprop step on cross-entropy, as train.py takes them."""
    model.compile(optimizer=keras.optimizers.RMSprop(), loss="sparse_categorical_crossentropy")
    targets = np.random.default_rng(1).integers(0, VOCABULARY_SIZE, len(windows))
    return lambda: model.train_on_batch(windows, targets)


def generation_call(model: keras.Model, windows: np.ndarray):
    """One call of the network compiled with XLA, as predict.py's probability_function makes it."""
    import tensorflow as tf  # the compiled path is TensorFlow's

    @tf.function(jit_compile=True)
    def next_token_probabilities(network_input):
        return model(network_input, training=False)

    network_input = tf.constant(windows)
    return lambda: next_token_probabilities(network_input).numpy()


# --- Timing -------------------------------------------------------------------------------


def time_in_turns(calls: dict, rounds: int, calls_per_round: int) -> tuple[dict, dict]:
    """Wall-clock and CPU seconds per call of each function, one entry per round; the functions take turns.

    CPU seconds (this process's, all its threads) count the work done and
    not the time spent waiting while other programs have the cores, so on a
    shared machine they vary less from round to round than wall-clock seconds.
    """
    wall, cpu = {name: [] for name in calls}, {name: [] for name in calls}
    names = list(calls)
    for round_number in range(rounds):
        # Start each round with a different layer, so that none always runs after the same one.
        turn = names[round_number % len(names):] + names[:round_number % len(names)]
        for name in turn:
            wall_start, cpu_start = time.perf_counter(), time.process_time()
            for _ in range(calls_per_round):
                calls[name]()
            wall[name].append((time.perf_counter() - wall_start) / calls_per_round)
            cpu[name].append((time.process_time() - cpu_start) / calls_per_round)
    return wall, cpu


def report(wall: dict, cpu: dict, first_call_seconds: dict) -> None:
    """One line per layer: medians over rounds, and keras.layers.LSTM's time over this layer's within each round."""
    print(f"{'layer':12s} {'first call':>10s} {'wall ms':>9s} {'keras/this':>10s} {'middle half':>12s}"
          f" {'CPU ms':>9s} {'keras/this':>10s} {'middle half':>12s}")
    for name in wall:
        line = f"{name:12s} {first_call_seconds[name]:9.1f}s"
        for seconds in (wall, cpu):
            times = np.array(seconds[name])
            ratios = np.array(seconds["keras"]) / times
            line += (f" {1000 * np.median(times):9.1f} {np.median(ratios):9.2f}x"
                     f" {np.percentile(ratios, 25):6.2f}-{np.percentile(ratios, 75):.2f}")
        print(line)


def parse_arguments(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("what", choices=["train", "generate"], help="training steps, or XLA-compiled generation calls")
    parser.add_argument("--preset", default="original", choices=sorted(PRESETS), help="the LSTM stack's size")
    parser.add_argument("--sequence-length", type=int, default=100, help="time steps per window")
    parser.add_argument("--features", type=int, default=1,
                        help="numbers per time step: 1 = the original's scaled index, 96 = an embedding's width")
    parser.add_argument("--no-recurrent-dropout", action="store_true",
                        help="train without the preset's recurrent dropout")
    parser.add_argument("--mixed-precision", action="store_true", help="bfloat16 products, float32 weights")
    parser.add_argument("--songs", type=int, default=1, help="windows per generation call")
    parser.add_argument("--loops", default="fast", help="comma-separated layers to time against keras: "
                        + ", ".join(name for name in LAYER_CLASSES if name != "keras"))
    parser.add_argument("--rounds", type=int, default=6, help="turns each layer takes")
    parser.add_argument("--calls", type=int, default=1, help="calls timed in each turn")
    return parser.parse_args(argv)


def main(argv=None) -> None:
    import tensorflow as tf

    # Every layer's network is a function of its own, which TensorFlow's note on retracing mistakes for waste.
    tf.get_logger().setLevel("ERROR")
    arguments = parse_arguments(argv)
    training = arguments.what == "train"
    with_dropout = training and not arguments.no_recurrent_dropout  # generation never drops
    recurrent_dropout = PRESETS[arguments.preset].recurrent_dropout if with_dropout else 0.0
    windows = np.random.default_rng(0).random(
        (BATCH_SIZE if training else arguments.songs, arguments.sequence_length, arguments.features), dtype=np.float32)
    print(f"{arguments.what}: preset {arguments.preset}, windows of {arguments.sequence_length} x "
          f"{arguments.features}, batch {len(windows)}, recurrent dropout {recurrent_dropout}"
          + (", mixed precision" if arguments.mixed_precision else ""))

    calls, first_call_seconds, reference_weights = {}, {}, None
    for name in ["keras"] + arguments.loops.split(","):
        model = lstm_stack(LAYER_CLASSES[name], arguments.preset, arguments.sequence_length, arguments.features,
                           recurrent_dropout, arguments.mixed_precision)
        if reference_weights is None:
            reference_weights = model.get_weights()
        model.set_weights(reference_weights)
        calls[name] = (training_step if training else generation_call)(model, windows)
        start = time.perf_counter()
        calls[name]()  # builds the graph (and compiles it with XLA, for generation)
        first_call_seconds[name] = time.perf_counter() - start
        calls[name]()
    report(*time_in_turns(calls, arguments.rounds, arguments.calls), first_call_seconds)


if __name__ == "__main__":
    main()
