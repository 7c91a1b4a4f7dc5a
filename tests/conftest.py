"""Shared set-up for the tests: import paths, a private parse cache, the MIDI fixtures and a tiny bundle.

The MIDI files and the bundle are written once per test run into temporary
folders; tests read them and never change them (a test that needs to change
one copies it first).
"""

import os
import sys
from pathlib import Path

import pytest

PROJECT_ROOT = Path(__file__).resolve().parent.parent
TESTS_FOLDER = Path(__file__).resolve().parent
for folder in (PROJECT_ROOT, TESTS_FOLDER):  # the package, and midi_fixtures beside the tests
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))

# Before TensorFlow is first imported: quiet start-up, and the backend the project is written for.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import midi_fixtures  # noqa: E402  (needs the path above)


@pytest.fixture(scope="session", autouse=True)
def private_parse_cache(tmp_path_factory):
    """No test may write to the user's own parse cache, nor read a stale one."""
    cache = tmp_path_factory.mktemp("parse_cache")
    previous = os.environ.get("CLASSICAL_COMPOSER_CACHE")
    os.environ["CLASSICAL_COMPOSER_CACHE"] = str(cache)
    yield cache
    if previous is None:
        os.environ.pop("CLASSICAL_COMPOSER_CACHE", None)
    else:
        os.environ["CLASSICAL_COMPOSER_CACHE"] = previous


@pytest.fixture(scope="session")
def midi_folder(tmp_path_factory) -> Path:
    """A folder with the small hand-made MIDI files of midi_fixtures."""
    folder = tmp_path_factory.mktemp("midi")
    midi_fixtures.write_two_hands(folder / "two_hands.mid")
    midi_fixtures.write_drums_only(folder / "drums_only.mid")
    midi_fixtures.write_held_across_barline(folder / "held_across_barline.mid")
    return folder


@pytest.fixture(scope="session")
def two_hands_file(midi_folder) -> Path:
    return midi_folder / "two_hands.mid"


@pytest.fixture(scope="session")
def training_folder(tmp_path_factory) -> Path:
    """Three pieces of 30-odd events each: enough for windows of 8 tokens and a validation file."""
    return midi_fixtures.write_training_folder(tmp_path_factory.mktemp("training_midi"))


# The tiny bundle: train.py's faithful encoding on the training folder, one epoch of the tiny network.
TINY_BUNDLE_FLAGS = ["--preset", "tiny", "--epochs", "1", "--sequence-length", "8", "--batch-size", "32"]


@pytest.fixture(scope="session")
def tiny_bundle(training_folder, tmp_path_factory) -> Path:
    """A bundle written by train.py's main() with TINY_BUNDLE_FLAGS; not musical, but real.

    It runs in this process, which has TensorFlow loaded already; test_robustness.py
    runs train.py as a process of its own, as a user does.
    """
    import train as train_script
    from classical_composer.corpus import parse_folder
    from classical_composer.settings import Settings
    from script_runs import succeeds

    parse_folder(training_folder, Settings().encoding(), workers=1)  # into the private cache: train.py needs no pool
    out = tmp_path_factory.mktemp("tiny_bundle")
    succeeds(train_script, *TINY_BUNDLE_FLAGS, "--midi-dir", training_folder, "--out", out)
    return out
