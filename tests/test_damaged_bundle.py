"""A damaged bundle gets one sentence and exit status 2 from predict.py and from evaluate, never a traceback.

Every file the two commands read is damaged in four ways in turn: cut short
(an interrupted copy), zeroed (a disk that lost it), one byte changed (bit
rot) and removed. None of the sixteen may pass, even the changed byte:
- bundle.json is ASCII JSON, and a byte XOR 0xFF is never ASCII, so it is never JSON;
- a .keras file is a zip archive, and every member carries a CRC-32 that
  bundle.py tests before Keras reads the file (a byte changed in the zip's own
  headers, which no checksum covers, could load unchanged; the middle byte is
  in the weights);
- a token file is named by the hash of its content, which bundle.py checks.
The scripts run in this process (script_runs.py): each would otherwise spend
seconds loading TensorFlow, and an uncaught exception here fails the test just
as it would print a traceback for a user.
"""

import hashlib
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

import predict as predict_script
from classical_composer import evaluate as evaluate_script
from classical_composer.bundle import POINTER_FILE, load_bundle, load_token_file, save_model_file, save_token_file
from classical_composer.cli import UserError
from classical_composer.network import build_network
from classical_composer.settings import Settings
from script_runs import run_main

DAMAGES = ["cut short", "zeroed", "one byte changed", "removed"]
READ_FILES = ["bundle.json", "model_file", "training_tokens_file", "validation_tokens_file"]  # as bundle.json names them


def damage(path: Path, how: str) -> None:
    content = path.read_bytes()
    middle = len(content) // 2
    if how == "cut short":
        path.write_bytes(content[:middle])
    elif how == "zeroed":
        path.write_bytes(bytes(len(content)))
    elif how == "one byte changed":
        path.write_bytes(content[:middle] + bytes([content[middle] ^ 0xFF]) + content[middle + 1:])
    elif how == "removed":
        path.unlink()


def expected_sentence(folder: Path, role: str, name: str, how: str) -> str:
    """The one sentence both commands answer a damaged file with."""
    if role == "bundle.json":
        if how == "removed":
            return (f"{folder} has no bundle.json, so it is not a complete bundle; "
                    f"train one with: python train.py --out {folder}")
        return f"{folder / POINTER_FILE} is not readable JSON; the bundle is damaged, so train it again"
    if how == "removed":
        return f"{folder} is incomplete: {name} is missing; train it again"
    if role == "model_file":
        return (f"{folder / name} is damaged (cut short or changed since it was saved), so it cannot be loaded "
                f"as a Keras model; train the bundle again")
    what = "training tokens" if role == "training_tokens_file" else "held-out tokens"
    return f"the {what} in {folder} are damaged ({name} was cut short or changed since it was saved); train the bundle again"


def both_commands(weights: Path, output: Path) -> dict:
    """{command: (status, stdout, stderr)} of predict.py and evaluate on one bundle folder."""
    return {
        "predict.py": run_main(predict_script, "--weights", weights, "--num-notes", 3, "--seed", 1, "--output", output),
        "evaluate": run_main(evaluate_script, "--weights", weights, "--json", output.with_suffix(".json")),
    }


@pytest.mark.parametrize("how", DAMAGES)
@pytest.mark.parametrize("role", READ_FILES)
def test_every_damaged_file_is_one_sentence_and_status_2_from_both_commands(role, how, tiny_bundle, tmp_path):
    folder = Path(shutil.copytree(tiny_bundle, tmp_path / "bundle"))
    name = POINTER_FILE if role == "bundle.json" else json.loads((folder / POINTER_FILE).read_text())[role]
    damage(folder / name, how)
    for command, (status, _, errors) in both_commands(folder, tmp_path / "out.mid").items():
        assert "Traceback" not in errors, command
        assert status == 2, f"{command}: {errors}"
        assert errors.splitlines() == [f"error: {expected_sentence(folder, role, name, how)}"], command
    assert not (tmp_path / "out.mid").exists() and not (tmp_path / "out.json").exists()


def test_damaging_the_files_neither_command_reads_changes_nothing(tiny_bundle, tmp_path):
    """The resume state and the picture are train.py's: predict writes the same song, evaluate the same figures."""
    folder = Path(shutil.copytree(tiny_bundle, tmp_path / "bundle"))
    resume_model = json.loads((folder / "resume.json").read_text())["model_file"]
    damage(folder / "resume.json", "removed")
    damage(folder / resume_model, "zeroed")
    damage(folder / "training.png", "cut short")
    intact = run_main(predict_script, "--weights", tiny_bundle, "--num-notes", 3, "--seed", 1,
                      "--output", tmp_path / "intact.mid")
    results = both_commands(folder, tmp_path / "out.mid")
    assert intact[0] == 0 and results["predict.py"][0] == 0 and results["evaluate"][0] == 0
    assert (tmp_path / "out.mid").read_bytes() == (tmp_path / "intact.mid").read_bytes()
    recorded = json.loads((folder / POINTER_FILE).read_text())["training"]["evaluation"]
    assert json.loads((tmp_path / "out.json").read_text()) == recorded


# --- Token files that are whole but do not add up --------------------------------------


def refusal(folder: Path) -> str:
    with pytest.raises(UserError) as error:
        load_bundle(folder)
    return str(error.value)


def with_training_tokens(folder: Path, **arrays) -> str:
    """Write a token file as save_token_file names one (by its content's hash), point bundle.json at it; its name."""
    content_file = folder / "unnamed.npz"
    np.savez_compressed(content_file, **arrays)
    name = f"training_tokens-{hashlib.sha256(content_file.read_bytes()).hexdigest()[:12]}.npz"
    content_file.rename(folder / name)
    pointer = json.loads((folder / POINTER_FILE).read_text())
    (folder / POINTER_FILE).write_text(json.dumps({**pointer, "training_tokens_file": name}))
    return name


@pytest.mark.parametrize("piece_lengths", [[3, 3], [3, 6], [7, -1]], ids=["fewer", "more", "a negative length"])
def test_piece_lengths_that_do_not_add_up_to_the_tokens_are_refused(piece_lengths, tiny_bundle, tmp_path):
    """np.split would cut 7 tokens into pieces anyway; the bundle is refused instead."""
    folder = Path(shutil.copytree(tiny_bundle, tmp_path / "bundle"))
    name = with_training_tokens(folder, token_indices=np.arange(7, dtype=np.int32) % 3,
                                piece_lengths=np.array(piece_lengths))
    assert refusal(folder) == (f"the piece lengths in {name} do not add up to its 7 tokens, so the training tokens "
                               f"in {folder} cannot be split into pieces; train the bundle again")


def test_token_indices_that_are_not_whole_numbers_are_refused(tiny_bundle, tmp_path):
    folder = Path(shutil.copytree(tiny_bundle, tmp_path / "bundle"))
    name = with_training_tokens(folder, token_indices=np.array([0.5, 1.0]), piece_lengths=np.array([2]))
    assert refusal(folder) == (f"the training tokens in {folder} are not lists of whole numbers ({name}); "
                               f"train the bundle again")


def test_a_token_file_saved_by_the_bundle_loads_back_piece_by_piece(tmp_path):
    pieces = [np.array([2, 0, 1], np.int32), np.array([], np.int32), np.array([1, 1], np.int32)]
    name = save_token_file(tmp_path, pieces, "training_tokens")
    loaded, composers = load_token_file(tmp_path / name, vocabulary_size=3, what="training tokens")
    assert [piece.tolist() for piece in loaded] == [[2, 0, 1], [], [1, 1]] and composers is None
    assert load_token_file(tmp_path / save_token_file(tmp_path, [], "training_tokens"), 3, "training tokens")[0] == []


# --- A network that reads other input than its settings say ------------------------------------


def test_settings_that_say_token_indices_for_a_network_of_scaled_numbers_are_refused(tiny_bundle, tmp_path):
    folder = Path(shutil.copytree(tiny_bundle, tmp_path / "bundle"))
    pointer = json.loads((folder / POINTER_FILE).read_text())
    pointer["settings"]["embedding"] = 8  # the tiny bundle's network reads the original's one number a step
    (folder / POINTER_FILE).write_text(json.dumps(pointer))
    assert refusal(folder) == (f"the network in {folder} reads one scaled number a step, but its settings say "
                               f"token indices; the bundle's files do not belong together, so train it again")


def test_a_network_of_token_indices_under_settings_of_scaled_numbers_is_refused(tiny_bundle, tmp_path):
    folder = Path(shutil.copytree(tiny_bundle, tmp_path / "bundle"))
    pointer = json.loads((folder / POINTER_FILE).read_text())
    settings = Settings.from_dict(pointer["settings"])
    reads_indices = build_network(Settings.from_dict({**pointer["settings"], "embedding": 4}), len(pointer["vocabulary"]))
    pointer["model_file"] = save_model_file(folder, reads_indices, with_optimizer=False)
    (folder / POINTER_FILE).write_text(json.dumps(pointer))
    assert not settings.reads_token_indices
    assert refusal(folder) == (f"the network in {folder} reads token indices, but its settings say one scaled "
                               f"number a step; the bundle's files do not belong together, so train it again")
