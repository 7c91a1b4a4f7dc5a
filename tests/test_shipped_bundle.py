"""The pretrained bundles: weights/ (note tokens) and weights/events/ (performance events, with composers).

In:  the shipped weights/ folder.
Out: nothing; these tests fail if a bundle is damaged, too large, learns less
     than a trigram table, collapses, or recites its training pieces; or if the
     events bundle writes no better for being told the true composer.
"""

import json
from pathlib import Path

import numpy as np
import pytest

from classical_composer.bundle import load_bundle
from classical_composer.counting import CountModel, score
from classical_composer.evaluate import evaluate, network_losses
from classical_composer.network import inference_copy
from classical_composer.predict import generate, probability_function, seed_windows
from classical_composer.report import longest_copied_stretch, longest_run

WEIGHTS = Path(__file__).resolve().parent.parent / "weights"
EVENTS_WEIGHTS = WEIGHTS / "events"  # the second bundle: performance events, with --composers
MAX_BUNDLE_BYTES = 25 * 1024 * 1024
MAX_SHIPPED_BYTES = 40 * 1024 * 1024  # every shipped bundle together
EVENTS = 500
SONGS = 3
MAX_REPEATS_IN_A_ROW = 8
MIN_DISTINCT_TOKENS = 40
TRIGRAM_MARGIN_NATS = 0.3  # the goal: this far below the Kneser-Ney trigram, in held-out nats per token


@pytest.fixture(scope="module")
def bundle():
    return load_bundle(WEIGHTS)


def test_bundles_are_small_enough_to_ship():
    assert sum(path.stat().st_size for path in WEIGHTS.iterdir() if path.is_file()) < MAX_BUNDLE_BYTES
    assert sum(path.stat().st_size for path in WEIGHTS.rglob("*") if path.is_file()) < MAX_SHIPPED_BYTES


def test_bundles_ship_no_resume_state():
    for folder in (WEIGHTS, EVENTS_WEIGHTS):
        assert not (folder / "resume.json").exists()
        assert not list(folder.glob("resume-*"))


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


# --- weights/events: performance events, and the composer at every step --------------------

# Scoring all of the events bundle's held-out music takes minutes (and evaluate scores it once per
# composer for the wrong-composer figure); these tests score the first stretch of every held-out
# file, told the true composer and told the next one in the bundle's list.
HELD_OUT_EVENTS_PER_FILE = 64


@pytest.fixture(scope="module")
def events_bundle():
    return load_bundle(EVENTS_WEIGHTS)


@pytest.fixture(scope="module")
def events_scores(events_bundle):
    """{"true", "wrong": (nats, ranked first) per target, "trigram": score's figures} on the held-out stretches."""
    bundle, vocabulary_size = events_bundle, len(events_bundle.vocabulary)
    stretches = [piece[:HELD_OUT_EVENTS_PER_FILE] for piece in bundle.validation_pieces]
    scorer = inference_copy(bundle.model)
    wrong_composers = (bundle.validation_composers + 1) % len(bundle.composers)
    trigram = CountModel(3, vocabulary_size).fit(bundle.training_pieces)
    return {"true": network_losses(scorer, bundle.settings, stretches, vocabulary_size, bundle.validation_composers),
            "wrong": network_losses(scorer, bundle.settings, stretches, vocabulary_size, wrong_composers),
            "trigram": score(trigram.probabilities, stretches, first_target=bundle.settings.sequence_length)}


def test_the_events_bundle_learned_events_and_composers(events_bundle):
    assert events_bundle.settings.representation == "events" and events_bundle.settings.composers
    assert {"bach", "palestrina", "monteverdi", "beethoven"} <= set(events_bundle.composers)
    command = json.loads((EVENTS_WEIGHTS / "bundle.json").read_text())["training"]["command"]
    assert "--representation events" in command and "--composers" in command


def test_the_events_bundle_beats_its_own_trigram(events_scores):
    nats, ranked_first = events_scores["true"]
    assert nats.mean() < events_scores["trigram"]["nats"]
    assert ranked_first.mean() > events_scores["trigram"]["accuracy"]


def test_the_true_composer_predicts_held_out_music_better_than_a_wrong_one(events_scores):
    assert events_scores["true"][0].mean() < events_scores["wrong"][0].mean()
