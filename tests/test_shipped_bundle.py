"""The pretrained bundles: weights/ (note tokens) and weights/events/ (performance events, with composers).

In:  the shipped weights/ folder; and conftest's tiny bundle, written here by train.py.
Out: nothing; these tests fail if a bundle is damaged, too large, learns less
     than a trigram table, collapses, or recites its training pieces; if the
     note bundle was trained on other files than today's midi_songs/; or if the
     events bundle writes no better for being told the true composer.

The tests named test_the_shipped_... read the committed files alone. What
keeps those files as they are (a network saved without its optimizer, the
resume state in files of its own) is code, checked at the end on the tiny bundle.
"""

import dataclasses
import io
import json
import shutil
import zipfile
from pathlib import Path

import h5py
import numpy as np
import pytest

from classical_composer.bundle import load_bundle
from classical_composer.corpus import midi_files_in
from classical_composer.counting import CountModel, score
from classical_composer.evaluate import (default_first_target, evaluate, held_out_pieces_from_folder, network_losses,
                                        network_scorer)
from classical_composer.predict import generate, probability_function, seed_windows
from classical_composer.prepare_sequences import NetworkInput
from classical_composer.report import longest_copied_stretch, longest_run

WEIGHTS = Path(__file__).resolve().parent.parent / "weights"
MIDI_SONGS = WEIGHTS.parent / "midi_songs"
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


def test_the_shipped_bundles_are_small_enough_to_ship():
    assert sum(path.stat().st_size for path in WEIGHTS.iterdir() if path.is_file()) < MAX_BUNDLE_BYTES
    assert sum(path.stat().st_size for path in WEIGHTS.rglob("*") if path.is_file()) < MAX_SHIPPED_BYTES


def test_the_shipped_bundles_hold_no_resume_state():
    for folder in (WEIGHTS, EVENTS_WEIGHTS):
        assert not (folder / "resume.json").exists()
        assert not list(folder.glob("resume-*"))


def test_bundle_beats_the_trigram_on_its_held_out_files(bundle):
    results = evaluate(bundle)
    assert results["bundle"]["nats"] < results["trigram"]["nats"] - TRIGRAM_MARGIN_NATS
    # And its first choice is right more often than the table's.
    assert results["bundle"]["accuracy"] > results["trigram"]["accuracy"]


def test_the_note_bundle_was_trained_on_todays_midi_songs_and_names_its_held_out_files_there(bundle):
    assert bundle.training["files_read"] + bundle.training["files_skipped"] == len(midi_files_in(MIDI_SONGS))
    held_out = bundle.training["validation_files"]
    assert held_out and all((MIDI_SONGS / name).is_file() for name in held_out)
    # Two of them read again from midi_songs/ give the tokens the bundle stored (evaluate --midi-dir midi_songs).
    first_two = dataclasses.replace(bundle, training={**bundle.training, "validation_files": held_out[:2]})
    read_again = held_out_pieces_from_folder(first_two, MIDI_SONGS)
    assert [piece.tolist() for piece in read_again] == [piece.tolist() for piece in bundle.validation_pieces[:2]]


def test_the_shipped_bundle_records_the_command_and_all_four_features(bundle):
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
    probabilities_of = probability_function(bundle.model)
    songs = generate(probabilities_of, NetworkInput.of(bundle.settings, vocabulary_size), starts, EVENTS, top_k=7,
                     random=random)
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
    scorer = network_scorer(bundle.model, bundle.settings)
    wrong_composers = (bundle.validation_composers + 1) % len(bundle.composers)
    trigram = CountModel(3, vocabulary_size).fit(bundle.training_pieces)
    return {"true": network_losses(scorer, bundle.settings, stretches, vocabulary_size, bundle.validation_composers),
            "wrong": network_losses(scorer, bundle.settings, stretches, vocabulary_size, wrong_composers),
            "trigram": score(trigram.probabilities, stretches, first_target=default_first_target(bundle.settings))}


def test_the_shipped_events_bundle_records_events_and_composers(events_bundle):
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


# --- The code behind the shipped files, on the tiny bundle train.py writes in conftest ---------------
# (test_learning.py and test_events_end_to_end.py check that a bundle records the exact command.)


def saved_with_optimizer_state(model_file: Path) -> bool:
    """Whether a .keras file holds an optimizer's variables beside the network's weights."""
    with zipfile.ZipFile(model_file) as archive, h5py.File(io.BytesIO(archive.read("model.weights.h5"))) as weights:
        return "optimizer" in weights


def test_train_saves_the_network_without_optimizer_state_and_the_resume_state_apart(tiny_bundle):
    pointer = json.loads((tiny_bundle / "bundle.json").read_text())
    resume = json.loads((tiny_bundle / "resume.json").read_text())
    assert {key for key in pointer if key.endswith("_file")} == {"model_file", "training_tokens_file",
                                                                 "validation_tokens_file"}
    bundle_model, resume_model = tiny_bundle / pointer["model_file"], tiny_bundle / resume["model_file"]
    assert resume_model != bundle_model and resume_model.name.startswith("resume-")
    # The same epoch twice: for predict the network alone, for --resume with RMSprop's state as well.
    assert not saved_with_optimizer_state(bundle_model)
    assert saved_with_optimizer_state(resume_model)
    assert bundle_model.stat().st_size < resume_model.stat().st_size


def test_a_bundle_without_its_resume_state_is_whole(tiny_bundle, tmp_path):
    """What is shipped: the folder train.py wrote, less resume.json and the model it names."""
    shipped = Path(shutil.copytree(tiny_bundle, tmp_path / "shipped", ignore=shutil.ignore_patterns("resume*")))
    assert not (shipped / "resume.json").exists() and not list(shipped.glob("resume-*"))
    kept, whole = load_bundle(shipped), load_bundle(tiny_bundle)
    assert (kept.settings, kept.vocabulary.tokens, kept.training) == (whole.settings, whole.vocabulary.tokens,
                                                                      whole.training)
    for shipped_weights, trained_weights in zip(kept.model.get_weights(), whole.model.get_weights(), strict=True):
        np.testing.assert_array_equal(shipped_weights, trained_weights)
