"""The pretrained bundle in weights/: it loads, fits its data, and top-7 sampling does not collapse.

In:  the shipped weights/ folder.
Out: nothing; these tests fail if the bundle is damaged, too large, or collapses.
"""

import json
from pathlib import Path

import numpy as np
import pytest

from classical_composer.bundle import load_bundle
from classical_composer.predict import generate, probability_function, seed_windows
from classical_composer.report import longest_run

WEIGHTS = Path(__file__).resolve().parent.parent / "weights"
MAX_BUNDLE_BYTES = 25 * 1024 * 1024
EVENTS = 500
MAX_REPEATS_IN_A_ROW = 8
MIN_DISTINCT_TOKENS = 40


@pytest.fixture(scope="module")
def bundle():
    return load_bundle(WEIGHTS)


def test_bundle_is_small_enough_to_ship():
    assert sum(path.stat().st_size for path in WEIGHTS.iterdir()) < MAX_BUNDLE_BYTES


def test_bundle_records_the_command_and_all_four_features(bundle):
    settings = bundle.settings
    assert settings.rests and settings.octave_chords and settings.durations and settings.velocities
    command = json.loads((WEIGHTS / "bundle.json").read_text())["training"]["command"]
    for flag in ("--rests", "--octave-chords", "--durations", "--velocities", f"--preset {settings.preset}"):
        assert flag in command


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_top_7_does_not_collapse(bundle, seed):
    random = np.random.default_rng(seed)
    vocabulary_size = len(bundle.vocabulary)
    start = seed_windows(bundle.training_pieces, bundle.settings.sequence_length, 1, random)
    probabilities_of = probability_function(bundle.model, bundle.settings, vocabulary_size)
    song = generate(probabilities_of, start, EVENTS, vocabulary_size, top_k=7, random=random)[0]
    run_length, _ = longest_run(song.tolist())
    assert run_length <= MAX_REPEATS_IN_A_ROW
    assert len(set(song.tolist())) >= MIN_DISTINCT_TOKENS
