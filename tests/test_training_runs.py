"""train.py's --seed and Ctrl-C, and the batch-norm statistics it refreshes after every epoch.

Each run here is the tiny bundle's (conftest.TINY_BUNDLE_FLAGS) with one thing
changed, so that what differs from the tiny bundle is that one thing's doing:

- the same flags, and Ctrl-C during the held-out evaluation at the end: exit
  status 130, "interrupted", and the bundle of the finished epoch, which is the tiny bundle;
- --seed 0 twice and --seed 3, each stopped as model.fit begins: the same start
  twice, then other initial weights and another order of windows.

The first trains for a few seconds on a 2-core CPU (as long as the tiny bundle
takes); the runs stopped before training take about a second together.
(--validation-split 0 is trained in test_end_to_end.py, with --mixed-precision.)
"""

import json
from pathlib import Path

import keras
import numpy as np
import pytest

import train as train_script
from classical_composer import training
from classical_composer.bundle import POINTER_FILE, RESUME_FILE, load_bundle
from classical_composer.corpus import parse_folder
from classical_composer.prepare_sequences import NetworkInput, windows_of_indices
from classical_composer.settings import Settings
from conftest import TINY_BUNDLE_FLAGS
from script_runs import run_main

# What a bundle records that differs between two runs of the same flags: the --out in the command,
# the time each epoch took, and the held-out evaluation at the end (which Ctrl-C cut short below).
DIFFERS_BETWEEN_RUNS = {"command", "seconds", "evaluation"}


@pytest.fixture(scope="module")
def parsed_folder(training_folder) -> Path:
    """The training folder in this worker's parse cache, so that train.py starts no pool of processes."""
    parse_folder(training_folder, Settings().encoding(), workers=1)
    return training_folder


def files_named_by_the_pointers(out: Path) -> set[str]:
    pointers = [json.loads((out / name).read_text()) for name in (POINTER_FILE, RESUME_FILE)]
    return {value for pointer in pointers for key, value in pointer.items() if key.endswith("_file")}


# --- Ctrl-C, and the same seed ----------------------------------------------------------


@pytest.fixture(scope="module")
def interrupted_rerun(parsed_folder, tmp_path_factory) -> tuple[Path, int, str, str]:
    """train.py with the tiny bundle's flags, Ctrl-C pressed once the epoch's bundle is saved.

    Returns (its --out, exit status, standard output, standard error).
    """
    out = tmp_path_factory.mktemp("interrupted_rerun") / "bundle"

    def pressed_ctrl_c(*arguments, **keywords):
        raise KeyboardInterrupt  # what Python's SIGINT handler raises

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(training, "compare_best_with_counting", pressed_ctrl_c)
        return out, *run_main(train_script, *TINY_BUNDLE_FLAGS, "--midi-dir", parsed_folder, "--out", out)


def test_ctrl_c_exits_130_saying_interrupted_and_leaves_the_bundle_whole(interrupted_rerun):
    out, status, printed, errors = interrupted_rerun
    assert (status, errors) == (130, "interrupted\n")  # one word, no traceback
    assert "epoch 1: val_loss improved to" in printed and f"bundle saved in {out}" in printed
    bundle = load_bundle(out)
    assert bundle.training["best_epoch"] == 1 and "evaluation" not in bundle.training  # Ctrl-C came before it
    # Nothing half-written is left: the files the two pointers name, the pointers, and the losses' picture.
    assert sorted(path.name for path in out.iterdir()) == sorted(
        files_named_by_the_pointers(out) | {POINTER_FILE, RESUME_FILE, training.TRAINING_PICTURE})


def test_the_same_seed_trains_the_same_bundle(interrupted_rerun, tiny_bundle):
    out, *_ = interrupted_rerun
    again, first = load_bundle(out), load_bundle(tiny_bundle)
    assert again.settings == first.settings and again.vocabulary.tokens == first.vocabulary.tokens
    assert {key: value for key, value in again.training.items() if key not in DIFFERS_BETWEEN_RUNS} == {
        key: value for key, value in first.training.items() if key not in DIFFERS_BETWEEN_RUNS}
    for again_pieces, first_pieces in ((again.training_pieces, first.training_pieces),
                                       (again.validation_pieces, first.validation_pieces)):
        assert [piece.tolist() for piece in again_pieces] == [piece.tolist() for piece in first_pieces]
    for again_weights, first_weights in zip(again.model.get_weights(), first.model.get_weights(), strict=True):
        np.testing.assert_array_equal(again_weights, first_weights)


# --- Another seed -------------------------------------------------------------------------------
# --seed "seeds the file split, shuffling and initial weights" (train.py --help). Runs stopped as
# model.fit begins show the last two; what a whole run makes of them is the same-seed test above.


class StoppedBeforeTraining(Exception):
    """Raised in place of model.fit, once the network and its batches are made."""


def what_fit_is_given(seed: int, midi_dir: Path, out: Path) -> tuple[list, list]:
    """The initial weights and the first training batch of train.py --seed `seed` with the tiny bundle's flags."""
    given = []

    def record_and_stop(model, batches, **keywords):
        given.append((model.get_weights(), [np.asarray(part) for part in batches[0]]))
        raise StoppedBeforeTraining

    with pytest.MonkeyPatch.context() as patch, pytest.raises(StoppedBeforeTraining):
        patch.setattr(keras.Model, "fit", record_and_stop)
        run_main(train_script, *TINY_BUNDLE_FLAGS, "--seed", seed, "--midi-dir", midi_dir, "--out", out)
    return given[0]


def test_the_same_seed_starts_alike_and_another_seed_otherwise(parsed_folder, tmp_path):
    """Seed 0 twice (in one process, so a seed that was never set would show), then seed 3."""
    (first_weights, first_batch), (again_weights, again_batch), (other_weights, other_batch) = (
        what_fit_is_given(seed, parsed_folder, tmp_path / f"run_{number}") for number, seed in enumerate((0, 0, 3)))
    for first, again in zip(first_weights, again_weights, strict=True):
        np.testing.assert_array_equal(first, again)
    for first, again in zip(first_batch, again_batch, strict=True):
        np.testing.assert_array_equal(first, again)
    kernels = [(first, other) for first, other in zip(first_weights, other_weights, strict=True) if first.ndim == 2]
    assert len(kernels) >= 4  # the LSTMs' two each, and the Dense layers'
    for first, other in kernels:
        assert not np.allclose(first, other)
    assert not np.array_equal(first_batch[0], other_batch[0])  # the first batch's windows, (batch, time, 1)


# --- The batch-norm statistics -----------------------------------------------------------------


def test_the_saved_batch_norm_statistics_are_those_of_the_training_windows_under_the_final_weights(tiny_bundle):
    """RefreshBatchNormStatistics measures them after the epoch's last step; a trailing average would differ."""
    bundle = load_bundle(tiny_bundle)
    settings, model = bundle.settings, bundle.model
    windows = windows_of_indices(bundle.training_pieces, settings.sequence_length)
    assert len(windows) <= training.STATISTICS_WINDOWS  # so the sample is every training window
    index_windows, _ = windows.rows(np.arange(len(windows)))
    network_input = NetworkInput.of(settings, len(bundle.vocabulary)).encode(index_windows)
    normalizations = [layer for layer in model.layers if isinstance(layer, keras.layers.BatchNormalization)]
    assert len(normalizations) == 2
    for layer in normalizations:
        reaching = keras.ops.convert_to_numpy(keras.Model(model.input, layer.input)(network_input, training=False))
        reaching = reaching.reshape(-1, reaching.shape[-1]).astype(np.float64)  # (windows, features)
        np.testing.assert_allclose(layer.moving_mean.numpy(), reaching.mean(axis=0), rtol=1e-3, atol=1e-6)
        np.testing.assert_allclose(layer.moving_variance.numpy(), reaching.var(axis=0), rtol=1e-3, atol=1e-8)
