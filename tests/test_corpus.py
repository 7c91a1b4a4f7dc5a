"""Stage 1, around parse.py: a folder -> a Corpus, with the cache, the process pool and the progress shown.

The tokens themselves are checked in test_parse.py, and bad files in
test_robustness.py; here the same tokens must come out however a folder is
read: parsed or from the cache, in one process or in a pool.
"""

import shutil
import sys
from concurrent.futures import ProcessPoolExecutor

import pytest

import bad_midi
import midi_fixtures
from classical_composer import corpus, note_tokens
from classical_composer.corpus import PROGRESS_LINES_IN_A_LOG, parse_folder
from test_parse import ALL_FLAGS, FAITHFUL, TWO_HANDS_ALL_FLAGS, TWO_HANDS_FAITHFUL  # the tokens are spelled out there

EVERY_FLAG_AND_TRANSPOSE = {**ALL_FLAGS, "transpose": True}


@pytest.fixture
def small_folder(tmp_path, midi_folder):
    folder = tmp_path / "midi"
    folder.mkdir()
    for name in ("two_hands.mid", "held_across_barline.mid"):
        shutil.copy(midi_folder / name, folder / name)
    return folder


def test_parse_folder_reads_every_file_and_skips_drums_only(tmp_path, midi_folder):
    found = parse_folder(midi_folder, FAITHFUL, cache_dir=tmp_path / "cache", workers=1)
    assert [piece.name for piece in found.pieces] == ["held_across_barline.mid", "two_hands.mid"]
    assert found.pieces[1].tokens == TWO_HANDS_FAITHFUL
    assert [name for name, _ in found.skipped] == ["drums_only.mid"]
    assert found.token_count == sum(len(piece.tokens) for piece in found.pieces)



def test_each_subfolder_is_a_composer_and_files_in_the_folder_itself_are_one_unnamed_style(tmp_path, midi_folder):
    folder = tmp_path / "by_composer"
    for inside in ("loose.mid", "bach/chorale.mid", "bach/more/deeper.mid", "palestrina/mass.MID"):
        (folder / inside).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(midi_folder / "two_hands.mid", folder / inside)
    (folder / "bach" / "notes.txt").write_text("not music")
    found = parse_folder(folder, FAITHFUL, cache_dir=tmp_path / "cache", workers=1)
    assert [(piece.name, piece.composer) for piece in found.pieces] == [
        ("bach/chorale.mid", "bach"), ("bach/more/deeper.mid", "bach"), ("loose.mid", ""),
        ("palestrina/mass.MID", "palestrina")]
    assert found.files_per_composer() == {"": 1, "bach": 2, "palestrina": 1}
    assert all(piece.tokens == TWO_HANDS_FAITHFUL for piece in found.pieces)  # the same file, wherever it is


# --- The process pool ------------------------------------------------------------------


def test_a_pool_of_two_workers_gives_the_same_corpus_as_one_process(tmp_path, monkeypatch, capsys):
    folder = bad_midi.write_fixture_folder(tmp_path / "midi")  # good and bad files: tokens and reasons
    one_process = parse_folder(folder, EVERY_FLAG_AND_TRANSPOSE, cache_dir=tmp_path / "cache-one", workers=1)
    one_process_warnings = capsys.readouterr().err

    pools = []

    class RecordedPool(ProcessPoolExecutor):
        def __init__(self, *arguments, **keywords):
            pools.append(keywords["max_workers"])
            super().__init__(*arguments, **keywords)

    monkeypatch.setattr(corpus, "ProcessPoolExecutor", RecordedPool)
    pooled = parse_folder(folder, EVERY_FLAG_AND_TRANSPOSE, cache_dir=tmp_path / "cache-pool", workers=2)

    assert pools == [2]  # the files really went through a pool, and its cache started empty
    assert pooled == one_process
    assert [piece.name for piece in pooled.pieces] == sorted(bad_midi.GOOD_FILES)
    assert sorted(name for name, _ in pooled.skipped) == sorted(bad_midi.BAD_FILES)
    assert capsys.readouterr().err == one_process_warnings


# --- Progress ------------------------------------------------------------------------


def test_without_a_terminal_progress_is_a_few_lines(tmp_path, capsys):
    """In a log, Keras's bar would leave one drawing per file; here there is a line at each quarter."""
    files = {f"piece_{number:02}.mid": bad_midi.good_midi(repeats=1, transpose=number - 10) for number in range(20)}
    folder = bad_midi.write_files(tmp_path / "midi", files)
    found = parse_folder(folder, FAITHFUL, cache_dir=tmp_path / "cache", workers=1)
    output = capsys.readouterr().out  # capsys's stdout is not a terminal
    assert len(found.pieces) == 20
    assert "\r" not in output and "\b" not in output  # nothing redrawn
    lines = output.splitlines()
    assert len(lines) == PROGRESS_LINES_IN_A_LOG
    assert [line.split(",")[0] for line in lines] == [f"parsing: {done}/20 files" for done in (5, 10, 15, 20)]


def test_on_a_terminal_progress_is_the_keras_bar(small_folder, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(sys.stdout, "isatty", lambda: True)
    parse_folder(small_folder, FAITHFUL, cache_dir=tmp_path / "cache", workers=1)
    output = capsys.readouterr().out
    assert "2/2" in output and "━" in output  # the count and the bar Keras draws
    assert "parsing:" not in output


# --- The cache -----------------------------------------------------------------------


class ParseRecorder:
    """Stands in for parse_midi_file: records which files it was asked for, then parses or refuses."""

    def __init__(self, allow: bool):
        self.allow, self.paths = allow, []
        self.real = corpus.parse_midi_file

    def __call__(self, path, encoding):
        self.paths.append(path.name)
        if not self.allow:
            raise AssertionError(f"{path.name} should have come from the cache")
        return self.real(path, encoding)


def test_second_parse_comes_from_the_cache(small_folder, tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    first = parse_folder(small_folder, ALL_FLAGS, cache_dir=cache, workers=1)

    refuse = ParseRecorder(allow=False)
    monkeypatch.setattr(corpus, "parse_midi_file", refuse)
    monkeypatch.setattr(note_tokens, "midiFileToStream", refuse)
    second = parse_folder(small_folder, ALL_FLAGS, cache_dir=cache, workers=1)

    assert refuse.paths == []
    assert second.pieces == first.pieces
    assert second.skipped == first.skipped == []


def test_a_changed_file_is_parsed_again(small_folder, tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    parse_folder(small_folder, ALL_FLAGS, cache_dir=cache, workers=1)
    midi_fixtures.write_two_hands(small_folder / "two_hands.mid", drums=False)  # same name, other bytes

    record = ParseRecorder(allow=True)
    monkeypatch.setattr(corpus, "parse_midi_file", record)
    found = parse_folder(small_folder, ALL_FLAGS, cache_dir=cache, workers=1)

    assert record.paths == ["two_hands.mid"]
    assert found.pieces[1].tokens == TWO_HANDS_ALL_FLAGS


def test_a_changed_encoding_is_parsed_again(small_folder, tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    parse_folder(small_folder, ALL_FLAGS, cache_dir=cache, workers=1)

    record = ParseRecorder(allow=True)
    monkeypatch.setattr(corpus, "parse_midi_file", record)
    found = parse_folder(small_folder, FAITHFUL, cache_dir=cache, workers=1)

    assert sorted(record.paths) == ["held_across_barline.mid", "two_hands.mid"]
    assert found.pieces[1].tokens == TWO_HANDS_FAITHFUL
