"""The sentences the scripts answer a mistake with, each asserted whole, and the reasons a file is skipped for.

In:  conftest's tiny bundle and training folder, and files made here.
Out: nothing; these tests fail if a mistake gets another sentence, another exit
     status than 2, a traceback, or leaves a file behind.

The scripts run in this process (script_runs.py), and most mistakes are found
before any bundle is read. test_robustness.py holds the older ones (a missing
folder, a bad number, a damaged bundle); these are the rest.
"""

import errno
import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest

import bad_midi
import predict as predict_script
import train as train_script
from classical_composer import evaluate as evaluate_script
from classical_composer import listen
from classical_composer import plot as plot_script
from classical_composer import predict as predict_module
from classical_composer.bundle import POINTER_FILE, Bundle, save_token_file
from classical_composer.cli import UserError
from classical_composer.corpus import UnreadableMidi, parse_folder, parse_midi_file
from classical_composer.prepare_sequences import Vocabulary
from classical_composer.settings import Settings
from midi_fixtures import hand, place, score_of, write_score
from script_runs import run_main

FAITHFUL = Settings().encoding()
QUICK_TRAINING = ["--preset", "tiny", "--epochs", "1", "--sequence-length", "8"]


def refused(script_module, *arguments) -> str:
    """Run a script that must refuse its command line: exit status 2, one line on standard error; that line."""
    status, _, errors = run_main(script_module, *arguments)
    assert status == 2, errors
    assert errors.startswith("error: ") and errors.endswith("\n") and errors.count("\n") == 1, errors
    return errors.removeprefix("error: ").removesuffix("\n")


def write_melody(path: Path, pitch_names: list[str]) -> Path:
    """One half-quarter note after another: its faithful tokens are the pitch names."""
    right = hand("right")
    for number, name in enumerate(pitch_names):
        place(right, number * 0.5, [name], 0.5, 80)
    return write_score(score_of(right), path)


# --- predict.py ------------------------------------------------------------------------


@pytest.mark.parametrize("arguments, sentence", [
    (["--num-songs", "0"], "--num-songs must be at least 1"),
    (["--bpm", "0"], "--bpm must be above 0"),
    (["--bpm", "-60"], "--bpm must be above 0"),
    (["--instrument", "Kazoo"], "music21 knows no instrument called 'Kazoo'; try Piano, Harpsichord or Violin"),
    (["--composer", "bach"], "this bundle was trained without --composers, so it cannot be asked for a composer; "
                             "leave out --composer"),
], ids=["no songs", "no tempo", "negative tempo", "unknown instrument", "composer without composers"])
def test_predict_refuses(arguments, sentence, tiny_bundle, tmp_path):
    output = tmp_path / "song.mid"
    assert refused(predict_script, "--weights", tiny_bundle, "--num-notes", "3", "--output", output,
                   *arguments) == sentence
    assert not output.exists()


def test_predict_refuses_a_primer_that_is_not_midi(tiny_bundle, tmp_path):
    primer, output = tmp_path / "notes.mid", tmp_path / "song.mid"
    primer.write_text("C D E F G")
    assert refused(predict_script, "--weights", tiny_bundle, "--prime", primer, "--output", output) == (
        f"cannot prime with {primer}: it does not start with a MIDI header, so it is not a MIDI file")
    assert not output.exists()


def test_a_primer_too_short_for_the_training_data_to_pad_is_refused(tmp_path):
    """Three notes for a window of 8, and a training piece of 4 tokens: 5 tokens of padding cannot be found."""
    primer = write_melody(tmp_path / "primer.mid", ["C4", "D4", "E4"])
    vocabulary = Vocabulary(["C4", "D4", "E4", "F4"])
    bundle = Bundle(Settings(sequence_length=8), vocabulary, model=None,
                    training_pieces=[vocabulary.encode(["C4", "D4", "E4", "F4"])], validation_pieces=None, training={})
    with pytest.raises(UserError) as error:
        listen.primed_window(primer, bundle, np.random.default_rng(0))
    assert str(error.value) == (f"{primer} is too short to prime with and the training data cannot pad it: "
                                f"no training piece has the 5 tokens a seed window needs")


def test_a_song_that_cannot_be_written_is_one_sentence(tiny_bundle, tmp_path, monkeypatch):
    output = tmp_path / "song.mid"

    def disk_full(token_list, path, *arguments, **keywords):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))

    monkeypatch.setattr(predict_module, "write_midi", disk_full)
    assert refused(predict_script, "--weights", tiny_bundle, "--num-notes", "3", "--seed", "1",
                   "--output", output) == f"cannot write {output} (No space left on device); choose another --output"
    assert not output.exists()


# --- train.py: refused before any file is read -----------------------------------------


@pytest.mark.parametrize("arguments, sentence", [
    (["--token-parts"],
     "--token-parts builds each token's embedding from its parts, so it needs --embedding N as well"),
    (["--learning-rate", "0"], "--learning-rate must be above 0"),
    (["--learning-rate-decay", "1.5"], "--learning-rate-decay must be above 0 and at most 1"),
    (["--embedding", "-1"], "--embedding must be 0 (the original's scalar input) or more"),
    (["--min-count", "0"], "--min-count must be 1 (keep every token) or more"),
], ids=["token parts without embedding", "no learning rate", "growing learning rate", "negative embedding",
        "no min count"])
def test_train_refuses(arguments, sentence, training_folder, tmp_path):
    out = tmp_path / "bundle"
    assert refused(train_script, *QUICK_TRAINING, "--midi-dir", training_folder, "--out", out, *arguments) == sentence
    assert not out.exists()


def test_train_refuses_a_min_count_no_token_reaches(training_folder, tmp_path):
    parse_folder(training_folder, Settings().encoding(), workers=1)  # into the private cache: no pool
    out = tmp_path / "bundle"
    assert refused(train_script, *QUICK_TRAINING, "--midi-dir", training_folder, "--out", out,
                   "--min-count", "1000") == "no token is heard 1000 times in 3 files; choose a smaller --min-count"
    assert not out.exists()


def test_train_refuses_an_out_it_cannot_write(training_folder, tmp_path, monkeypatch):
    """The check asks the operating system; root may write anywhere, so the answer for this folder is made no."""
    locked, out = tmp_path / "locked", tmp_path / "locked" / "bundle"
    locked.mkdir(mode=0o500)
    may_access = os.access
    monkeypatch.setattr(os, "access", lambda path, mode: Path(path) != locked and may_access(path, mode))
    assert refused(train_script, *QUICK_TRAINING, "--midi-dir", training_folder, "--out", out) == (
        f"cannot write the bundle folder {out}, because {locked} is not writable; choose another --out")
    assert not out.exists()


# --- evaluate and plot -----------------------------------------------------------------------


def test_evaluate_refuses_a_folder_that_is_no_bundle(tmp_path):
    missing = tmp_path / "missing"
    assert refused(evaluate_script, "--weights", missing) == (
        f"there is no bundle folder {missing}; train one with: python train.py --out {missing}")


def test_evaluate_says_when_its_json_cannot_be_written(tiny_bundle, tmp_path):
    figures = tmp_path / "missing" / "figures.json"
    assert refused(evaluate_script, "--weights", tiny_bundle, "--json", figures) == (
        f"cannot write {figures} (No such file or directory); choose another --json")


def test_evaluate_says_when_no_held_out_piece_fills_a_window(tiny_bundle, tmp_path):
    """The tiny bundle with a held-out piece of 5 tokens, saved as train.py saves one: windows are 8 long.

    train.py writes such a bundle when --sequence-length is longer than every held-out piece but
    not than every training piece ("no validation windows: the best model is judged on the training loss").
    """
    short = Path(shutil.copytree(tiny_bundle, tmp_path / "short_held_out"))
    pointer = json.loads((short / POINTER_FILE).read_text())
    pointer["validation_tokens_file"] = save_token_file(short, [np.arange(5, dtype=np.int32)], "validation_tokens",
                                                        np.zeros(1, np.int32))
    (short / POINTER_FILE).write_text(json.dumps(pointer))
    assert refused(evaluate_script, "--weights", short) == (
        "no held-out piece is longer than the 8-token window, so there is nothing to score")


def test_plot_refuses_a_missing_file_and_a_missing_output_folder(tmp_path):
    melody = write_melody(tmp_path / "melody.mid", ["C4", "E4"])
    missing = tmp_path / "missing.mid"
    assert refused(plot_script, melody, missing) == f"there is no file {missing}; give the path of a .mid file"
    rolls = tmp_path / "missing" / "rolls.png"
    assert refused(plot_script, melody, "--output", rolls) == (
        f"the folder for --output {rolls} does not exist; create it first")
    assert sorted(path.name for path in tmp_path.iterdir()) == ["melody.mid"]


def test_plot_refuses_a_file_music21_cannot_read_as_midi(tmp_path):
    not_midi = tmp_path / "notes.mid"
    not_midi.write_text("these are words, not MIDI")
    assert refused(plot_script, not_midi) == f"{not_midi} is not a readable MIDI file (MidiException)"
    assert sorted(path.name for path in tmp_path.iterdir()) == ["notes.mid"]


# --- The corpus: why a file is skipped --------------------------------------------------------


def test_a_file_with_fewer_tracks_than_its_header_promises_is_cut_short(tmp_path):
    two_tracks = bad_midi.good_midi()
    promising_three = two_tracks[:10] + (3).to_bytes(2, "big") + two_tracks[12:]  # the header's track count
    path = bad_midi.write_files(tmp_path, {"short.mid": promising_three}) / "short.mid"
    with pytest.raises(UnreadableMidi) as error:
        parse_midi_file(path, FAITHFUL)
    assert str(error.value) == "it is cut short: its header promises 3 tracks, but only 2 are there"


def test_a_meter_music21_cannot_build_a_score_in_is_the_files_reason(tmp_path):
    """A time signature of 4/2**129 (its denominator byte damaged): the layout is whole, the score cannot be."""
    conductor = bad_midi.track_chunk(bad_midi.tempo_event(120)
                                     + bad_midi.meta_event(bad_midi.TIME_SIGNATURE, bytes([4, 129, 24, 8])))
    notes = bad_midi.track_chunk(bad_midi.melody_events(bad_midi.scale_piece(1)))
    path = bad_midi.write_files(tmp_path, {"meter.mid": bad_midi.midi_file([conductor, notes])}) / "meter.mid"
    with pytest.raises(UnreadableMidi) as error:
        parse_midi_file(path, FAITHFUL)
    assert str(error.value) == (f"music21 could not make a score of it (MeterException: Cannot set partition by 4 "
                                f"(4/{2 ** 129}))")
