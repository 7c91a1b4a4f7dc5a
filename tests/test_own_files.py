"""train.py never deletes or overwrites a file it did not write.

Training into a bundle folder replaces the bundle and removes the model and
token files no pointer names any more, but only files named as this project
names them (model-<12 hex>.keras, training_tokens-<12 hex>.npz, ...); a
user's own files beside the bundle stay, byte for byte. A folder that holds
other files and no bundle is refused before the slow parse.
"""

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

import train as train_script
from classical_composer.bundle import POINTER_FILE, RESUME_FILE, load_bundle, remove_unreferenced_files
from classical_composer.cli import UserError
from classical_composer.corpus import parse_folder
from classical_composer.settings import Settings
from classical_composer.training import TRAINING_PICTURE, check_out_folder
from conftest import TINY_BUNDLE_FLAGS
from script_runs import run_main, succeeds


@pytest.fixture(scope="module")
def parsed_folder(training_folder) -> Path:
    """The training folder in this worker's parse cache, so that train.py starts no process pool."""
    parse_folder(training_folder, Settings().encoding(), workers=1)
    return training_folder


def write_users_files(folder: Path) -> dict[str, bytes]:
    """Files a user might keep beside a bundle, some with the suffixes train.py writes; {name: content}."""
    np.savez(folder / "keep.npz", my_numbers=np.arange(3))
    (folder / "my_other_model.keras").write_bytes(b"a model of the user's own")
    (folder / "model-final.keras").write_bytes(b"not 12 hex digits, so not a name train.py writes")
    (folder / "notes.tmp").write_text("a user's temporary notes")
    return {path.name: path.read_bytes() for path in folder.iterdir()
            if path.name in ("keep.npz", "my_other_model.keras", "model-final.keras", "notes.tmp")}


def test_a_users_own_files_beside_a_bundle_survive_training_into_it(tiny_bundle, parsed_folder, tmp_path):
    out = Path(shutil.copytree(tiny_bundle, tmp_path / "bundle"))
    before = json.loads((out / POINTER_FILE).read_text())
    users = write_users_files(out)

    succeeds(train_script, *TINY_BUNDLE_FLAGS, "--midi-dir", parsed_folder, "--out", out)

    for name, content in users.items():
        assert (out / name).read_bytes() == content, name
    pointers = [json.loads((out / name).read_text()) for name in (POINTER_FILE, RESUME_FILE)]
    named = {value for pointer in pointers for key, value in pointer.items() if key.endswith("_file")}
    assert before["model_file"] not in named  # a new model, so the earlier one was removed...
    assert sorted(path.name for path in out.iterdir()) == sorted(  # ...and nothing else of train.py's is left
        named | set(users) | {POINTER_FILE, RESUME_FILE, TRAINING_PICTURE})
    assert load_bundle(out).training["best_epoch"] == 1


def test_only_the_names_this_project_writes_are_removed(tmp_path):
    (tmp_path / POINTER_FILE).write_text(json.dumps({"model_file": "model-0123456789ab.keras",
                                                     "training_tokens_file": "training_tokens-0123456789ab.npz"}))
    (tmp_path / RESUME_FILE).write_text(json.dumps({"model_file": "resume-0123456789ab.keras"}))
    named = ["model-0123456789ab.keras", "training_tokens-0123456789ab.npz", "resume-0123456789ab.keras"]
    ours_unnamed = ["model-ba9876543210.keras", "resume-ba9876543210.keras", "validation_tokens-ba9876543210.npz",
                    ".model-ba9876543210.keras.tmp4242", ".bundle.json.tmp17", ".training.png.tmp3"]
    users = ["keep.npz", "my_other_model.keras", "model-ABCDEF012345.keras", "model-0123456789ab.keras.bak",
             "notes.tmp", ".keep.npz.tmp1", "training_tokens-0123456789abc.npz"]
    for name in named + ours_unnamed + users:
        (tmp_path / name).write_text(name)

    remove_unreferenced_files(tmp_path)

    assert sorted(path.name for path in tmp_path.iterdir()) == sorted(named + users + [POINTER_FILE, RESUME_FILE])


def test_training_into_a_folder_of_other_files_is_refused_before_parsing(parsed_folder, tmp_path):
    out = tmp_path / "my_music"
    out.mkdir()
    for name in ("a.txt", "b.mid", "c.npz", "d.keras"):
        (out / name).write_text(name)
    status, printed, errors = run_main(train_script, *TINY_BUNDLE_FLAGS, "--midi-dir", parsed_folder, "--out", out)
    assert status == 2
    assert errors == (f"error: --out {out} holds no bundle but other files (a.txt, b.mid, c.npz, ...); "
                      f"choose a new or empty folder for the bundle\n")
    assert printed == ""  # not even "parsed N files"
    assert sorted(path.name for path in out.iterdir()) == ["a.txt", "b.mid", "c.npz", "d.keras"]


@pytest.mark.parametrize(
    "names",
    [[], [".DS_Store"], ["model-0123456789ab.keras", ".model-ba9876543210.keras.tmp7", "training.png"],
     [POINTER_FILE, "notes.txt"], [RESUME_FILE, "notes.txt"]],
    ids=["empty", "hidden files only", "what an interrupted run left", "a bundle", "an interrupted run"],
)
def test_a_new_empty_or_bundle_folder_is_accepted(names, tmp_path):
    for name in names:
        (tmp_path / name).write_text(name)
    check_out_folder(tmp_path)  # no UserError
    check_out_folder(tmp_path / "new")


def test_the_refusal_names_at_most_three_files(tmp_path):
    (tmp_path / "one.txt").write_text("1")
    with pytest.raises(UserError) as error:
        check_out_folder(tmp_path)
    assert str(error.value) == (f"--out {tmp_path} holds no bundle but other files (one.txt); "
                                f"choose a new or empty folder for the bundle")
