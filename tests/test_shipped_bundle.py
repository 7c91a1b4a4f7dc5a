"""The pretrained bundle in weights/: it loads, beats counting, and top-7 sampling does not collapse.

In:  the shipped weights/ folder.
Out: nothing; these tests fail if the bundle is damaged, too large, learns less
     than a trigram table, collapses, or recites its training pieces.
"""

import json
from pathlib import Path

import numpy as np
import pytest

from classical_composer.bundle import load_bundle
from classical_composer.evaluate import evaluate
from classical_composer.predict import generate, probability_function, seed_windows
from classical_composer.report import longest_copied_stretch, longest_run

WEIGHTS = Path(__file__).resolve().parent.parent / "weights"
MAX_BUNDLE_BYTES = 25 * 1024 * 1024
EVENTS = 500
SONGS = 3
MAX_REPEATS_IN_A_ROW = 8
MIN_DISTINCT_TOKENS = 40
TRIGRAM_MARGIN_NATS = 0.3  # the goal: this far below the Kneser-Ney trigram, in held-out nats per token


@pytest.fixture(scope="module")
def bundle():
    return load_bundle(WEIGHTS)


def test_bundle_is_small_enough_to_ship():
    assert sum(path.stat().st_size for path in WEIGHTS.iterdir()) < MAX_BUNDLE_BYTES


def test_bundle_ships_no_resume_state():
    assert not (WEIGHTS / "resume.json").exists()
    assert not list(WEIGHTS.glob("resume-*"))


def test_bundle_beats_the_trigram_on_its_held_out_files(bundle):
    results = evaluate(bundle)
    assert results["bundle"]["nats"] < results["trigram"]["nats"] - TRIGRAM_MARGIN_NATS
    # And its first choice is right more often than the table's.
    assert results["bundle"]["accuracy"] > results["trigram"]["accuracy"]


def test_bundle_records_the_command_and_all_four_features(bundle):
    settings = bundle.settings
    assert settings.rests and settings.octave_chords and settings.durations and settings.velocities
    command = json.loads((WEIGHTS / "bundle.json").read_text())["training"]["command"]
    for flag in ("--rests", "--octave-chords", "--durations", "--velocities", f"--preset {settings.preset}"):
        assert flag in command


def test_top_7_does_not_collapse(bundle):
    """The three songs of `python predict.py --top-k 7 --seed 1 --num-songs 3`, composed as one batch."""
    random = np.random.default_rng(1)
    vocabulary_size = len(bundle.vocabulary)
    starts = seed_windows(bundle.training_pieces, bundle.settings.sequence_length, SONGS, random)
    probabilities_of = probability_function(bundle.model, bundle.settings, vocabulary_size)
    songs = generate(probabilities_of, starts, EVENTS, vocabulary_size, top_k=7, random=random,
                     reads_token_indices=bundle.settings.reads_token_indices)
    for song in songs.tolist():
        run_length, _ = longest_run(song)
        assert run_length <= MAX_REPEATS_IN_A_ROW
        assert len(set(song)) >= MIN_DISTINCT_TOKENS
        assert longest_copied_stretch(song, bundle.training_pieces) < bundle.settings.sequence_length
