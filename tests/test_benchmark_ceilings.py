"""benchmarks/ceilings.py: it counts the products a training step really runs, and it runs.

Its figures are timings, so nothing here checks how large they are; only
that the list of products matches the network, and that the measurements
run end to end and fit together on the tiny preset.
"""

import math

import pytest

from benchmarks.ceilings import batch_floor, mixed_precision_ceiling, training_step_products
from classical_composer.network import WindowLSTM, build_network
from classical_composer.settings import Settings

VOCABULARY_SIZE = 11


def product_flops(a_shape, b_shape, transpose_a, transpose_b) -> int:
    rows, inner = reversed(a_shape) if transpose_a else a_shape
    columns = b_shape[0] if transpose_b else b_shape[1]
    assert (b_shape[1] if transpose_b else b_shape[0]) == inner, "the shapes of a product must fit"
    return 2 * rows * inner * columns


@pytest.mark.parametrize("preset", ["original", "tiny"])
def test_a_training_step_runs_the_forward_products_three_times_over(preset):
    settings = Settings(preset=preset)
    model = build_network(settings, VOCABULARY_SIZE)
    lstms = [layer for layer in model.layers if isinstance(layer, WindowLSTM)]
    window_rows = settings.batch_size * settings.sequence_length
    # Forward, every LSTM multiplies each step's input by its kernel and the previous output by its recurrent kernel.
    forward = [2 * window_rows * math.prod(layer.cell.kernel.shape) for layer in lstms]
    recurrent = [2 * window_rows * math.prod(layer.cell.recurrent_kernel.shape) for layer in lstms]
    # Backward, each product gives two of the same size, except the first LSTM's input, which needs no gradient.
    expected = 3 * (sum(forward) + sum(recurrent)) - forward[0]

    counted = sum(count * product_flops(*shapes) for count, *shapes in training_step_products(settings))

    assert counted == expected


def test_the_ceilings_are_measured_end_to_end_on_the_tiny_preset():
    settings = Settings(preset="tiny", sequence_length=8, batch_size=16)

    batch = batch_floor(settings, songs=2, vocabulary_size=VOCABULARY_SIZE)
    mixed = mixed_precision_ceiling(settings)

    assert batch["batch_products_s"] > 0 and batch["one_song_step_s"] > 0
    assert batch["floor_ratio"] == pytest.approx(batch["batch_products_s"] / batch["one_song_step_s"])
    for precision in ("float32", "bfloat16"):
        assert mixed[f"{precision}_step_s"] > 0 and mixed[f"{precision}_products_s"] > 0
        assert mixed[f"{precision}_rest_s"] == pytest.approx(
            mixed[f"{precision}_step_s"] - mixed[f"{precision}_products_s"])
    assert mixed["ceiling_ratio"] == pytest.approx(
        mixed["float32_step_s"] / (mixed["float32_rest_s"] + mixed["bfloat16_products_s"]))
    assert mixed["ceiling_with_conversions_ratio"] < mixed["ceiling_ratio"]
