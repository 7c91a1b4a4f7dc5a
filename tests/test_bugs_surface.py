"""A bug of this project surfaces; only a fault of the file (or of the saved model) becomes a sentence.

Each test plants a bug (a KeyError, an IndexError, a MemoryError) where the
code used to catch every exception, and checks that it now stops the run and,
in the parse cache, leaves no entry behind; beside it, the same place still
turns a real fault of the file into its reason.
"""

import json
import shutil
from pathlib import Path

import keras
import pytest
from music21 import pitch

from classical_composer import corpus, note_tokens, performance
from classical_composer.bundle import POINTER_FILE, load_model_checked
from classical_composer.cli import UserError
from classical_composer.corpus import Piece, parse_folder
from classical_composer.midi_files import raised_by_music21
from classical_composer.settings import Settings
from classical_composer.representations import representation_of

NOTE_TOKENS = representation_of(Settings())

FAITHFUL = Settings().encoding()
EVENTS = Settings(representation="events").encoding()


@pytest.fixture
def one_file_folder(two_hands_file, tmp_path) -> Path:
    folder = tmp_path / "midi"
    folder.mkdir()
    shutil.copy(two_hands_file, folder / "two_hands.mid")
    return folder


def cache_entries(cache: Path) -> list:
    return [json.loads(path.read_text()) for path in cache.glob("*.json")] if cache.exists() else []


def a_bug(*arguments, **keywords):
    raise KeyError("a bug in this project's code")


# --- corpus.py: the parse cache keeps only reasons about the file ------------------------


@pytest.mark.parametrize("encoding, module, stage", [(FAITHFUL, note_tokens, "tokens_of"),
                                                     (EVENTS, performance, "performance_of_midi_file")],
                         ids=["notes", "events"])
def test_a_bug_while_parsing_surfaces_and_is_not_cached(encoding, module, stage, one_file_folder, tmp_path,
                                                        monkeypatch):
    monkeypatch.setattr(module, stage, a_bug)
    with pytest.raises(KeyError, match="a bug in this project's code"):
        parse_folder(one_file_folder, encoding, cache_dir=tmp_path / "cache", workers=1)
    assert cache_entries(tmp_path / "cache") == []
    monkeypatch.undo()  # the bug fixed: the file is read, not skipped from a cache
    assert len(parse_folder(one_file_folder, encoding, cache_dir=tmp_path / "cache", workers=1).pieces) == 1


def test_running_out_of_memory_surfaces_and_is_not_cached(one_file_folder, tmp_path, monkeypatch):
    def out_of_memory(*arguments):
        raise MemoryError

    monkeypatch.setattr(corpus, "parse_midi_file", out_of_memory)
    with pytest.raises(MemoryError):
        parse_folder(one_file_folder, FAITHFUL, cache_dir=tmp_path / "cache", workers=1)
    assert cache_entries(tmp_path / "cache") == []
    assert not raised_by_music21(MemoryError())


def test_an_error_music21_raises_is_the_files_fault_and_cached(one_file_folder, tmp_path, monkeypatch, capsys):
    """The same place as the bug above, but music21 itself raises: a reason about the file."""
    monkeypatch.setattr(note_tokens, "tokens_of", lambda score, encoding: pitch.Pitch("banana"))
    parsed = parse_folder(one_file_folder, FAITHFUL, cache_dir=tmp_path / "cache", workers=1)
    reason = "music21 could not analyse it (AccidentalException: anana is not a supported accidental type)"
    assert parsed.skipped == [("two_hands.mid", reason)]
    assert cache_entries(tmp_path / "cache") == [[None, reason]]


def test_performance_pys_own_word_for_unusable_timing_is_the_files_fault(one_file_folder, tmp_path, monkeypatch):
    def smpte_file(midi_file):
        raise ValueError("This MIDI file counts time in SMPTE frames, not beats; save it with ticks per quarter note.")

    monkeypatch.setattr(performance, "performance_of_midi_file", smpte_file)
    parsed = parse_folder(one_file_folder, EVENTS, cache_dir=tmp_path / "cache", workers=1)
    assert parsed.skipped == [("two_hands.mid", "its MIDI events could not be read (This MIDI file counts time in "
                                                "SMPTE frames, not beats; save it with ticks per quarter note.)")]


def test_a_worker_reports_only_unreadable_files_as_reasons(two_hands_file, monkeypatch):
    monkeypatch.setattr(corpus, "parse_midi_file", a_bug)
    with pytest.raises(KeyError):
        corpus._parse_for_pool(two_hands_file, FAITHFUL)


# --- evaluate.py: how long the held-out music lasts ----------------------------------------


def test_a_bug_while_measuring_the_held_out_music_surfaces(two_hands_file, monkeypatch):
    pieces = [Piece(two_hands_file.name, [])]
    assert NOTE_TOKENS.quarters_of_pieces(two_hands_file.parent, pieces) > 0
    monkeypatch.setattr(performance, "performance_of_midi", a_bug)
    with pytest.raises(KeyError):
        NOTE_TOKENS.quarters_of_pieces(two_hands_file.parent, pieces)


def test_a_file_with_unusable_timing_gives_no_figure_rather_than_a_wrong_one(two_hands_file, monkeypatch):
    def smpte_file(path):
        raise ValueError("This MIDI file counts time in SMPTE frames, not beats; save it with ticks per quarter note.")

    monkeypatch.setattr(performance, "performance_of_midi", smpte_file)
    assert NOTE_TOKENS.quarters_of_pieces(two_hands_file.parent, [Piece(two_hands_file.name, [])]) is None


# --- bundle.py: a whole model file this Keras cannot read ----------------------------------


def model_of(tiny_bundle: Path) -> tuple[Path, Settings, int]:
    pointer = json.loads((tiny_bundle / POINTER_FILE).read_text())
    return tiny_bundle / pointer["model_file"], Settings.from_dict(pointer["settings"]), len(pointer["vocabulary"])


def test_a_model_this_keras_cannot_read_is_blamed_on_the_versions_not_on_damage(tiny_bundle, monkeypatch):
    path, settings, classes = model_of(tiny_bundle)

    def another_keras_version(*arguments, **keywords):
        raise TypeError("Unrecognized keyword arguments passed to LSTM: {'a_newer_option': True}")

    monkeypatch.setattr(keras.models, "load_model", another_keras_version)
    with pytest.raises(UserError) as error:
        load_model_checked(path, settings, classes, compile=False)
    assert str(error.value) == (f"{path} was saved by Keras {keras.__version__}, which Keras {keras.__version__} "
                                f"cannot load (TypeError); install the versions in requirements.txt, "
                                f"or train the bundle again")


def test_a_bug_while_loading_a_model_surfaces(tiny_bundle, monkeypatch):
    path, settings, classes = model_of(tiny_bundle)

    def a_bug_in_a_layer(*arguments, **keywords):
        raise RuntimeError("a bug in one of this project's layers")

    monkeypatch.setattr(keras.models, "load_model", a_bug_in_a_layer)
    with pytest.raises(RuntimeError, match="a bug in one of this project's layers"):
        load_model_checked(path, settings, classes, compile=False)
