"""The scripts as a user runs them: train.py writes a bundle, predict.py composes from it alone."""

import argparse
import os
import subprocess
import sys
from pathlib import Path

import pytest

import predict as predict_script
import train as train_script
from classical_composer.bundle import load_bundle
from classical_composer.corpus import parse_midi_file

PROJECT_ROOT = Path(__file__).resolve().parent.parent
QUICK_TRAINING = ["--preset", "tiny", "--epochs", "1", "--sequence-length", "8"]
ALL_FLAGS = ["--rests", "--octave-chords", "--durations", "--velocities"]


def run_script(script: str, *arguments, cache: Path) -> subprocess.CompletedProcess:
    """Run a script from the project root as a user would; fail the test with its output if it fails."""
    environment = {**os.environ, "CLASSICAL_COMPOSER_CACHE": str(cache), "TF_CPP_MIN_LOG_LEVEL": "2"}
    result = subprocess.run(
        [sys.executable, script, *map(str, arguments)],
        cwd=PROJECT_ROOT, env=environment, capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, f"{script} failed:\n{result.stdout}\n{result.stderr}"
    return result


@pytest.fixture(scope="module")
def cache(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("parse_cache")


@pytest.fixture(scope="module")
def all_flags_bundle(tmp_path_factory, training_folder, cache) -> Path:
    out = tmp_path_factory.mktemp("all_flags_bundle")
    run_script("train.py", *QUICK_TRAINING, *ALL_FLAGS, "--midi-dir", training_folder, "--out", out, cache=cache)
    return out


def test_train_writes_a_complete_bundle(all_flags_bundle):
    bundle = load_bundle(all_flags_bundle)
    assert (bundle.settings.rests, bundle.settings.octave_chords, bundle.settings.durations, bundle.settings.velocities) == (
        True, True, True, True,
    )
    assert bundle.settings.sequence_length == 8 and bundle.settings.preset == "tiny"
    # Three files: one held out whole, and the best model judged on it.
    assert (bundle.training["files_read"], len(bundle.training["validation_files"])) == (3, 1)
    assert bundle.training["monitor"] == "val_loss"
    assert bundle.training["pieces_shorter_than_window"] == 0  # every piece is longer than 8 tokens
    assert len(bundle.training_pieces) == 2


def test_predict_is_repeatable_and_its_midi_reads_back_into_the_vocabulary(tmp_path, all_flags_bundle, cache):
    outputs = [tmp_path / "a.mid", tmp_path / "b.mid"]
    for output in outputs:
        run_script("predict.py", "--weights", all_flags_bundle, "--top-k", "7", "--seed", "1",
                   "--num-notes", "40", "--output", output, cache=cache)
    assert outputs[0].read_bytes() == outputs[1].read_bytes()

    bundle = load_bundle(all_flags_bundle)
    token_list = parse_midi_file(outputs[0], bundle.settings.encoding())
    assert token_list
    assert set(token_list) <= set(bundle.vocabulary.tokens)


def test_a_faithful_run_works(tmp_path, training_folder, cache):
    out, output = tmp_path / "faithful_bundle", tmp_path / "faithful.mid"
    run_script("train.py", *QUICK_TRAINING, "--midi-dir", training_folder, "--out", out, cache=cache)
    run_script("predict.py", "--weights", out, "--num-notes", "20", "--seed", "1", "--output", output, cache=cache)

    bundle = load_bundle(out)
    assert bundle.settings.encoding() == {name: False for name in bundle.settings.encoding()}
    token_list = parse_midi_file(output, bundle.settings.encoding())
    assert token_list and set(token_list) <= set(bundle.vocabulary.tokens)


# --- --help reads like a short manual ---------------------------------------------------------


def parser_of(script_module, monkeypatch) -> argparse.ArgumentParser:
    """The script's own parser, caught where it would have read the command line."""
    monkeypatch.setattr(argparse.ArgumentParser, "parse_args", lambda parser, argv=None: parser)
    return script_module.parse_arguments([])


@pytest.mark.parametrize(
    "script_module, required_flags",
    [
        (train_script, ["--rests", "--octave-chords", "--durations", "--velocities", "--sequence-length", "--epochs",
                        "--batch-size", "--midi-dir", "--out", "--preset", "--validation-split", "--seed"]),
        (predict_script, ["--weights", "--output", "--num-notes", "--top-k", "--temperature", "--seed"]),
    ],
    ids=["train.py", "predict.py"],
)
def test_help_mentions_every_flag(script_module, required_flags, monkeypatch, cache):
    parser = parser_of(script_module, monkeypatch)
    flags = [option for action in parser._actions for option in action.option_strings if option.startswith("--")]
    assert set(required_flags) <= set(flags)
    for action in parser._actions:
        assert action.help and action.help != argparse.SUPPRESS, f"{action.option_strings} has no help string"

    help_text = run_script(Path(script_module.__file__).name, "--help", cache=cache).stdout
    for flag in flags:
        assert flag in help_text
