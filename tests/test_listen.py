"""Priming, the report, the piano roll, --wav, --instrument/--bpm, --patience and --transpose.

Each test builds its own small MIDI files from the building blocks in
midi_fixtures, so the tokens they give are known. The bundles are trained on
the tiny preset for one or a few epochs: they are not musical, but every path
from a flag to a file is real.
"""

import importlib.util
import json
import os
import subprocess
import sys
import wave
from pathlib import Path

import matplotlib.image
import numpy as np
import pytest
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from music21 import converter, key, pitch, tempo

import predict as predict_script
from classical_composer import listen, plot, report
from classical_composer.bundle import Bundle, load_bundle
from classical_composer.cli import UserError
from classical_composer.corpus import default_cache_dir, parse_folder, parse_midi_file
from classical_composer.predict import generate, probability_function, seed_windows
from classical_composer.prepare_sequences import NetworkInput, Vocabulary
from classical_composer.settings import Settings
from classical_composer.representations import representation_of

NOTE_TOKENS = representation_of(Settings())
from midi_fixtures import hand, place, programs_in, score_of, write_score
from script_runs import succeeds

PROJECT_ROOT = Path(__file__).resolve().parent.parent
STEP = 0.5  # quarter notes between the notes of the melodies below
VIOLIN_PROGRAM = 40  # General MIDI program of music21's Violin (0-based)


def write_melody(path: Path, pitch_names: list[str], velocity: int = 80) -> Path:
    """One note after another, STEP apart and STEP long: the faithful tokens are the pitch names."""
    right = hand("right")
    for number, name in enumerate(pitch_names):
        place(right, number * STEP, [name], STEP, velocity)
    return write_score(score_of(right), path)


def load_script(name: str):
    """Import a file from scripts/ as a module, to call its main() in this process."""
    spec = importlib.util.spec_from_file_location(name, PROJECT_ROOT / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# --- The report's figures, on sequences whose answers are known ------------------------

# Five tokens, the pitches each plays, and the pitch classes C=0 ... B=11:
#   "0.4.7"  a faithful chord, played in octave 4: 60 64 67  -> C E G
#   "C4"     60                                               -> C
#   "E4"     64                                               -> E
#   "G#2.C5" 44 72                                            -> G# C
#   "rest"   nothing
HAND_MADE_VOCABULARY = ["0.4.7", "C4", "E4", "G#2.C5", "rest"]
HAND_MADE_SONG = [1, 1, 1, 2, 4, 4, 0, 3, 1, 2]  # C4 C4 C4 E4 rest rest 0.4.7 G#2.C5 C4 E4
HAND_MADE_TRAINING = [np.array([2, 4, 0, 3, 1]), np.array([1, 2, 4])]


def test_simple_figures_of_a_hand_made_song():
    song = [HAND_MADE_VOCABULARY[index] for index in HAND_MADE_SONG]
    assert report.longest_run(song) == (3, "C4")
    assert report.longest_run([]) == (0, None)
    assert report.rest_share(song, NOTE_TOKENS) == pytest.approx(2 / 10)
    assert report.pitch_range(song, NOTE_TOKENS) == (44, 72)  # G#2 and C5, both in the two-pitch chord
    assert report.pitch_range(["rest", "rest"], NOTE_TOKENS) is None


def test_pitch_class_histogram_counts_every_sounding_pitch_once():
    # C: three C4 + chord + G#2.C5 + C4 = 6; E: two E4 + chord = 3; G: chord = 1; G#: 1. Total 11.
    song = [HAND_MADE_VOCABULARY[index] for index in HAND_MADE_SONG]
    shares = report.pitch_class_histogram({token: song.count(token) for token in set(song)}, NOTE_TOKENS)
    expected = np.zeros(12)
    expected[[0, 4, 7, 8]] = [6 / 11, 3 / 11, 1 / 11, 1 / 11]
    np.testing.assert_allclose(shares, expected)


def test_total_variation_is_zero_for_equal_and_one_for_disjoint_histograms():
    c_only, e_only = np.eye(12)[0], np.eye(12)[4]
    half_c_half_e = (c_only + e_only) / 2
    assert report.total_variation(c_only, c_only) == 0
    assert report.total_variation(c_only, e_only) == 1
    assert report.total_variation(c_only, half_c_half_e) == pytest.approx(0.5)
    assert report.total_variation(c_only, np.zeros(12)) is None


def test_longest_copied_stretch_stays_inside_one_piece():
    pieces = [[0, 1, 2, 3, 7], [2, 3, 4, 9, 8]]
    assert report.longest_copied_stretch([5, 1, 2, 3, 4, 9], pieces) == 4  # 2 3 4 9, from the second piece
    # 7 ends the first piece and 2 starts the second: joining them would wrongly find "7 2".
    assert report.longest_copied_stretch([7, 2], pieces) == 1
    assert report.longest_copied_stretch([6, 6], pieces) == 0
    assert report.longest_copied_stretch([], pieces) == 0


def brute_force_longest_common_stretch(sequence, pieces):
    best = 0
    for piece in pieces:
        for start in range(len(sequence)):
            for end in range(start + 1, len(sequence) + 1):
                stretch = sequence[start:end]
                if any(piece[i : i + len(stretch)] == stretch for i in range(len(piece) - len(stretch) + 1)):
                    best = max(best, len(stretch))
    return best


# No deadline: a loaded machine may take longer than hypothesis' 200 ms for one example.
@hypothesis_settings(deadline=None)
@given(st.lists(st.integers(0, 3), max_size=12), st.lists(st.lists(st.integers(0, 3), max_size=10), max_size=3))
def test_longest_copied_stretch_agrees_with_brute_force(sequence, pieces):
    assert report.longest_copied_stretch(sequence, pieces) == brute_force_longest_common_stretch(sequence, pieces)


def test_generation_report_of_a_hand_made_song():
    figures = report.generation_report(HAND_MADE_SONG, report.training_reference(HAND_MADE_VOCABULARY, HAND_MADE_TRAINING, NOTE_TOKENS))
    # Training pitch classes: E4 E4 0.4.7 G#2.C5 C4 C4 -> C 4, E 3, G 1, G# 1 of 9.
    # Song: C 6/11, E 3/11, G 1/11, G# 1/11. Total variation = |6/11 - 4/9| = 10/99 (C the only one above).
    assert figures == {
        "events": 10,
        "unit": "tokens",
        "distinct_tokens": 5,
        "longest_run": 3,
        "longest_run_token": "C4",
        "rest_share": pytest.approx(0.2),
        "lowest_pitch": {"midi": 44, "name": "G#2"},
        "highest_pitch": {"midi": 72, "name": "C5"},
        "pitch_class_distance": pytest.approx(10 / 99),
        "rhythm_distance": None,  # note tokens: only performance events have onset times
        "longest_copied_stretch": 4,  # "4 0 3 1" (rest 0.4.7 G#2.C5 C4) is in the first training piece
    }
    printed = report.format_report(figures)
    assert "10 events, 5 distinct tokens, longest run 3 x 'C4', 20.0% rests, pitches G#2 to C5" in printed
    assert "pitch-class distance 0.101" in printed and "training piece: 4 tokens" in printed


# --- Nearest known token ------------------------------------------------------------------


NEAREST_CASES = [
    # Same sound first, then the nearest length, and only then the nearest velocity.
    ("E-4 short 81", ["E-4 medium 81", "E-4 short 102", "F4 short 81"], "E-4 short 102"),
    # A chord: fewest pitch classes not shared (C4 and 0.4.9 both differ by 2), then the nearest mean pitch.
    ("0.4.7", ["C4", "0.4.9", "2.5.9"], "0.4.9"),
    # Harmony before register: the same pitch class an octave away beats a semitone away.
    ("C#5", ["C#4", "C5", "D5"], "C#4"),
    # A rest goes to a rest of the nearest length, never to a note ...
    ("rest long", ["C4 long", "rest short", "rest medium"], "rest medium"),
    # ... and a note never to a rest.
    ("C4 short", ["rest short", "B3 long"], "B3 long"),
]


@pytest.mark.parametrize("missing, known, nearest", NEAREST_CASES)
def test_nearest_known_token(missing, known, nearest):
    assert NOTE_TOKENS.nearest_known(missing, known) == nearest


def test_nearest_known_of_each_finds_what_nearest_known_finds():
    """The quick way --min-count takes, for many tokens at once, gives the same token as one at a time."""
    for missing, known, nearest in NEAREST_CASES:
        assert NOTE_TOKENS.nearest_known_of_each([missing], known) == [nearest]
    # Every token of a mixed set against all the others (for C4 long, C4 and C4 short 81 tie until the velocity).
    mixed = ["C4", "C4 short 81", "C4 long", "0.4.7", "0.4.7 medium 102", "C2.G2.E-4 short 59", "E-4.G4",
             "rest", "rest short", "rest long", "F#2 long 102", "B3", "2.5.9 short"]
    for index, token in enumerate(mixed):
        others = mixed[:index] + mixed[index + 1:]
        assert NOTE_TOKENS.nearest_known_of_each([token], others) == [NOTE_TOKENS.nearest_known(token, others)]
    assert NOTE_TOKENS.nearest_known_of_each(mixed[:4], mixed[4:]) == [
        NOTE_TOKENS.nearest_known(token, mixed[4:]) for token in mixed[:4]]


# --- Priming --------------------------------------------------------------------------

PRIMER_NOTES = ["C4", "D4", "E4", "F4", "G4", "A4", "B4", "C5", "D5", "E5"]


def bundle_without_model(vocabulary_tokens: list[str], sequence_length: int, training_tokens: list[str]) -> Bundle:
    """Priming needs the settings, vocabulary and training data of a bundle, not its network."""
    vocabulary = Vocabulary(vocabulary_tokens)
    return Bundle(Settings(sequence_length=sequence_length), vocabulary, model=None,
                  training_pieces=[vocabulary.encode(training_tokens)], validation_pieces=None, training={})


def test_priming_takes_the_end_of_the_file(tmp_path):
    primer = write_melody(tmp_path / "primer.mid", PRIMER_NOTES)
    bundle = bundle_without_model(PRIMER_NOTES, sequence_length=4, training_tokens=PRIMER_NOTES)
    primed = listen.primed_window(primer, bundle, np.random.default_rng(0))
    assert bundle.vocabulary.decode(primed.indices) == ["B4", "C5", "D5", "E5"]
    assert (primed.primer_tokens, primed.replaced, primed.padded) == (4, 0, 0)


def test_priming_replaces_unknown_tokens_and_counts_them(tmp_path):
    primer = write_melody(tmp_path / "primer.mid", PRIMER_NOTES)
    known = [name for name in PRIMER_NOTES if name != "D5"]  # D5 is nearest to D4: same pitch class
    bundle = bundle_without_model(known, sequence_length=4, training_tokens=known)
    primed = listen.primed_window(primer, bundle, np.random.default_rng(0))
    assert bundle.vocabulary.decode(primed.indices) == ["B4", "C5", "D4", "E5"]
    assert primed.replaced == 1
    assert "1 of them were not in the vocabulary" in listen.describe_primer(primer, primed)


def test_a_short_primer_is_padded_at_the_front_with_training_data(tmp_path):
    primer = write_melody(tmp_path / "primer.mid", PRIMER_NOTES[:3])  # C4 D4 E4
    training = ["G4", "A4", "B4", "C5", "D5", "E5"]
    bundle = bundle_without_model(PRIMER_NOTES, sequence_length=6, training_tokens=training)
    primed = listen.primed_window(primer, bundle, np.random.default_rng(0))
    window = bundle.vocabulary.decode(primed.indices)
    assert window[3:] == ["C4", "D4", "E4"]
    padding = window[:3]
    assert any(training[start : start + 3] == padding for start in range(len(training) - 2))
    assert (primed.primer_tokens, primed.padded) == (3, 3)
    assert "starts with 3 tokens from the training data" in listen.describe_primer(primer, primed)


def test_every_song_starts_from_the_primed_window(tmp_path):
    primer = write_melody(tmp_path / "primer.mid", PRIMER_NOTES)
    bundle = bundle_without_model(PRIMER_NOTES, sequence_length=4, training_tokens=PRIMER_NOTES)
    starts = listen.primed_start_windows(primer, bundle, 3, np.random.default_rng(0))
    assert starts.shape == (3, 4)
    assert all(bundle.vocabulary.decode(row) == ["B4", "C5", "D5", "E5"] for row in starts)


# --- Checks before generating, and --wav ---------------------------------------------


def test_missing_fluidsynth_gives_the_install_sentence(monkeypatch):
    monkeypatch.setattr(listen.shutil, "which", lambda program: None)
    with pytest.raises(UserError, match="sudo apt-get install fluidsynth timgm6mb-soundfont"):
        listen.check_listening_flags(prime=None, wav=True, report=None)
    with pytest.raises(UserError, match="sudo apt-get install fluidsynth timgm6mb-soundfont"):
        listen.render_wav(Path("any.mid"))


def test_predict_refuses_wav_before_generating_when_fluidsynth_is_missing(tmp_path):
    """With no fluidsynth on PATH, one sentence and exit status 2, before any bundle is read."""
    environment = {**os.environ, "PATH": str(tmp_path)}  # an empty folder: no programs at all
    finished = subprocess.run([sys.executable, "predict.py", "--wav", "--weights", str(tmp_path / "none")],
                              cwd=PROJECT_ROOT, env=environment, capture_output=True, text=True)
    assert finished.returncode == 2
    assert finished.stderr.strip() == f"error: {listen.INSTALL_SENTENCE}"


def test_missing_primer_and_report_folder_are_refused(tmp_path):
    primer, report_path = tmp_path / "absent.mid", tmp_path / "absent" / "report.json"
    with pytest.raises(UserError) as error:
        listen.check_listening_flags(prime=str(primer), wav=False, report=None)
    assert str(error.value) == f"there is no MIDI file {primer} to prime with; give the path of a .mid file"
    with pytest.raises(UserError) as error:
        listen.check_listening_flags(prime=None, wav=False, report=str(report_path))
    assert str(error.value) == f"the folder for --report {report_path} does not exist; create it or choose another path"


@pytest.mark.skipif(listen.wav_renderer() is None, reason="fluidsynth or a General MIDI sound font is not installed")
def test_render_wav_writes_a_wav_file_beside_the_midi(tmp_path):
    melody = write_melody(tmp_path / "melody.mid", PRIMER_NOTES[:4])
    wav_path = listen.render_wav(melody)
    assert wav_path == tmp_path / "melody.wav"
    with wave.open(str(wav_path)) as rendered:
        seconds = rendered.getnframes() / rendered.getframerate()
    assert seconds >= 4 * STEP * 60 / 120  # four half-quarter notes at music21's 120 quarters a minute


# --- The piano roll -----------------------------------------------------------------


def picture_and_frame(png_path: Path) -> tuple[np.ndarray, tuple[int, int, int, int]]:
    """A PNG's RGB pixels (rows, columns, 3), 0 to 1, and the top, bottom, left and right pixel of the roll's frame."""
    image = matplotlib.image.imread(png_path)[..., :3]
    black = image.max(axis=2) < 0.25
    top, bottom = np.flatnonzero(black.mean(axis=1) > 0.5)[[0, -1]]  # its long black edges
    left = np.flatnonzero(black[top])[0]
    right = left + np.flatnonzero(~black[top, left:])[0] - 1  # where the top edge ends, before the colour bar
    return image, (top, bottom, left, right)


def blue_share_inside_the_frame(png_path: Path) -> float:
    """How much of the piano roll (not its colour bar) is drawn in blue: 0 for a roll with no notes."""
    image, (top, bottom, left, right) = picture_and_frame(png_path)
    inside = image[top + 2 : bottom - 1, left + 2 : right - 1]
    return float((inside[..., 2] - inside[..., 0] > 0.2).mean())


def roll_colours(png_path: Path, points: list[tuple[float, float]], end: float, pitches: list[int]) -> np.ndarray:
    """The RGB colour the piano roll has at each (time in quarters, MIDI pitch): (points, 3).

    The roll's frame is found in the picture (its long black top and bottom
    edges), and times and pitches are placed in it as plot.py scales them:
    time from 0 to `end`, pitch from PITCH_MARGIN below the lowest to
    PITCH_MARGIN above the highest of `pitches`.
    """
    image, (top, bottom, left, right) = picture_and_frame(png_path)
    lowest, highest = min(pitches) - plot.PITCH_MARGIN, max(pitches) + plot.PITCH_MARGIN
    return np.array([image[round(bottom - (number - lowest) / (highest - lowest) * (bottom - top)),
                           round(left + time / end * (right - left))] for time, number in points])


def assert_roll_shows_the_melody(png_path: Path, pitch_names: list[str]) -> None:
    """Blue in the middle of every note of a melody written by write_melody, blank at other pitches meanwhile."""
    numbers = [pitch.Pitch(name).midi for name in pitch_names]
    middles = [number * STEP + STEP / 2 for number in range(len(numbers))]
    end = len(numbers) * STEP
    on = roll_colours(png_path, list(zip(middles, numbers)), end, numbers)
    assert (on[:, 2] - on[:, 0] > 0.2).all(), "every note should be drawn in blue where it sounds"
    # At each note's time, the pitch of the note as far away in the list as it can be: nothing sounds there.
    elsewhere = [(middle, numbers[-1 - index]) for index, middle in enumerate(middles)
                 if abs(numbers[-1 - index] - numbers[index]) >= 2]
    assert elsewhere
    off = roll_colours(png_path, elsewhere, end, numbers)
    assert (off.min(axis=1) > 0.85).all(), "nothing should be drawn where no note sounds"


def test_plot_writes_a_png_of_the_documented_size_beside_the_midi(tmp_path):
    melody = write_melody(tmp_path / "melody.mid", PRIMER_NOTES)
    png_path = plot.plot_midi(melody)
    assert png_path == tmp_path / "melody.png"
    width, height = (inches * plot.PICTURE_DPI for inches in plot.FIGURE_SIZE_INCHES)
    assert matplotlib.image.imread(png_path).shape[:2] == (height, width)
    assert_roll_shows_the_melody(png_path, PRIMER_NOTES)


def test_louder_notes_are_drawn_darker(tmp_path):
    def darkness(velocity: int) -> float:
        path = tmp_path / f"velocity_{velocity}.png"
        plot.plot_piano_roll([(0.0, 1.0, 60, velocity), (2.0, 1.0, 64, velocity)], path)
        return float(1 - matplotlib.image.imread(path)[..., :3].mean())

    assert darkness(120) > darkness(30)


def test_plot_module_runs_from_the_command_line_and_draws_several_files_one_above_the_other(tmp_path):
    melody = write_melody(tmp_path / "melody.mid", PRIMER_NOTES[:4])
    other = write_melody(tmp_path / "other.mid", PRIMER_NOTES[4:8])
    finished = subprocess.run([sys.executable, "-m", "classical_composer.plot", str(melody), str(other),
                               "--output", str(tmp_path / "rolls.png")],
                              cwd=PROJECT_ROOT, capture_output=True, text=True)
    assert finished.returncode == 0, finished.stderr
    assert finished.stdout == f"wrote {tmp_path / 'rolls.png'}\n"
    assert not (tmp_path / "melody.png").exists()
    width, height = (inches * plot.PICTURE_DPI for inches in plot.FIGURE_SIZE_INCHES)
    both = matplotlib.image.imread(tmp_path / "rolls.png")
    assert both.shape[:2] == (2 * height, width)
    # Each roll is the one plot_midi draws of its file alone.
    for number, path in enumerate((melody, other)):
        alone = matplotlib.image.imread(plot.plot_midi(path))
        assert np.abs(both[number * height : (number + 1) * height] - alone).mean() < 0.01


# --- predict.py from end to end, with a tiny trained bundle -------------------------------

# Training pieces hold these notes (midi_fixtures.TRAINING_EVENTS); the primer uses only them,
# so its tokens are all in the vocabulary and the seed window is exactly its last 8 tokens.
KNOWN_PRIMER = ["C4", "E4", "G4", "A4", "D4", "C4", "E4", "G4", "A4", "E4"]
WINDOW = 8  # the tiny bundle's --sequence-length (conftest.TINY_BUNDLE_FLAGS)


def test_predict_primes_plots_reports_and_sets_instrument_and_tempo(tiny_bundle, tmp_path):
    primer = write_melody(tmp_path / "primer.mid", KNOWN_PRIMER)
    printed = succeeds(predict_script, "--weights", tiny_bundle, "--output", tmp_path / "song.mid",
                       "--prime", primer, "--num-songs", "2", "--num-notes", "20", "--top-k", "0", "--seed", "3",
                       "--instrument", "Violin", "--bpm", "90", "--plot", "--report", tmp_path / "report.json")
    assert f"the last {WINDOW} tokens of {primer}; 0 of them were not in the vocabulary" in printed
    assert "longest stretch copied from a training piece" in printed  # the report is always printed

    written = json.loads((tmp_path / "report.json").read_text())
    assert written["flags"]["prime"] == str(primer)
    songs = written["songs"]
    assert [song["seed_window"] for song in songs] == [KNOWN_PRIMER[-WINDOW:]] * 2
    assert all(song["events"] == 20 for song in songs)
    # The same start, sampled twice: the songs differ.
    assert (tmp_path / "song-1.mid").read_bytes() != (tmp_path / "song-2.mid").read_bytes()

    for number in (1, 2):
        song_path = tmp_path / f"song-{number}.mid"
        assert blue_share_inside_the_frame(tmp_path / f"song-{number}.png") > 0.01  # notes are drawn
        marks = converter.parse(song_path).flatten().getElementsByClass(tempo.MetronomeMark)
        assert [mark.number for mark in marks] == [90]
        assert programs_in(song_path) == {VIOLIN_PROGRAM}


def test_sampling_table_has_a_row_per_sampling_with_its_figures(tiny_bundle, capsys):
    load_script("sampling_table").main(["--weights", str(tiny_bundle), "--num-notes", "30", "--seed", "1"])
    printed = capsys.readouterr().out
    rows = [line for line in printed.splitlines() if line.startswith("| ") and "sampling" not in line]
    assert [row.split(" | ")[0] for row in rows] == [
        "| argmax (--top-k 1)", "| top-7 (--top-k 7)", "| whole distribution (--top-k 0)"]
    assert all(len(row.split("|")) == 9 for row in rows)  # seven figures per row

    # Each row is its own sampling: from the seed window --seed picks, with a generator seeded by --seed.
    bundle = load_bundle(tiny_bundle)
    size = len(bundle.vocabulary)
    start = seed_windows(bundle.training_pieces, WINDOW, 1, np.random.default_rng(1))
    probabilities_of = probability_function(bundle.model)
    for row, top_k in zip(rows, (1, 7, 0)):
        song = bundle.vocabulary.decode(generate(probabilities_of, NetworkInput(size), start, 30, top_k=top_k,
                                                 random=np.random.default_rng(1))[0])
        distinct, longest = [cell.strip() for cell in row.split("|")[2:4]]
        assert (distinct, longest) == (str(len(set(song))), str(report.longest_run(song)[0])), row


# --- train.py --patience -------------------------------------------------------------


def test_patience_stops_early_and_the_bundle_keeps_the_best_epoch(tmp_path):
    """Two files with no note in common: whichever is held out, its notes are never a
    training target, so the validation loss grows and training stops after `patience` epochs."""
    from classical_composer.training import train

    midi_dir = tmp_path / "midi"
    midi_dir.mkdir()
    write_melody(midi_dir / "low.mid", ["C4", "D4", "E4", "D4"] * 5)
    write_melody(midi_dir / "high.mid", ["F5", "G5", "A5", "G5"] * 5)
    max_epochs, patience = 20, 1
    settings = Settings(preset="tiny", sequence_length=4, epochs=max_epochs, patience=patience, batch_size=64)
    parse_folder(midi_dir, settings.encoding(), cache_dir=default_cache_dir(), workers=1)
    history = train(settings, midi_dir, tmp_path / "bundle")

    losses = history["val_loss"]
    assert len(losses) < max_epochs
    best_epoch = int(np.argmin(losses)) + 1
    assert len(losses) == best_epoch + patience  # stopped exactly `patience` epochs after the best
    kept = load_bundle(tmp_path / "bundle").training
    assert kept["best_epoch"] == best_epoch
    assert kept["val_loss"] == pytest.approx(min(losses))


# --- --transpose: the exact tokens, and scripts/transpose_classes.py on a tiny folder ----------


def write_piece(path: Path, events: list[tuple[list[str], float]], sharps: int) -> Path:
    """One event after another, each (pitches, quarter length), under a key signature of `sharps` sharps."""
    right = hand("right")
    right.insert(0, key.KeySignature(sharps))
    offset = 0.0
    for pitches, length in events:
        place(right, offset, pitches, length, 80)
        offset += length
    return write_score(score_of(right), path)


# A scale, then the tonic, subdominant or dominant, and tonic chords: the key is plain to hear.
D_MAJOR = [([name], 0.5) for name in ["D4", "E4", "F#4", "G4", "A4", "B4", "C#5", "D5"]] + [
    (["D4", "F#4", "A4"], 1.0), (["G4", "B4", "D5"], 1.0), (["A4", "C#5", "E5"], 1.0), (["D4", "F#4", "A4"], 2.0)]
E_MINOR = [([name], 0.5) for name in ["E4", "F#4", "G4", "A4", "B4", "C5", "D#5", "E5"]] + [
    (["E4", "G4", "B4"], 1.0), (["B3", "D#4", "F#4"], 1.0), (["E4", "G4", "B4"], 2.0)]


@pytest.mark.parametrize("events, sharps, expected", [
    # Down a tone (nearer than up a minor seventh).
    (D_MAJOR, 2, ["C4", "D4", "E4", "F4", "G4", "A4", "B4", "C5",
                  "C4.E4.G4", "F4.A4.C5", "G4.B4.D5", "C4.E4.G4"]),
    # Up a fourth (nearer than down a fifth); the leading tone D# becomes G#.
    (E_MINOR, 1, ["A4", "B4", "C5", "D5", "E5", "F5", "G#5", "A5",
                  "A4.C5.E5", "E4.G#4.B4", "A4.C5.E5"]),
], ids=["D major to C major", "E minor to A minor"])
def test_transpose_moves_a_piece_to_c_major_or_a_minor_by_the_nearest_interval(tmp_path, events, sharps, expected):
    piece = write_piece(tmp_path / "piece.mid", events, sharps)
    encoding = Settings(octave_chords=True, transpose=True).encoding()  # chords with octaves show the direction
    assert parse_midi_file(piece, encoding) == expected


def test_transpose_classes_counts_fewer_classes_for_one_tune_in_two_keys(tmp_path, capsys):
    midi_dir = tmp_path / "midi"
    midi_dir.mkdir()
    in_c = ["C4", "D4", "E4", "F4", "G4", "A4", "B4", "C5", "G4", "E4", "C4"]
    in_d = ["D4", "E4", "F#4", "G4", "A4", "B4", "C#5", "D5", "A4", "F#4", "D4"]  # the same tune a tone up
    write_melody(midi_dir / "in_c.mid", in_c)
    write_melody(midi_dir / "in_d.mid", in_d)
    load_script("transpose_classes").main(["--midi-dir", str(midi_dir), "--workers", "1"])
    printed = capsys.readouterr().out
    assert f"| as written | 2 | 22 | {len(set(in_c) | set(in_d))} |" in printed
    assert f"| transposed | 2 | 22 | {len(set(in_c))} |" in printed
