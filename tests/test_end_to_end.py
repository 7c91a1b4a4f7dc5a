"""The scripts as a user runs them: train.py writes a bundle, predict.py composes from it alone.

Here they call main() in this process (script_runs.py), which has TensorFlow
loaded already, to keep the suite quick; train.py runs as its own process in
test_robustness.py, and predict.py in test_distribute.py.
"""

import argparse
import dataclasses
import json
import math
import re
import sys
from collections import Counter
from pathlib import Path

import keras
import numpy as np
import pytest

import predict as predict_script
import train as train_script
from classical_composer import evaluate as evaluate_script
from classical_composer.bundle import load_bundle
from classical_composer.corpus import parse_folder, parse_midi_file
from classical_composer.settings import Settings
from script_runs import run_main, succeeds

PROJECT_ROOT = Path(__file__).resolve().parent.parent
README = PROJECT_ROOT / "README.md"
# Windows of 4: the LSTM unrolls its loop in training, so short windows trace sooner.
WINDOW = 4
QUICK_TRAINING = ["--preset", "tiny", "--epochs", "1", "--sequence-length", str(WINDOW)]
# A value other than the default for every setting but --transpose (a piece written in C and read
# back may be heard in another key, and so leave the vocabulary), --mixed-precision (its own test),
# --model (the transformer has its own tests, test_transformer.py) and --representation
# (performance events have theirs, test_events_end_to_end.py).
ALL_FLAGS = ["--rests", "--octave-chords", "--durations", "--velocities", "--embedding", "8", "--token-parts",
             "--optimizer", "adam", "--learning-rate", "0.01", "--learning-rate-decay", "0.5", "--batch-size", "16",
             "--validation-split", "0.25", "--patience", "2", "--every-step", "--dropout", "0.2",
             "--keep-best", "accuracy", "--seed", "5", "--min-count", "2"]
ALL_FLAGS_SETTINGS = Settings(rests=True, octave_chords=True, durations=True, velocities=True,
                              sequence_length=WINDOW, preset="tiny", embedding=8, token_parts=True, epochs=3,
                              batch_size=16, validation_split=0.25, patience=2, every_step=True, optimizer="adam",
                              learning_rate=0.01, learning_rate_decay=0.5, dropout=0.2, keep_best="accuracy", seed=5,
                              min_count=2)
# --composers needs subfolders: test_events_end_to_end.py trains with it; --chunks replaces the windows
# --every-step learns from here: test_chunks.py trains with it.
LEFT_AT_THEIR_DEFAULTS = {"transpose", "mixed_precision", "model", "representation", "composers", "chunks"}


def predict_in_process(monkeypatch, *arguments) -> None:
    """predict.py's main() in this process, reading `arguments` as its command line; any error fails the test."""
    monkeypatch.setattr(sys, "argv", ["predict.py", *map(str, arguments)])
    predict_script.main()


@pytest.fixture(scope="module")
def parsed_training_folder(training_folder) -> Path:
    """The training folder, in the private parse cache in both encodings used here: train.py starts no pool."""
    for settings in (Settings(), ALL_FLAGS_SETTINGS):
        parse_folder(training_folder, settings.encoding(), workers=1)
    return training_folder


@pytest.fixture(scope="module")
def all_flags_bundle(tmp_path_factory, parsed_training_folder) -> Path:
    out = tmp_path_factory.mktemp("all_flags_bundle")
    succeeds(train_script, *QUICK_TRAINING, *ALL_FLAGS, "--midi-dir", parsed_training_folder, "--out", out,
             "--epochs", "3")
    return out


def test_train_writes_a_complete_bundle_with_the_flags_it_was_given(all_flags_bundle, training_folder):
    changed = {name for name, value in ALL_FLAGS_SETTINGS.as_dict().items() if value != getattr(Settings(), name)}
    assert changed == set(Settings().as_dict()) - LEFT_AT_THEIR_DEFAULTS, "a setting is not tried here"
    bundle = load_bundle(all_flags_bundle)
    assert bundle.settings == ALL_FLAGS_SETTINGS
    # Three files: one held out whole, and the best model judged on it.
    held_out = bundle.training["validation_files"]
    assert bundle.training["files_read"] == 3 and len(held_out) == 1
    assert set(held_out) < {path.name for path in training_folder.iterdir()}
    assert bundle.training["training_files"] == 2
    # --keep-best accuracy: the bundle holds the epoch of the highest held-out top-1, the first of equals.
    assert bundle.training["monitor"] == "val_accuracy"
    accuracies = json.loads((all_flags_bundle / "resume.json").read_text())["history"]["val_accuracy"]
    assert len(accuracies) == 3
    assert bundle.training["best_epoch"] == 1 + int(np.argmax(accuracies))
    assert bundle.training["pieces_shorter_than_window"] == 0  # every piece is longer than WINDOW tokens
    # --min-count 2: every token once in the three files became its nearest token heard twice or more, and
    # evaluate, reading the held-out file again, replaces them the same way.
    heard = Counter(token for path in training_folder.iterdir()
                    for token in parse_midi_file(path, ALL_FLAGS_SETTINGS.encoding()))
    assert set(bundle.vocabulary.tokens) == {token for token, count in heard.items() if count >= 2}
    assert bundle.training["rare_tokens_replaced"] == sum(count for count in heard.values() if count < 2) > 0
    read_again = evaluate_script.held_out_pieces_from_folder(bundle, training_folder)
    assert [piece.tolist() for piece in read_again] == [piece.tolist() for piece in bundle.validation_pieces]
    assert len(bundle.training_pieces) == 2 and len(bundle.validation_pieces) == 1
    # --every-step: a prediction after every step; validation weighed the last step alone, so the
    # kept epoch's val_loss is the evaluation's score of the token after each held-out window.
    assert bundle.model.output_shape == (None, WINDOW, len(bundle.vocabulary))
    assert bundle.training["evaluation"]["bundle"]["nats"] == pytest.approx(bundle.training["val_loss"], rel=1e-3)
    # --optimizer, --learning-rate and --learning-rate-decay: the network trained with Adam at 0.01, halved after
    # each epoch (the bundle's own model is saved without its optimizer; the resume state keeps it).
    resume_state = json.loads((all_flags_bundle / "resume.json").read_text())
    assert resume_state["history"]["learning_rate"] == pytest.approx([0.01, 0.005, 0.0025])
    trained = keras.saving.load_model(all_flags_bundle / resume_state["model_file"])
    assert type(trained.optimizer) is keras.optimizers.Adam
    assert float(trained.optimizer.learning_rate.numpy()) == pytest.approx(0.0025)


def test_predict_repeats_a_seed_samples_with_top_k_and_reads_back_into_the_vocabulary(tmp_path, all_flags_bundle,
                                                                                     monkeypatch):
    sampled = ["--weights", all_flags_bundle, "--top-k", "7", "--num-notes", "40"]
    first, again, other_seed, argmax = (tmp_path / f"{name}.mid" for name in ("first", "again", "other_seed", "argmax"))
    # (test_distribute.py composes the same bytes in two processes.)
    predict_in_process(monkeypatch, *sampled, "--seed", "1", "--output", first)
    predict_in_process(monkeypatch, *sampled, "--seed", "1", "--output", again)
    predict_in_process(monkeypatch, *sampled, "--seed", "2", "--output", other_seed)
    # --top-k 1 with the same seed starts from the same seed window (the seed picks it before any sampling).
    predict_in_process(monkeypatch, "--weights", all_flags_bundle, "--top-k", "1", "--num-notes", "40", "--seed", "1",
                       "--output", argmax)

    assert first.read_bytes() == again.read_bytes()
    assert first.read_bytes() != other_seed.read_bytes()
    bundle = load_bundle(all_flags_bundle)
    songs = {path.stem: parse_midi_file(path, bundle.settings.encoding()) for path in (first, other_seed, argmax)}
    assert songs["first"] != songs["argmax"], "top-7 sampling should not compose the argmax song"
    for token_list in songs.values():
        assert token_list
        assert set(token_list) <= set(bundle.vocabulary.tokens)


def test_a_faithful_run_works(tmp_path, tiny_bundle, monkeypatch):
    output = tmp_path / "faithful.mid"
    predict_in_process(monkeypatch, "--weights", tiny_bundle, "--num-notes", "20", "--seed", "1", "--output", output)

    bundle = load_bundle(tiny_bundle)
    # conftest.TINY_BUNDLE_FLAGS name these four; every other setting is the original's.
    assert bundle.settings == Settings(preset="tiny", epochs=1, sequence_length=8, batch_size=32)
    # Faithful events are written 0.5 quarter apart, one onset each: exactly --num-notes tokens read back.
    token_list = parse_midi_file(output, bundle.settings.encoding())
    assert len(token_list) == 20 and set(token_list) <= set(bundle.vocabulary.tokens)

    # --temperature from the command line to the sampler: the whole distribution (--top-k 0), sharpened
    # until only the likeliest token is left, composes the argmax song of the same seed (at 1.0 it does not).
    sharpened = tmp_path / "sharpened.mid"
    predict_in_process(monkeypatch, "--weights", tiny_bundle, "--num-notes", "20", "--seed", "1", "--top-k", "0",
                       "--temperature", "1e-6", "--output", sharpened)
    assert sharpened.read_bytes() == output.read_bytes()


def test_mixed_precision_without_held_out_files_trains_a_bundle_that_composes(tmp_path, parsed_training_folder,
                                                                            monkeypatch):
    """--mixed-precision, and --validation-split 0: the best epoch is judged on the training loss, and
    with nothing held out there are no count models to compare with and nothing for evaluate to score."""
    out, output = tmp_path / "mixed_bundle", tmp_path / "mixed.mid"
    printed = succeeds(train_script, *QUICK_TRAINING, "--mixed-precision", "--validation-split", "0",
                       "--midi-dir", parsed_training_folder, "--out", out)
    assert keras.config.dtype_policy().name == "float32"  # the run leaves no global policy behind
    assert "no validation windows: the best model is judged on the training loss" in printed.splitlines()
    assert "epoch 1: loss improved to" in printed
    assert "count models" not in printed and "trigram" not in printed  # no yardstick, no comparison table

    bundle = load_bundle(out)
    assert bundle.settings == Settings(preset="tiny", epochs=1, sequence_length=WINDOW, validation_split=0.0,
                                       mixed_precision=True)
    assert (bundle.training["validation_files"], bundle.training["monitor"]) == ([], "loss")
    assert bundle.validation_pieces == []  # its held-out token file holds no pieces (it once read back as one)
    assert bundle.training["best_epoch"] == 1 and math.isfinite(bundle.training["loss"])
    assert not {"val_loss", "count_models", "evaluation"} & set(bundle.training)
    assert run_main(evaluate_script, "--weights", out) == (
        2, "", f"error: the bundle in {out} was trained without held-out files (--validation-split 0), so there "
               f"is nothing to evaluate it on\n")
    lstms = [layer for layer in bundle.model.layers if isinstance(layer, keras.layers.LSTM)]
    assert len(lstms) == bundle.settings.network_size.lstm_layers
    for layer in lstms:  # computes in bfloat16, keeps its weights in float32
        assert (layer.compute_dtype, layer.variable_dtype) == ("bfloat16", "float32")
    assert bundle.model.output.dtype == "float32"  # the softmax stays float32

    predict_in_process(monkeypatch, "--weights", out, "--num-notes", "20", "--top-k", "7", "--seed", "1",
                       "--output", output)
    token_list = parse_midi_file(output, bundle.settings.encoding())
    assert len(token_list) == 20 and set(token_list) <= set(bundle.vocabulary.tokens)


# --- --help reads like a short manual, its defaults the Settings' ----------------------------


def help_of_each_flag(help_text: str) -> dict[str, str]:
    """argparse's --help output -> {flag: its line and the lines under it, spaces collapsed}."""
    blocks, current = {}, None
    for line in help_text.splitlines():
        if line.startswith("  --"):
            current = line.split()[0]
            blocks[current] = line
        elif current and line.startswith("   "):
            blocks[current] += " " + line
        else:
            current = None
    return {flag: " ".join(text.split()) for flag, text in blocks.items()}


@pytest.fixture(scope="module")
def train_help() -> dict[str, str]:
    return help_of_each_flag(succeeds(train_script, "--help"))


@pytest.mark.parametrize("field", dataclasses.fields(Settings), ids=lambda field: field.name)
def test_every_setting_is_a_train_flag_with_the_settings_default(field, train_help):
    """The default a user reads in --help is the Settings field's: the original's, written once."""
    flag = "--" + field.name.replace("_", "-")
    assert flag in train_help, f"the setting {field.name} has no flag"
    if isinstance(field.default, bool):
        assert field.default is False and "(default:" not in train_help[flag], f"{flag}: a switch, off by default"
    elif field.default is None:  # decided by another setting, which the help names
        assert "(default: the preset's" in train_help[flag], train_help[flag]
    else:
        assert train_help[flag].endswith(f"(default: {field.default})"), train_help[flag]


def parser_of(script_module, monkeypatch) -> argparse.ArgumentParser:
    """The script's own parser, caught where it would have read the command line."""
    monkeypatch.setattr(argparse.ArgumentParser, "parse_args", lambda parser, argv=None: parser)
    return script_module.parse_arguments([])


def readme_flag_table(script_name: str) -> dict[str, str]:
    """The README's table of a script's flags (its section "## train.py", say): {flag: the default written there}."""
    section = README.read_text().split(f"\n## {script_name}\n", 1)[1].split("\n## ", 1)[0]
    rows = (re.match(r"\| `(--[a-z-]+)[^`]*` \| ([^|]+) \|", line) for line in section.splitlines())
    return {row[1]: row[2].strip().strip("`") for row in rows if row}


@pytest.mark.parametrize("script_module", [train_script, predict_script], ids=["train.py", "predict.py"])
def test_every_flag_has_help_that_ends_with_its_default_and_a_row_in_the_readme(script_module, monkeypatch):
    parser = parser_of(script_module, monkeypatch)
    shown = help_of_each_flag(parser.format_help())
    flags = {action.option_strings[-1]: action for action in parser._actions
             if action.option_strings and action.dest != "help"}
    readme = readme_flag_table(Path(script_module.__file__).name)
    assert sorted(readme) == sorted(flags), "the README's table and the flags differ"
    for flag, action in flags.items():
        assert action.help and action.help != argparse.SUPPRESS, f"{flag} has no help string"
        if action.default is False:  # a switch
            assert "(default:" not in shown[flag] and readme[flag] == "off", flag
        elif action.default is not None:  # None: decided elsewhere, and both say by what in words
            assert shown[flag].endswith(f"(default: {action.default})"), shown[flag]
            assert readme[flag] == str(action.default), flag
