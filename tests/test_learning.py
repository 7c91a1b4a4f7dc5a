"""--embedding and --token-parts from train.py to the bundle, and the evaluation against the count models.

The scripts run in this process (script_runs.py); test_end_to_end.py and
test_robustness.py prove the same scripts as separate processes.
"""

import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from music21 import converter

import train as train_script
from classical_composer import evaluate as evaluate_script
from classical_composer.bundle import POINTER_FILE, load_bundle, save_model_file
from classical_composer.counting import CountModel, score
from classical_composer.evaluate import COUNT_MODELS
from classical_composer.network import build_network
from classical_composer.corpus import parse_folder, parse_midi_file
from classical_composer.settings import Settings
from script_runs import run_main, succeeds

# Windows of 4: the LSTM unrolls its loop in training, so short windows trace sooner.
WINDOW = 4
QUICK_TRAINING = ["--preset", "tiny", "--epochs", "1", "--sequence-length", str(WINDOW)]
ALL_FEATURES = ["--rests", "--octave-chords", "--durations", "--velocities"]


@pytest.fixture(scope="module")
def parsed_folder(training_folder) -> Path:
    """The training folder in the parse cache, in both encodings used here, so that train.py starts no pool."""
    for settings in (Settings(), Settings(rests=True, octave_chords=True, durations=True, velocities=True)):
        parse_folder(training_folder, settings.encoding(), workers=1)
    return training_folder


@pytest.fixture(scope="module")
def parts_bundle(tmp_path_factory, parsed_folder) -> tuple[Path, str]:
    out = tmp_path_factory.mktemp("parts_bundle")
    printed = succeeds(train_script, *QUICK_TRAINING, *ALL_FEATURES, "--embedding", "8", "--token-parts",
                       "--midi-dir", parsed_folder, "--out", out)
    return out, printed


def test_the_bundle_records_the_command_it_was_trained_with_and_all_four_features(parts_bundle, parsed_folder):
    out, _ = parts_bundle
    bundle = load_bundle(out)
    assert bundle.training["command"] == "python train.py " + shlex.join(
        [*QUICK_TRAINING, *ALL_FEATURES, "--embedding", "8", "--token-parts", "--midi-dir", str(parsed_folder),
         "--out", str(out)])
    settings = bundle.settings
    assert (settings.rests, settings.octave_chords, settings.durations, settings.velocities) == (True,) * 4


def test_the_bundle_records_how_it_reads_tokens(parts_bundle):
    # (test_end_to_end.py composes from a bundle with the same flags, byte-identically twice.)
    parts = load_bundle(parts_bundle[0])
    assert (parts.settings.embedding, parts.settings.token_parts) == (8, True)
    assert parts.model.input_shape == (None, WINDOW)  # token indices, not one scaled number per step
    assert parts.model.get_layer("parts_to_tokens").trainable is False


def test_trained_bundles_load_in_plain_keras_without_this_project(parts_bundle, tiny_bundle, tmp_path):
    """Every layer is stock Keras: a process that never imports classical_composer loads and runs the networks."""
    model_files = [out / json.loads((out / POINTER_FILE).read_text())["model_file"]
                   for out in (tiny_bundle, parts_bundle[0])]
    # The transformer too, saved as train.py saves it (the positions are computed inside the model).
    transformer = build_network(Settings(model="transformer", preset="tiny", sequence_length=8, token_parts=True),
                                3, np.eye(3, dtype=np.float32))
    model_files.append(tmp_path / save_model_file(tmp_path, transformer, with_optimizer=False))
    script = ("import sys, keras, numpy\n"
              "for path in sys.argv[1:]:\n"
              "    model = keras.saving.load_model(path)\n"
              "    assert not model.compiled  # the bundle keeps the network alone, without optimizer state\n"
              "    probabilities = model(numpy.zeros((1, *model.input_shape[1:]), model.input.dtype))\n"
              "    print(sorted({type(layer).__name__ for layer in model.layers if 'lstm' in layer.name}),\n"
              "          model.input_shape, tuple(probabilities.shape))\n"
              "assert not any(name.startswith('classical_composer') for name in sys.modules)\n")
    # Run from an empty folder, so that this project is not even importable.
    result = subprocess.run([sys.executable, "-c", script, *map(str, model_files)], capture_output=True, text=True,
                            cwd=tmp_path, timeout=120)
    assert result.returncode == 0, result.stderr
    # The faithful network reads one scaled number per step, the parts network and the transformer token
    # indices; the transformer predicts after every step.
    faithful_classes, parts_classes = (len(load_bundle(out).vocabulary) for out in (tiny_bundle, parts_bundle[0]))
    assert result.stdout.splitlines() == [f"['LSTM'] (None, 8, 1) (1, {faithful_classes})",
                                          f"['LSTM'] (None, {WINDOW}) (1, {parts_classes})",
                                          "[] (None, 8) (1, 8, 3)"]


def test_training_ends_with_the_comparison_and_keeps_it(parts_bundle):
    out, printed = parts_bundle
    for name in ("uniform", "unigram", "bigram", "trigram", "network"):
        assert any(line.startswith(name) for line in printed.splitlines()), name
    training = json.loads((out / POINTER_FILE).read_text())["training"]
    assert len(training["validation_files"]) == 1 and training["validation_files"][0].endswith(".mid")
    evaluation = training["evaluation"]
    # The network is scored on exactly the targets val_loss scores.
    assert evaluation["bundle"]["nats"] == pytest.approx(training["val_loss"], rel=1e-3)
    assert evaluation["bundle"]["targets"] == evaluation["trigram"]["targets"] == training["validation_windows"]
    assert evaluation["uniform"]["nats"] == pytest.approx(np.log(training["classes"]))
    assert (out / "training.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_nats_per_quarter_note_use_how_long_the_held_out_file_lasts(parts_bundle, parsed_folder):
    out, _ = parts_bundle
    training = json.loads((out / POINTER_FILE).read_text())["training"]
    held_out = parsed_folder / training["validation_files"][0]
    # The fixture pieces start on a note, so the file lasts from 0 until its last note ends.
    played = converter.parse(held_out).flatten().notes
    assert training["validation_quarters"] == pytest.approx(max(float(note.offset + note.quarterLength)
                                                                for note in played))
    held_out_tokens = training["validation_windows"] + load_bundle(out).settings.sequence_length
    for figures in training["evaluation"].values():
        if isinstance(figures, dict):
            assert figures["nats_per_quarter"] == pytest.approx(
                figures["nats"] * held_out_tokens / training["validation_quarters"])


def test_evaluate_writes_the_same_figures_as_json_with_and_without_the_midi_folder(parts_bundle, parsed_folder,
                                                                                   tmp_path):
    out, _ = parts_bundle
    stored, reread = tmp_path / "stored.json", tmp_path / "reread.json"
    printed = succeeds(evaluate_script, "--weights", out, "--json", stored)
    succeeds(evaluate_script, "--weights", out, "--json", reread, "--midi-dir", parsed_folder)
    figures = json.loads(stored.read_text())
    assert json.loads(reread.read_text()) == figures
    assert {"bundle", "uniform", "unigram", "bigram", "trigram", "unseen_share"} <= set(figures)
    assert set(figures["trigram"]) >= {"nats", "accuracy", "perplexity"}
    assert f"{figures['trigram']['nats']:.3f}" in printed

    # The figures are those of the MIDI files themselves: count models fit on the training files, read
    # again, and scored on the held-out one; the network's are the val_loss Keras computed in training.
    bundle = load_bundle(out)
    held_out_names = set(bundle.training["validation_files"])
    corpus = parse_folder(parsed_folder, bundle.settings.encoding(), workers=1)  # from the cache
    training = [bundle.vocabulary.encode(piece.tokens) for piece in corpus.pieces if piece.name not in held_out_names]
    held_out = [bundle.vocabulary.encode(piece.tokens) for piece in corpus.pieces if piece.name in held_out_names]
    for name, order in COUNT_MODELS.items():
        count_model = CountModel(order, len(bundle.vocabulary)).fit(training)
        from_the_files = score(count_model.probabilities, held_out, first_target=bundle.settings.sequence_length)
        assert {key: figures[name][key] for key in from_the_files} == pytest.approx(from_the_files), name
    assert figures["uniform"]["nats"] == pytest.approx(np.log(len(bundle.vocabulary)))
    assert figures["bundle"]["nats"] == pytest.approx(bundle.training["val_loss"], rel=1e-3)
    assert figures["bundle"]["targets"] == bundle.training["validation_windows"]


def test_evaluate_refuses_a_bundle_that_does_not_record_its_held_out_files(parts_bundle, tmp_path):
    out, _ = parts_bundle
    old = tmp_path / "old_bundle"
    old.mkdir()
    for path in out.iterdir():
        (old / path.name).write_bytes(path.read_bytes())
    pointer = json.loads((old / POINTER_FILE).read_text())
    del pointer["validation_tokens_file"]
    (old / POINTER_FILE).write_text(json.dumps(pointer))

    status, _, errors = run_main(evaluate_script, "--weights", old)
    assert status == 2
    assert errors.strip() == (f"error: the bundle in {old} does not record its held-out files, so it cannot "
                                     f"be evaluated; retrain it with this version of train.py")


def test_evaluate_scores_the_held_out_file_as_the_midi_folder_holds_it_now(parts_bundle, training_folder, tmp_path):
    out, _ = parts_bundle
    bundle = load_bundle(out)
    held_out = bundle.training["validation_files"][0]
    changed = tmp_path / "changed"
    changed.mkdir()
    for path in Path(training_folder).iterdir():
        (changed / path.name).write_bytes(path.read_bytes())
    other = next(name for name in sorted(os.listdir(changed)) if name != held_out)
    (changed / held_out).write_bytes((changed / other).read_bytes())  # same name, other music

    succeeds(evaluate_script, "--weights", out, "--midi-dir", changed, "--json", tmp_path / "figures.json")
    figures = json.loads((tmp_path / "figures.json").read_text())
    now = parse_midi_file(changed / held_out, bundle.settings.encoding())  # the other file's tokens
    assert figures["bundle"]["targets"] == figures["trigram"]["targets"] == len(now) - bundle.settings.sequence_length
    assert figures["bundle"]["nats"] != bundle.training["evaluation"]["bundle"]["nats"]  # not the stored tokens


# --- --every-step: a target after every step, validation still on the last ------------------------
# (train.py's every-step bundle is test_end_to_end.py's all-flags run.)


def test_every_step_batches_hold_the_next_token_of_every_step_and_weigh_only_the_last():
    from classical_composer.prepare_sequences import NetworkInput, WindowBatches, windows_of_indices

    windows = windows_of_indices([np.arange(10, 20)], sequence_length=4)
    training = WindowBatches(windows, NetworkInput(30, reads_token_indices=True), batch_size=2, shuffle=False,
                             every_step=True)
    network_input, targets = training[0]
    np.testing.assert_array_equal(network_input, [[10, 11, 12, 13], [11, 12, 13, 14]])
    np.testing.assert_array_equal(targets, [[11, 12, 13, 14], [12, 13, 14, 15]])
    validation = WindowBatches(windows, NetworkInput(30, reads_token_indices=True), batch_size=2, shuffle=False,
                               every_step=True, score_last_step=True)
    _, _, weights = validation[0]
    np.testing.assert_array_equal(weights, [[0, 0, 0, 1], [0, 0, 0, 1]])
