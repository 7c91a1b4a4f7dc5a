"""Checks that used to pass whatever came in: the token grammar and evaluate --midi-dir.

- tokens.decode refuses a SOUND that is no note, chord or rest ("banana"), and
  load_bundle refuses a vocabulary holding one, so predict never meets it.
- evaluate --midi-dir reads the held-out files again and scores their tokens as
  they are now, as its help says (test_learning.py shows a changed file scored
  as it now is); here, what it refuses, and a bundle that keeps no held-out
  tokens scored from the files alone.
"""

import json
import shutil
from pathlib import Path

import pytest

import midi_fixtures
from classical_composer import evaluate as evaluate_script
from classical_composer import tokens
from classical_composer.bundle import POINTER_FILE, load_bundle
from classical_composer.cli import UserError
from classical_composer.corpus import parse_folder, parse_midi_file
from classical_composer.settings import Settings
from script_runs import run_main, succeeds

# --- The token grammar ----------------------------------------------------------------


@pytest.mark.parametrize("token", ["E-4", "F#2", "C-1", "B--3", "G##5", "0", "4.8.11", "11.2", "C2.G2.E-4",
                                   "rest", "E-4 short 81", "4.8.11 long", "C2.G2.E-4 medium 31", "rest long", "A0 102"])
def test_every_sound_of_the_grammar_decodes_and_encodes_back(token):
    assert tokens.encode(tokens.decode(token)) == token


@pytest.mark.parametrize("sound", ["banana", "C", "H4", "c4", "E-", "12", "4.12", "4..8", "4.", ".4", "C4.", "4.C4",
                                   "rest.C4", "C4x", "E-4-4", "Rest", "٣"])  # the last: a digit, but not 0-9
def test_a_sound_outside_the_grammar_is_refused(sound):
    with pytest.raises(ValueError) as error:
        tokens.decode(f"{sound} short")
    assert str(error.value) == (f"'{sound} short' is not a token of this grammar: '{sound}' is neither a note (E-4), "
                                f"a chord (4.8.11 or C2.G2.E-4) nor a rest")


def test_a_vocabulary_holding_a_token_outside_the_grammar_is_refused_on_load(tiny_bundle, tmp_path):
    folder = Path(shutil.copytree(tiny_bundle, tmp_path / "bundle"))
    pointer = json.loads((folder / POINTER_FILE).read_text())
    pointer["vocabulary"] = sorted(pointer["vocabulary"][:-1] + ["banana"])  # as many tokens as the network's classes
    (folder / POINTER_FILE).write_text(json.dumps(pointer))
    with pytest.raises(UserError) as error:
        load_bundle(folder)
    assert str(error.value) == (f"the vocabulary in {folder / POINTER_FILE} holds 'banana', which is not a token of "
                                f"the notes representation; train the bundle again")


# --- evaluate --midi-dir -----------------------------------------------------------------


@pytest.fixture(scope="module")
def held_out(tiny_bundle, training_folder) -> str:
    """The name of the tiny bundle's held-out file; the training folder is in this worker's parse cache."""
    parse_folder(training_folder, Settings().encoding(), workers=1)
    return load_bundle(tiny_bundle).training["validation_files"][0]


@pytest.fixture
def midi_copy(training_folder, tmp_path) -> Path:
    return Path(shutil.copytree(training_folder, tmp_path / "midi"))


def evaluate_refusal(*arguments) -> str:
    """The sentence evaluate answers with: exit status 2 and one line."""
    status, printed, errors = run_main(evaluate_script, *arguments)
    assert status == 2 and "Traceback" not in errors
    assert len(errors.splitlines()) == 1 and errors.startswith("error: ")
    return errors.strip().removeprefix("error: ")


def test_a_held_out_file_missing_from_the_midi_folder_is_refused(tiny_bundle, held_out, midi_copy):
    (midi_copy / held_out).unlink()
    assert evaluate_refusal("--weights", tiny_bundle, "--midi-dir", midi_copy) == (
        f"the held-out file {held_out} is not in {midi_copy}; point --midi-dir at the folder the bundle was trained on")


def test_an_unreadable_held_out_file_is_refused_with_its_reason(tiny_bundle, held_out, midi_copy):
    (midi_copy / held_out).write_bytes(b"")
    assert evaluate_refusal("--weights", tiny_bundle, "--midi-dir", midi_copy) == (
        f"the held-out file {held_out} in {midi_copy} cannot be read (the file is empty); evaluate without --midi-dir")


def test_a_held_out_file_with_tokens_the_bundle_does_not_know_is_refused(tiny_bundle, held_out, midi_copy):
    right = midi_fixtures.hand("right")
    for number, name in enumerate(["C#7", "D7", "C4"]):  # two notes far above the training pieces
        midi_fixtures.place(right, number * 0.5, [name], 0.5, 80)
    midi_fixtures.write_score(midi_fixtures.score_of(right), midi_copy / held_out)
    assert evaluate_refusal("--weights", tiny_bundle, "--midi-dir", midi_copy) == (
        f"the held-out file {held_out} in {midi_copy} gives 2 tokens the bundle does not know, such as 'C#7'; "
        f"evaluate without --midi-dir, or retrain")


def test_a_missing_midi_folder_is_refused(tiny_bundle, held_out, tmp_path):
    assert evaluate_refusal("--weights", tiny_bundle, "--midi-dir", tmp_path / "nowhere") == (
        f"the MIDI folder {tmp_path / 'nowhere'} does not exist; point --midi-dir at a folder of .mid files")


def test_a_bundle_without_stored_held_out_tokens_is_scored_from_the_midi_folder(tiny_bundle, held_out, training_folder,
                                                                               tmp_path):
    folder = Path(shutil.copytree(tiny_bundle, tmp_path / "bundle"))
    pointer = json.loads((folder / POINTER_FILE).read_text())
    (folder / pointer.pop("validation_tokens_file")).unlink()
    (folder / POINTER_FILE).write_text(json.dumps(pointer))
    assert evaluate_refusal("--weights", folder) == (f"the bundle in {folder} does not record its held-out files, so "
                                                     f"it cannot be evaluated; retrain it with this version of train.py")

    succeeds(evaluate_script, "--weights", folder, "--midi-dir", training_folder, "--json", tmp_path / "figures.json")
    figures = json.loads((tmp_path / "figures.json").read_text())
    assert figures == pointer["training"]["evaluation"]  # what training scored on the tokens it stored
    held_out_tokens = parse_midi_file(training_folder / held_out, Settings().encoding())
    assert figures["bundle"]["targets"] == len(held_out_tokens) - pointer["settings"]["sequence_length"]
