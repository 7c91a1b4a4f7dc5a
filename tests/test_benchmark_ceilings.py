"""benchmarks/ceilings.py: the products it times are the products a training step really runs.

Its figures are timings, so they are not measured here: no test asserts on
time. benchmarks/check_ceilings.py runs the measurements on the tiny preset
and checks that their figures fit together.
"""

import math

import keras
import pytest

from benchmarks.ceilings import training_step_products
from classical_composer.network import build_network
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
    lstms = [layer for layer in model.layers if isinstance(layer, keras.layers.LSTM)]
    window_rows = settings.batch_size * settings.sequence_length
    # Forward, every LSTM multiplies each step's input by its kernel and the previous output by its recurrent kernel.
    forward = [2 * window_rows * math.prod(layer.cell.kernel.shape) for layer in lstms]
    recurrent = [2 * window_rows * math.prod(layer.cell.recurrent_kernel.shape) for layer in lstms]
    # Backward, each product gives two of the same size, except the first LSTM's input, which needs no gradient.
    expected = 3 * (sum(forward) + sum(recurrent)) - forward[0]

    counted = sum(count * product_flops(*shapes) for count, *shapes in training_step_products(settings))

    assert counted == expected

