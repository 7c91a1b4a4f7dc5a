"""How far two of the benchmark's goals can go on this CPU: the ceilings over them.

    python benchmarks/ceilings.py                 # about 2 minutes on 2 cores
    python benchmarks/ceilings.py --json out.json

In:  nothing: random tensors and random tokens shaped like the faithful
     network's (3 x LSTM(512), windows of 100, batches of 128).
Out: two tables, and with --json the same figures:
  batch            the matrix products of one generation step of 8 songs,
                   alone (no gates), compiled with XLA as predict.py compiles
                   its step, against one song's whole step on predict.py's
                   path. A step cannot cost less than its products, so their
                   ratio is a floor under what `--num-songs 8` costs.
  mixed_precision  the matrix products of one training step, each timed on
                   its own in float32 and in bfloat16, and the whole step in
                   both. If bfloat16 sped up the products as much as it does
                   on their own, and the rest of the step cost what it costs
                   in float32, a step would be
                   (float32 step) / (float32 step - float32 products + bfloat16 products)
                   times faster: the ceiling.

run.py measures what the project does; this measures what the CPU and
TensorFlow's kernels allow.
"""

import argparse
import json
import sys
import time
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_ROOT))  # run as a script from anywhere

from classical_composer.cli import quiet_tensorflow, run  # noqa: E402  (needs the path above)

ONE_SONG_NOTES = 30  # notes of one song timed for its step
TRAIN_STEPS = 4  # gradient steps a timed fit; the first of every fit is left out
TRAIN_ROUNDS = 3  # timed fits of each precision, taken in turns


# --- Timing ------------------------------------------------------------------------


def seconds_per_repeat(compiled, argument, repeats: int) -> float:
    """Median over 5 calls of a compiled function that does its work `repeats` times, per repeat."""
    compiled(argument).numpy()  # trace and compile once
    times = []
    for _ in range(5):
        start = time.perf_counter()
        compiled(argument).numpy()
        times.append((time.perf_counter() - start) / repeats)
    return sorted(times)[2]


def product_seconds(dtype, a_shape, b_shape, transpose_a=False, transpose_b=False) -> float:
    """Seconds of one matrix product in a TensorFlow graph, as model.fit runs it."""
    import tensorflow as tf  # imported in each function, after main() has quietened its start-up messages
    repeats = 200 if max(a_shape) < 1000 else 10
    second = tf.cast(tf.random.normal(b_shape), dtype)

    @tf.function
    def products(first):
        total = tf.zeros((), dtype)
        for _ in tf.range(repeats):  # a graph loop: no Python between the products
            # Summing one element keeps every product alive at no cost.
            total += tf.matmul(first, second, transpose_a=transpose_a, transpose_b=transpose_b)[0, 0]
        return total

    return seconds_per_repeat(products, tf.cast(tf.random.normal(a_shape), dtype), repeats)


def round_trip_seconds(shape) -> float:
    """Seconds to cast a float32 tensor of `shape` to bfloat16 and back, in a TensorFlow graph."""
    import tensorflow as tf
    repeats = 200

    @tf.function
    def round_trips(values):
        for _ in tf.range(repeats):  # each trip starts from the last one's result: none can be skipped
            values = tf.cast(tf.cast(values, tf.bfloat16), tf.float32)
        return values[0, 0]

    return seconds_per_repeat(round_trips, tf.random.normal(shape), repeats)


# --- Batch: the floor under --num-songs 8 ------------------------------------------------


def batch_floor(settings, songs: int, vocabulary_size: int) -> dict:
    """Seconds of the products alone of one generation step of `songs` songs, against one song's whole step."""
    import keras
    import numpy as np
    import tensorflow as tf

    from classical_composer.network import build_network
    from classical_composer.predict import generate, probability_function
    from classical_composer.prepare_sequences import NetworkInput

    size, time_steps = settings.network_size, settings.sequence_length
    units, gates = size.lstm_units, 4 * size.lstm_units

    probabilities_of = probability_function(build_network(settings, vocabulary_size))
    window = np.random.default_rng(0).integers(vocabulary_size, size=(1, time_steps))
    generate(probabilities_of, NetworkInput(vocabulary_size), window, 1)  # compile
    one_song = []
    for _ in range(3):
        start = time.perf_counter()
        generate(probabilities_of, NetworkInput(vocabulary_size), window, ONE_SONG_NOTES)
        one_song.append((time.perf_counter() - start) / ONE_SONG_NOTES)

    # The weights of each LSTM: kernel (inputs, gates) and recurrent kernel (units, gates).
    weights = [(keras.random.normal((1 if number == 0 else units, gates)), keras.random.normal((units, gates)) * 0.01)
               for number in range(size.lstm_layers)]

    @tf.function(jit_compile=True)
    def products_alone(inputs):  # (songs, time, 1)
        for kernel, recurrent_kernel in weights:
            gate_inputs = tf.matmul(inputs, kernel)  # the input half, the whole window at once

            def step(time_step, state, outputs):
                # An add and a slice: the least a step needs to pass its product on to the next.
                state = (gate_inputs[:, time_step] + tf.matmul(state, recurrent_kernel))[:, :units]
                return time_step + 1, state, outputs.write(time_step, state)

            _, _, outputs = tf.while_loop(
                lambda time_step, *_: time_step < time_steps, step,
                (0, tf.zeros((songs, units)), tf.TensorArray(tf.float32, time_steps)))
            inputs = tf.transpose(outputs.stack(), (1, 0, 2))  # (songs, time, units)
        return inputs[:, -1]

    figures = {
        "songs": songs,
        "one_song_step_s": sorted(one_song)[1],
        "batch_products_s": seconds_per_repeat(products_alone, tf.random.uniform((songs, time_steps, 1)), 1),
    }
    figures["floor_ratio"] = figures["batch_products_s"] / figures["one_song_step_s"]
    return figures


# --- Mixed precision: the ceiling over --mixed-precision -----------------------------------


def training_step_products(settings) -> list:
    """(count, a shape, b shape, transpose_a, transpose_b) of every matrix product of one training step.

    Forward, each LSTM computes its input half for the whole window in one
    product and its recurrent half at every step: one product a step in the
    last LSTM, four (one a gate) in those with recurrent dropout. Backward,
    every product x @ w gives two: the gradient to x (times w transposed)
    and the gradient to w (x transposed, times the gradient).
    """
    size = settings.network_size
    batch, time_steps, units, gates = settings.batch_size, settings.sequence_length, size.lstm_units, 4 * size.lstm_units
    window_rows = batch * time_steps
    products = []
    for layer_number in range(size.lstm_layers):
        inputs = 1 if layer_number == 0 else units
        # The input half: forward, gradient to the kernel, gradient to the inputs (none for the first LSTM).
        products.append((1, (window_rows, inputs), (inputs, gates), False, False))
        products.append((1, (window_rows, inputs), (window_rows, gates), True, False))
        if layer_number > 0:
            products.append((1, (window_rows, gates), (inputs, gates), False, True))
        # The recurrent half at every step: forward, gradient to the state, gradient to the recurrent kernel.
        split = 4 if layer_number < size.lstm_layers - 1 else 1
        width = gates // split
        products.append((time_steps * split, (batch, units), (units, width), False, False))
        products.append((time_steps * split, (batch, width), (units, width), False, True))
        products.append((time_steps * split, (batch, units), (batch, width), True, False))
    return products


def training_step_seconds(settings) -> dict:
    """Median seconds of a training step of the network in float32 and in bfloat16, timed in turns."""
    import numpy as np

    from benchmarks.comparisons import (
        TRAIN_VOCABULARY, median, mixed_precision_network, random_training_windows, timed_fits,
    )
    from classical_composer.network import build_network
    from classical_composer.prepare_sequences import NetworkInput, WindowBatches

    _, windows = random_training_windows(settings, TRAIN_STEPS, np.random.default_rng(0))

    def batches():
        return {"x": WindowBatches(windows, NetworkInput(TRAIN_VOCABULARY), settings.batch_size, shuffle=True)}

    contenders = {"float32": (build_network(settings, TRAIN_VOCABULARY, fast_lstm=True), batches),
                  "bfloat16": (mixed_precision_network(settings), batches)}
    return {name: median(timer.seconds) for name, timer in timed_fits(contenders, TRAIN_ROUNDS).items()}


def mixed_precision_ceiling(settings) -> dict:
    """The training step and its products in both precisions, and the ceiling they put on the ratio."""
    products = {dtype: sum(count * product_seconds(dtype, *shapes_and_transposes)
                           for count, *shapes_and_transposes in training_step_products(settings))
                for dtype in ("float32", "bfloat16")}
    # Under mixed precision FastLSTM keeps its gates and state in float32: at every step of
    # every LSTM the state goes to bfloat16 for the product and the products come back, and
    # backward their gradients make the same two trips.
    size = settings.network_size
    conversions = settings.sequence_length * size.lstm_layers * (
        round_trip_seconds((settings.batch_size, size.lstm_units))
        + round_trip_seconds((settings.batch_size, 4 * size.lstm_units)))
    step = training_step_seconds(settings)

    rest_float32 = step["float32"] - products["float32"]
    return {
        "float32_step_s": step["float32"],
        "bfloat16_step_s": step["bfloat16"],
        "measured_ratio": step["float32"] / step["bfloat16"],
        "float32_products_s": products["float32"],
        "bfloat16_products_s": products["bfloat16"],
        "products_ratio": products["float32"] / products["bfloat16"],
        "float32_rest_s": rest_float32,
        "bfloat16_rest_s": step["bfloat16"] - products["bfloat16"],
        "conversions_s": conversions,
        "ceiling_ratio": step["float32"] / (rest_float32 + products["bfloat16"]),
        "ceiling_with_conversions_ratio": step["float32"] / (rest_float32 + products["bfloat16"] + conversions),
    }


# --- Command line ---------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", metavar="PATH", default=None, help="also write the figures to this JSON file")
    arguments = parser.parse_args()
    quiet_tensorflow()
    import keras

    from benchmarks.comparisons import BATCH_SONGS, GENERATION_VOCABULARY, print_table
    from classical_composer.settings import Settings

    keras.utils.set_random_seed(0)
    settings = Settings()  # the faithful network
    batch = batch_floor(settings, BATCH_SONGS, GENERATION_VOCABULARY)
    print_table(f"batch: one generation step, windows of {settings.sequence_length} tokens", [
        ("one song, the whole step (predict.py's path)", f"{1000 * batch['one_song_step_s']:.1f} ms", ""),
        (f"{BATCH_SONGS} songs, the matrix products alone (XLA)", f"{1000 * batch['batch_products_s']:.1f} ms", ""),
        ("floor under the batch's cost", f"{batch['floor_ratio']:.2f}x", "(goal <= 2x)"),
    ])
    mixed = mixed_precision_ceiling(settings)
    print_table(f"mixed precision: one training step, batches of {settings.batch_size}; float32 / bfloat16", [
        ("the whole step", f"{mixed['float32_step_s']:.2f} / {mixed['bfloat16_step_s']:.2f} s",
         f"{mixed['measured_ratio']:.2f}x"),
        ("its matrix products, each timed alone", f"{mixed['float32_products_s']:.2f} / "
         f"{mixed['bfloat16_products_s']:.2f} s", f"{mixed['products_ratio']:.2f}x"),
        ("the rest of the step", f"{mixed['float32_rest_s']:.2f} / {mixed['bfloat16_rest_s']:.2f} s", ""),
        ("of which bfloat16 <-> float32 casts", f"{mixed['conversions_s']:.2f} s", "(bfloat16 only)"),
        ("ceiling: bfloat16 products, the float32 rest", f"{mixed['ceiling_ratio']:.2f}x", "(goal >= 1.6x)"),
        ("ceiling: the same, plus the casts", f"{mixed['ceiling_with_conversions_ratio']:.2f}x", ""),
    ])
    if arguments.json:
        Path(arguments.json).write_text(json.dumps({"batch": batch, "mixed_precision": mixed}, indent=1) + "\n")
        print(f"wrote {arguments.json}")


if __name__ == "__main__":
    run(main)
