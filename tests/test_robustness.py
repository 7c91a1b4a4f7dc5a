"""Bad input gets a clear answer, and an interrupted run loses nothing.

- Every kind of bad MIDI file (built in bad_midi.py) is skipped with one warning
  line beside good files, and the run goes on; odd meters and tempo changes are read.
- Random and damaged MIDI bytes give tokens or a clean skip, never anything else.
- Every user mistake ends with one sentence on standard error and exit status 2.
- A training run killed mid-epoch leaves a bundle that loads, and --resume carries on.
- A bundle or a MIDI file interrupted while being written leaves the previous one whole.
"""

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import keras
import numpy as np
import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from music21 import stream

import bad_midi
import predict as predict_script
import train as train_script
from classical_composer import cli, tokens
from classical_composer.bundle import (
    FORMAT_VERSION, POINTER_FILE, RESUME_FILE, Bundle, load_bundle, read_pointer, save_bundle,
)
from classical_composer.network import build_network
from classical_composer.corpus import MAX_REASON_CHARACTERS, Piece, UnreadableMidi, parse_folder, parse_midi_file
from classical_composer.predict import write_midi
from classical_composer.prepare_sequences import Vocabulary, make_windows
from classical_composer.settings import Settings
from classical_composer.training import TRAINING_PICTURE, training_batches
from classical_composer.representations import representation_of

NOTE_TOKENS = representation_of(Settings())
from script_runs import succeeds

PROJECT_ROOT = Path(__file__).resolve().parent.parent
FAITHFUL = Settings().encoding()
ALL_FLAGS = Settings(rests=True, octave_chords=True, durations=True, velocities=True, transpose=True).encoding()
EVENTS = Settings(representation="events").encoding()  # performance events, read by performance.py
# Windows of 4: the LSTM unrolls its loop in training, so short windows trace sooner.
WINDOW = 4
QUICK_TRAINING = ["--preset", "tiny", "--sequence-length", str(WINDOW), "--batch-size", "4",
                  "--learning-rate-decay", "0.5"]
KILL_AFTER_SAVE_SECONDS = 0.5  # into the next epoch, which takes a second or more on these files
SUBPROCESS_TIMEOUT_SECONDS = 300

# The sentence each bad file is skipped with, whatever the encoding (note tokens or performance events).
EXPECTED_REASONS = {
    "corrupt_bytes.mid": "it does not start with a MIDI header, so it is not a MIDI file",
    "text_named_midi.mid": "it does not start with a MIDI header, so it is not a MIDI file",
    "zero_length.mid": "the file is empty",
    "truncated_track.mid": "it is cut short: track 2 runs past the end of the file",  # the note track
    "only_drums.mid": "it has no pitched notes",
    "no_notes.mid": "it has no pitched notes",
    "endless_note.mid": "it lasts 1,000,000 quarter notes, far longer than any piece, so its timing is damaged",
    "zero_ticks_per_quarter.mid": "its header gives 0 ticks per quarter note, so its timing is damaged",
}
GOOD_FILE_TOKENS = len(bad_midi.scale_piece(bad_midi.GOOD_PIECE_REPEATS))  # each good file: one event a step


@pytest.fixture(scope="module")
def mixed_folder(tmp_path_factory) -> Path:
    """Good, bad and non-MIDI files side by side, already in the (private) parse cache."""
    folder = bad_midi.write_fixture_folder(tmp_path_factory.mktemp("mixed_midi"))
    parse_folder(folder, FAITHFUL, workers=1)  # later runs of the scripts read the cache, not a process pool
    return folder


# --- Per-file tolerance -------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(bad_midi.BAD_FILES))
@pytest.mark.parametrize("encoding", [FAITHFUL, ALL_FLAGS, EVENTS], ids=["faithful", "all flags", "events"])
def test_each_bad_file_alone_is_refused_with_its_sentence(name, encoding, tmp_path):
    path = bad_midi.write_files(tmp_path, {name: bad_midi.BAD_FILES[name]}) / name
    with pytest.raises(UnreadableMidi) as error:
        parse_midi_file(path, encoding)
    assert str(error.value) == EXPECTED_REASONS[name]


@pytest.mark.parametrize("encoding", [FAITHFUL, ALL_FLAGS], ids=["faithful", "all flags"])
def test_bad_files_are_skipped_with_one_warning_each_and_good_ones_read(encoding, mixed_folder, tmp_path, capsys):
    for attempt in ("parsed", "from the cache"):
        corpus = parse_folder(mixed_folder, encoding, cache_dir=tmp_path / "cache", workers=1)
        # .midi and .MID are MIDI files too; README.txt and cover.png are neither read nor reported.
        assert sorted(piece.name for piece in corpus.pieces) == sorted(bad_midi.GOOD_FILES), attempt
        assert sorted(name for name, _ in corpus.skipped) == sorted(bad_midi.BAD_FILES), attempt
        for name, reason in corpus.skipped:
            assert reason == EXPECTED_REASONS[name], (attempt, name)
        warnings = capsys.readouterr().err.splitlines()
        assert warnings == [f"warning: skipped {name}: {reason}" for name, reason in corpus.skipped], attempt


@pytest.mark.parametrize("encoding", [FAITHFUL, ALL_FLAGS], ids=["faithful", "all flags"])
@pytest.mark.parametrize(
    "variant",
    [{"numerator": 7, "denominator": 8}, {"numerator": 5, "denominator": 4}, {"bpm_changes": {5: 80, 17: 160, 30: 96}}],
    ids=["7/8", "5/4", "tempo changes"],
)
def test_odd_meters_and_tempo_changes_are_read_like_plain_four_four(tmp_path, variant, encoding):
    files = bad_midi.write_files(tmp_path, {"plain.mid": bad_midi.good_midi(), "odd.mid": bad_midi.good_midi(**variant)})
    odd_tokens = parse_midi_file(files / "odd.mid", encoding)
    assert len(odd_tokens) == len(bad_midi.scale_piece())
    assert odd_tokens == parse_midi_file(files / "plain.mid", encoding)


def test_a_long_many_line_reason_is_printed_as_one_short_line(tmp_path, capsys, monkeypatch):
    def unreadable(path, encoding):
        raise UnreadableMidi("first line\n  second line\n" + "x" * 1000)

    monkeypatch.setattr("classical_composer.corpus.parse_midi_file", unreadable)
    folder = bad_midi.write_files(tmp_path / "midi", {"piece.mid": bad_midi.good_midi()})
    corpus = parse_folder(folder, FAITHFUL, cache_dir=tmp_path / "cache", workers=1)
    (warning,) = capsys.readouterr().err.splitlines()
    assert warning.startswith("warning: skipped piece.mid: first line second line xxx")
    ((_, reason),) = corpus.skipped
    assert len(reason) <= MAX_REASON_CHARACTERS


@pytest.mark.parametrize("damage", [
    "not json", "{}", "[1, 2, 3]",
    # The shape of a cache entry, (tokens, None) or (None, reason), but not its contents.
    "[null, null]", "[1, 2]",
])
def test_a_damaged_cache_entry_is_parsed_again_and_repaired(damage, tmp_path):
    folder = bad_midi.write_files(tmp_path / "midi", {"piece.mid": bad_midi.good_midi()})
    cache = tmp_path / "cache"
    first = parse_folder(folder, FAITHFUL, cache_dir=cache, workers=1)
    (entry,) = cache.glob("*.json")
    entry.write_text(damage)
    again = parse_folder(folder, FAITHFUL, cache_dir=cache, workers=1)
    assert again.pieces == first.pieces
    assert json.loads(entry.read_text()) == [first.pieces[0].tokens, None]  # the entry is whole again


# --- Random and damaged bytes: tokens or a clean skip --------------------------------

SMALL_GOOD_MIDI = bad_midi.good_midi(repeats=1)
HEADER_BYTES = 14  # "MThd", its length, format, track count and ticks per quarter
# Replacing a byte after the header keeps every length intact, so such files
# reach music21 itself; the other changes mostly test the layout check.
CHANGES = ["replace"] * 6 + ["insert", "delete", "cut"]
RANDOM_SHARE = 4  # one file in this many is random bytes rather than a damaged MIDI file


@st.composite
def midi_like_bytes(draw) -> bytes:
    """Random bytes, or a small good MIDI file with a few bytes replaced, inserted or deleted, or its tail cut off."""
    if draw(st.integers(1, RANDOM_SHARE)) == 1:
        return draw(st.binary(max_size=300))
    data = bytearray(SMALL_GOOD_MIDI)
    for _ in range(draw(st.integers(1, 4))):
        change = draw(st.sampled_from(CHANGES))
        position = draw(st.integers(HEADER_BYTES if change == "replace" else 0, len(data) - 1))
        if change == "replace":
            data[position] = draw(st.integers(0, 255))
        elif change == "insert":
            data[position:position] = draw(st.binary(min_size=1, max_size=4))
        elif change == "delete":
            del data[position : position + draw(st.integers(1, 4))]
        else:
            del data[position:]
        if len(data) <= HEADER_BYTES:
            break
    return bytes(data)


@pytest.fixture(scope="module")
def scratch_folder(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("damaged_midi")


# derandomize: the same examples on every run, so the suite's time and outcome never vary.
@hypothesis_settings(max_examples=40, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(data=midi_like_bytes(), encoding=st.sampled_from([FAITHFUL, ALL_FLAGS]))
def test_any_bytes_give_tokens_or_a_clean_skip(scratch_folder, data, encoding):
    path = scratch_folder / "damaged.mid"
    path.write_bytes(data)
    try:
        token_list = parse_midi_file(path, encoding)
    except UnreadableMidi as error:
        assert str(error).strip()  # a reason to print
    else:
        assert token_list
        for token in token_list:
            assert tokens.encode(tokens.decode(token)) == token  # every token is one of the grammar's


# --- Interrupted while writing ----------------------------------------------------


class Interrupted(BaseException):
    """Stands in for Ctrl-C arriving at a chosen moment."""


def test_a_bundle_interrupted_while_saving_leaves_the_previous_one(tmp_path, monkeypatch):
    settings = Settings(preset="tiny", sequence_length=8)
    vocabulary = Vocabulary(["C4", "D4", "E4"])
    pieces = [vocabulary.encode(["C4", "D4", "E4"] * 4)]
    save_bundle(tmp_path, Bundle(settings, vocabulary, build_network(settings, len(vocabulary)), pieces, None,
                                {"epochs": 1}))
    before = (tmp_path / POINTER_FILE).read_text()

    def save_half_then_stop(model, path, *arguments, **keywords):
        Path(path).write_bytes(b"the first bytes of a model")
        raise Interrupted

    monkeypatch.setattr(keras.Model, "save", save_half_then_stop)
    with pytest.raises(Interrupted):
        save_bundle(tmp_path, Bundle(settings, vocabulary, build_network(settings, len(vocabulary)), pieces, None,
                                    {"epochs": 2}))
    assert (tmp_path / POINTER_FILE).read_text() == before
    assert load_bundle(tmp_path).training == {"epochs": 1}


def test_a_midi_file_interrupted_while_writing_leaves_the_previous_one(tmp_path, monkeypatch):
    output = tmp_path / "output.mid"
    write_midi(["C4", "E4"], output, NOTE_TOKENS)
    before = output.read_bytes()

    def write_half_then_stop(self, format, fp, *arguments, **keywords):
        Path(fp).write_bytes(before[: len(before) // 2])
        raise Interrupted

    monkeypatch.setattr(stream.Stream, "write", write_half_then_stop)
    with pytest.raises(Interrupted):
        write_midi(["G4", "A4", "B4"], output, NOTE_TOKENS)
    assert output.read_bytes() == before
    assert sorted(path.name for path in tmp_path.iterdir()) == ["output.mid"]  # no half-written file left


# --- A training run killed mid-epoch -----------------------------------------------


def start_script(script: str, *arguments) -> subprocess.Popen:
    """Start a script from the project root as a user would; its output goes to pipes."""
    return subprocess.Popen(
        [sys.executable, script, *map(str, arguments)], cwd=PROJECT_ROOT,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )


def run_script(script: str, *arguments) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, script, *map(str, arguments)], cwd=PROJECT_ROOT,
        capture_output=True, text=True, timeout=SUBPROCESS_TIMEOUT_SECONDS,
    )


@pytest.fixture(scope="module")
def killed_run(mixed_folder, tmp_path_factory) -> dict:
    """Start a long run, SIGKILL it once the first epoch is saved and the next is under way."""
    out = tmp_path_factory.mktemp("killed_run") / "bundle"
    training = start_script("train.py", *QUICK_TRAINING, "--epochs", 50, "--midi-dir", mixed_folder, "--out", out)
    try:
        deadline = time.monotonic() + SUBPROCESS_TIMEOUT_SECONDS
        while not (out / RESUME_FILE).exists() and training.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(KILL_AFTER_SAVE_SECONDS)
    finally:
        training.send_signal(signal.SIGKILL)
        output, errors = training.communicate()
    assert training.returncode == -signal.SIGKILL, f"the run ended before it was killed:\n{output}\n{errors}"
    return {"out": out, "state": read_pointer(out, RESUME_FILE)}


def test_a_killed_run_leaves_a_bundle_that_loads(killed_run):
    bundle = load_bundle(killed_run["out"])
    assert bundle.settings.sequence_length == WINDOW
    assert 1 <= bundle.training["best_epoch"] <= killed_run["state"]["epochs_done"]
    assert bundle.training["files_read"] == len(bad_midi.GOOD_FILES)
    assert bundle.training["files_skipped"] == len(bad_midi.BAD_FILES)


def test_resume_continues_after_the_last_finished_epoch(killed_run, mixed_folder):
    out, state_at_kill = killed_run["out"], killed_run["state"]
    done = state_at_kill["epochs_done"]
    printed = succeeds(train_script, *QUICK_TRAINING, "--epochs", done + 1, "--midi-dir", mixed_folder,
                       "--out", out, "--resume")
    assert f"resuming after epoch {done} of {done + 1}" in printed
    assert f"Epoch {done + 1}/{done + 1}" in printed and "Epoch 1/" not in printed

    state = read_pointer(out, RESUME_FILE)
    assert state["epochs_done"] == done + 1
    for name, values in state_at_kill["history"].items():
        assert state["history"][name][:done] == values  # the earlier epochs are kept
        assert len(state["history"][name]) == done + 1
    # --learning-rate-decay 0.5 goes on halving from where the killed run was, not from the start again.
    assert state["history"]["learning_rate"] == pytest.approx([0.001 * 0.5 ** epoch for epoch in range(done + 1)])
    monitor = load_bundle(out).training["monitor"]
    assert state["best"] == min(state["history"][monitor])  # the best value of all epochs, not only the new one

    # Whatever the kill left half-written is gone: only what the two pointers name remains, and the losses' picture.
    pointers = [json.loads((out / name).read_text()) for name in (POINTER_FILE, RESUME_FILE)]
    named = {value for pointer in pointers for key, value in pointer.items() if key.endswith("_file")}
    assert sorted(path.name for path in out.iterdir()) == sorted(named | {POINTER_FILE, RESUME_FILE, TRAINING_PICTURE})


def window_orders(batches, first_epoch: int, epochs: int) -> list:
    """The order of the training windows (or chunks) at the start of each epoch that model.fit runs."""
    def order() -> list:
        if hasattr(batches, "spans"):  # chunks: where each batch's chunks lie
            return [batches.spans[rows].tolist() for rows in batches.batches]
        return batches.order.tolist()

    orders = []
    record = keras.callbacks.LambdaCallback(on_epoch_begin=lambda epoch, logs: orders.append(order()))
    # Flatten for a window's one target; a chunk has a target at every step, which Dense alone keeps.
    every_step = hasattr(batches, "spans")
    model = keras.Sequential([keras.Input((8, 1)), *([] if every_step else [keras.layers.Flatten()]),
                              keras.layers.Dense(3, activation="softmax")])
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    model.fit(batches, initial_epoch=first_epoch, epochs=epochs, callbacks=[record], verbose=0)
    return orders


@pytest.mark.parametrize("chunks", [False, True])
def test_a_resumed_run_sees_the_windows_in_the_order_of_an_uninterrupted_one(chunks):
    settings = Settings(preset="tiny", sequence_length=8, batch_size=4, chunks=chunks)
    vocabulary = Vocabulary(["C4", "D4", "E4"])
    pieces = [Piece("scale", ["C4", "D4", "E4"] * 10), Piece("other", ["E4", "C4"] * 12)]
    windows = make_windows(pieces, vocabulary, settings.sequence_length)
    indices = [vocabulary.encode(piece.tokens) for piece in pieces]
    uninterrupted = window_orders(training_batches(windows, indices, None, len(vocabulary), settings), 0, 4)
    resumed = window_orders(training_batches(windows, indices, None, len(vocabulary), settings, first_epoch=2), 2, 4)
    assert resumed == uninterrupted[2:]
    assert uninterrupted[2] != uninterrupted[0]  # each epoch is shuffled afresh


# --- Clear errors: one sentence, exit status 2 --------------------------------------


def run_in_process(script_module, arguments, monkeypatch, capsys) -> tuple[int, list[str]]:
    """Run a script's main() the way its command line does; return its exit status and standard error lines.

    Any exception other than the script's own one-sentence errors would escape
    here and fail the test, just as it would print a traceback for a user.
    """
    monkeypatch.setattr(sys, "argv", [Path(script_module.__file__).name, *map(str, arguments)])
    capsys.readouterr()  # forget what earlier set-up printed
    with pytest.raises(SystemExit) as exit_info:
        cli.run(script_module.main)
    return exit_info.value.code, capsys.readouterr().err.splitlines()


def assert_one_sentence(status: int, lines: list[str], expected: str) -> None:
    """Exit status 2 and exactly one line on standard error: "error: " and the expected sentence."""
    assert status == 2
    assert lines == [f"error: {expected}"]


@pytest.fixture(scope="module")
def good_folder(tmp_path_factory) -> Path:
    folder = bad_midi.write_files(tmp_path_factory.mktemp("good_midi"), bad_midi.GOOD_FILES)
    parse_folder(folder, FAITHFUL, workers=1)
    return folder


@pytest.fixture
def a_file(tmp_path) -> Path:
    path = tmp_path / "a_file"
    path.write_text("not a folder")
    return path


@pytest.mark.parametrize(
    "arguments, expected",
    [
        (["--midi-dir", "{missing}"], "the MIDI folder {missing} does not exist; point --midi-dir at a folder of .mid files"),
        (["--midi-dir", "{empty}"],
         "no usable MIDI file in {empty} (files skipped: 0); put .mid or .midi files with notes there"),
        (["--midi-dir", "{a_file}"],
         "the MIDI folder {a_file} is a file, not a folder; point --midi-dir at a folder of .mid files"),
        (["--sequence-length", "500"],
         "--sequence-length 500 is longer than every training piece (the longest has {good_file_tokens} tokens); "
         "choose a smaller --sequence-length"),
        (["--out", "{a_file}"], "--out {a_file} is a file, but a bundle is a folder; choose another path"),
        (["--out", "{a_file}/bundle"],
         "cannot make the bundle folder {a_file}/bundle, because {a_file} is a file; choose another --out"),
        (["--out", "{empty}", "--resume"], "there is no interrupted run to resume in {empty}; start one without --resume"),
        (["--out", "{missing}", "--resume"],
         "there is no interrupted run to resume in {missing}; start one without --resume"),
    ],
    ids=["missing midi-dir", "empty midi-dir", "midi-dir is a file", "sequence longer than the data",
         "out is a file", "out inside a file", "resume with no run", "resume with no folder"],
)
def test_train_mistakes(arguments, expected, good_folder, a_file, tmp_path, monkeypatch, capsys):
    (tmp_path / "empty").mkdir()
    places = {"missing": tmp_path / "missing", "empty": tmp_path / "empty", "a_file": a_file,
              "good_file_tokens": GOOD_FILE_TOKENS}
    arguments = [argument.format(**places) for argument in arguments]
    defaults = ["--midi-dir", good_folder, "--out", tmp_path / "bundle", "--epochs", 1]
    status, lines = run_in_process(train_script, [*QUICK_TRAINING, *defaults, *arguments], monkeypatch, capsys)
    assert_one_sentence(status, lines, expected.format(**places))
    assert not (tmp_path / "bundle").exists()


@pytest.mark.parametrize(
    "flag, value, expected",
    [
        ("--epochs", "0", "--epochs must be at least 1"),
        ("--batch-size", "0", "--batch-size must be at least 1"),
        ("--sequence-length", "0", "--sequence-length must be at least 1"),
        ("--validation-split", "1", "--validation-split must be at least 0 and below 1"),
        ("--patience", "-1", "--patience must be 0 (never stop early) or more"),
        ("--dropout", "1", "--dropout must be at least 0 and below 1"),
    ],
)
def test_train_refuses_a_bad_number_before_reading_any_file(flag, value, expected, good_folder, tmp_path):
    """From the command line: one sentence and status 2, with no file parsed, no cache written, no bundle begun."""
    cache, out = tmp_path / "cache", tmp_path / "bundle"
    result = subprocess.run(
        [sys.executable, "train.py", *QUICK_TRAINING, "--midi-dir", str(good_folder), "--out", str(out), flag, value],
        cwd=PROJECT_ROOT, env={**os.environ, "CLASSICAL_COMPOSER_CACHE": str(cache)},
        capture_output=True, text=True, timeout=SUBPROCESS_TIMEOUT_SECONDS,
    )
    assert result.returncode == 2
    assert result.stderr == f"error: {expected}\n"
    assert result.stdout == ""  # not even "parsed N files"
    assert not cache.exists() and not out.exists()


def test_nothing_usable_left_is_one_sentence_after_the_warnings(mixed_folder, tmp_path, monkeypatch, capsys):
    only_bad = bad_midi.write_files(tmp_path / "only_bad", bad_midi.BAD_FILES)
    status, lines = run_in_process(
        train_script, [*QUICK_TRAINING, "--midi-dir", only_bad, "--out", tmp_path / "bundle"], monkeypatch, capsys,
    )
    assert lines[:-1] == [f"warning: skipped {name}: {EXPECTED_REASONS[name]}" for name in sorted(bad_midi.BAD_FILES)]
    assert_one_sentence(status, lines[-1:], f"no usable MIDI file in {only_bad} (files skipped: "
                                            f"{len(bad_midi.BAD_FILES)}); put .mid or .midi files with notes there")


DIFFERENT_RUN = ("cannot resume: the data or settings differ from those of the run in {out}; "
                 "use the same --midi-dir and flags (only --epochs may change)")


@pytest.mark.parametrize(
    "change, expected",
    [
        (["--epochs", "1"], "the run in {out} already finished {done} epochs; ask for more with --epochs"),
        (["--seed", "7"], DIFFERENT_RUN),
        (["--sequence-length", "6"], DIFFERENT_RUN),
        (["--rests"], DIFFERENT_RUN),
        (["more data"], DIFFERENT_RUN),
    ],
    ids=["fewer epochs than done", "other seed", "other sequence length", "other encoding", "other data"],
)
def test_resume_refuses_other_data_or_settings(change, expected, killed_run, mixed_folder, tmp_path, monkeypatch,
                                               capsys):
    midi_dir = mixed_folder
    if change == ["more data"]:
        midi_dir = Path(shutil.copytree(mixed_folder, tmp_path / "more_midi"))
        bad_midi.write_files(midi_dir, {"one_more.mid": bad_midi.good_midi(transpose=1)})
        change = []
    out = killed_run["out"]
    before = sorted(path.name for path in out.iterdir())
    arguments = [*QUICK_TRAINING, "--epochs", 99, "--midi-dir", midi_dir, "--out", out, "--resume", *change]
    status, lines = run_in_process(train_script, arguments, monkeypatch, capsys)
    lines = [line for line in lines if not line.startswith("warning: skipped ")]
    assert_one_sentence(status, lines, expected.format(out=out, done=read_pointer(out, RESUME_FILE)["epochs_done"]))
    assert sorted(path.name for path in out.iterdir()) == before  # the run is left as it was


def damage_bundle(bundle: Path, copy: Path, damage: str) -> Path:
    shutil.copytree(bundle, copy)
    pointer = json.loads((copy / POINTER_FILE).read_text())
    model_path = copy / pointer["model_file"]
    if damage == "model missing":
        model_path.unlink()
    elif damage == "model cut short":  # an interrupted copy
        model_path.write_bytes(model_path.read_bytes()[: model_path.stat().st_size // 2])
    elif damage == "newer format":
        pointer["format_version"] += 1
    elif damage == "unknown format":
        pointer["format"] = "some other program's weights"
    elif damage == "vocabulary does not match":
        pointer["vocabulary"] = pointer["vocabulary"][:-1]
    elif damage == "vocabulary not sorted":
        pointer["vocabulary"] = pointer["vocabulary"][::-1]
    elif damage == "token past the vocabulary":
        too_far = len(pointer["vocabulary"])  # one past the last index
        with open(copy / "training_tokens-damaged.npz", "wb") as handle:
            np.savez(handle, token_indices=np.array([0, 1, too_far], dtype=np.int32), piece_lengths=np.array([3]))
        pointer["training_tokens_file"] = "training_tokens-damaged.npz"
    elif damage == "unknown preset":
        pointer["settings"]["preset"] = "enormous"
    elif damage == "no vocabulary key":
        del pointer["vocabulary"]
    (copy / POINTER_FILE).write_text(json.dumps(pointer))
    return copy


@pytest.mark.parametrize(
    "damage, expected",
    [
        ("no folder", "there is no bundle folder {folder}; train one with: python train.py --out {folder}"),
        ("model missing", "{folder} is incomplete: {model_file} is missing; train it again"),
        ("model cut short", "{folder}/{model_file} is damaged (cut short or changed since it was saved), so it cannot "
                            "be loaded as a Keras model; train the bundle again"),
        ("newer format", "{folder} was written in bundle format {newer}, but this version reads format {version} "
                         "and older; update classical-composer or retrain"),
        ("unknown format", "{folder}/bundle.json is not a classical-composer bundle"),
        ("vocabulary does not match", "the vocabulary in {folder} has {fewer} tokens but its network predicts "
                                      "{classes} classes; the bundle's files do not belong together, so train it again"),
        ("vocabulary not sorted", "the vocabulary in {folder}/bundle.json is not a sorted list of distinct tokens"),
        ("token past the vocabulary", "the training tokens in {folder} do not fit its vocabulary; train the bundle again"),
        ("unknown preset", "the bundle in {folder} uses preset 'enormous', which this version does not know"),
        ("no vocabulary key", "{folder}/bundle.json lacks 'vocabulary', so the bundle is incomplete; train it again"),
    ],
)
def test_predict_with_a_broken_bundle(damage, expected, killed_run, tmp_path, monkeypatch, capsys):
    weights = tmp_path / "missing" if damage == "no folder" else damage_bundle(killed_run["out"], tmp_path / "b", damage)
    pointer = json.loads((killed_run["out"] / POINTER_FILE).read_text())
    classes = len(pointer["vocabulary"])
    arguments = ["--weights", weights, "--num-notes", 3, "--output", tmp_path / "out.mid"]
    status, lines = run_in_process(predict_script, arguments, monkeypatch, capsys)
    assert_one_sentence(status, lines, expected.format(
        folder=weights, model_file=pointer["model_file"], version=FORMAT_VERSION, newer=FORMAT_VERSION + 1,
        classes=classes, fewer=classes - 1))
    assert not (tmp_path / "out.mid").exists()


@pytest.mark.parametrize(
    "arguments, expected",
    [
        (["--top-k", "-1"], "--top-k must be 0 (whole distribution), 1 (argmax) or more"),
        (["--top-k", "1000"], "--top-k 1000 is more than the bundle's {classes} tokens"),
        (["--temperature", "0"], "--temperature must be above 0"),
        (["--temperature", "-0.5"], "--temperature must be above 0"),
        (["--num-notes", "0"], "--num-notes must be at least 1"),
        (["--output", "{tmp}/missing/out.mid"],
         "the folder {tmp}/missing for --output does not exist; create it or choose another path"),
        (["--output", "{tmp}"], "--output {tmp} is a folder; give a file name, such as {tmp}/output.mid"),
    ],
    ids=["top-k negative", "top-k above the vocabulary", "temperature 0", "temperature negative", "no notes",
         "output folder missing", "output is a folder"],
)
def test_predict_mistakes(arguments, expected, killed_run, tmp_path, monkeypatch, capsys):
    places = {"tmp": tmp_path, "classes": len(json.loads((killed_run["out"] / POINTER_FILE).read_text())["vocabulary"])}
    arguments = [argument.format(**places) for argument in arguments]
    defaults = ["--weights", killed_run["out"], "--num-notes", 3, "--output", tmp_path / "out.mid"]
    status, lines = run_in_process(predict_script, [*defaults, *arguments], monkeypatch, capsys)
    assert_one_sentence(status, lines, expected.format(**places))
    assert not (tmp_path / "out.mid").exists()


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write into any folder")
def test_predict_into_a_folder_that_cannot_be_written(killed_run, tmp_path, monkeypatch, capsys):
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    arguments = ["--weights", killed_run["out"], "--num-notes", 3, "--output", locked / "out.mid"]
    status, lines = run_in_process(predict_script, arguments, monkeypatch, capsys)
    assert_one_sentence(status, lines, f"the folder {locked} for --output is not writable; choose another path")


@pytest.mark.parametrize(
    "script, arguments, expected",
    [
        ("train.py", [*QUICK_TRAINING, "--midi-dir", "no/such/folder"],
         "the MIDI folder no/such/folder does not exist; point --midi-dir at a folder of .mid files"),
        ("predict.py", ["--weights", "no/such/bundle"],
         "there is no bundle folder no/such/bundle; train one with: python train.py --out no/such/bundle"),
    ],
)
def test_from_the_command_line_a_mistake_is_one_line_and_status_2(script, arguments, expected):
    result = run_script(script, *arguments)
    assert "Traceback" not in result.stderr
    assert_one_sentence(result.returncode, result.stderr.splitlines(), expected)
