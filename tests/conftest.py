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
# pytest.ini runs one worker per CPU core, so each worker's TensorFlow gets one thread: the tiny
# networks of the tests gain nothing from more, and threads that wait on each other across
# busy cores only cost time (the scripts the tests start as processes inherit this).
os.environ.setdefault("TF_NUM_INTRAOP_THREADS", "1")
os.environ.setdefault("TF_NUM_INTEROP_THREADS", "1")

import midi_fixtures  # noqa: E402  (needs the path above)

# pytest.ini hands whole files to the workers in collection order, a new file to whichever worker is
# nearly done. Starting with the longest files (those that train bundles or start processes), in
# order of their time on one worker, keeps one worker from running a long file alone at the end.
LONGEST_FILES_FIRST = ["test_robustness.py", "test_chunks.py", "test_end_to_end.py", "test_distribute.py",
                       "test_benchmark_paths.py", "test_listen.py", "test_learning.py", "test_shipped_bundle.py",
                       "test_events_end_to_end.py", "test_network.py", "test_transformer.py", "test_tutorial.py",
                       "test_training_runs.py", "test_own_files.py", "test_fast_lstm.py", "test_damaged_bundle.py",
                       "test_corpus.py", "test_user_mistakes.py"]


def pytest_collection_modifyitems(items):
    def rank(item):
        name = item.path.name
        return LONGEST_FILES_FIRST.index(name) if name in LONGEST_FILES_FIRST else len(LONGEST_FILES_FIRST)

    items.sort(key=rank)  # a stable sort: the tests of a file keep their order


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


def made_once_per_run(tmp_path_factory, name: str, make) -> Path:
    """The folder `make(folder)` fills, made by the first worker that asks and shared with the others.

    pytest-xdist gives each worker a session of its own, so a session fixture would
    otherwise be made once per worker. The workers' temporary folders share a parent
    for the run; a lock there makes a second worker wait for the first to finish.
    """
    import fcntl

    run_folder = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        run_folder = run_folder.parent
    folder = run_folder / name
    with open(run_folder / f"{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        if not folder.exists():
            unfinished = tmp_path_factory.mktemp(f"{name}_unfinished") / name
            make(unfinished)
            unfinished.rename(folder)  # whole, or not at all
    return folder


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

    def train_tiny_bundle(out: Path) -> None:
        parse_folder(training_folder, Settings().encoding(), workers=1)  # into the private cache: no pool
        succeeds(train_script, *TINY_BUNDLE_FLAGS, "--midi-dir", training_folder, "--out", out)

    return made_once_per_run(tmp_path_factory, "tiny_bundle", train_tiny_bundle)
