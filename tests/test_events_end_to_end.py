"""--representation events from train.py to predict.py: performance events instead of note tokens.

In:  conftest's training folder, read as performance events (performance.py).
Out: nothing; these tests fail if an events bundle cannot be trained, composed
     from byte-identically, primed, re-tempoed or reported on, or if the
     note-token flags are accepted with it.
"""

import json
import shlex

import pytest
from music21 import converter, tempo

import predict as predict_script
import train as train_script
from classical_composer import evaluate as evaluate_module
from classical_composer import performance
from classical_composer.bundle import load_bundle
from classical_composer.corpus import parse_folder, parse_midi_file
from classical_composer.network import inference_copy
from classical_composer.report import format_report, generation_report, training_reference
from classical_composer.settings import Settings
from classical_composer.performance import PerformanceEvents

EVENTS = PerformanceEvents()
from midi_fixtures import programs_in, write_two_composers
from script_runs import run_main, succeeds

EVENTS_TRAINING = ["--preset", "tiny", "--epochs", "1", "--sequence-length", "16", "--representation", "events"]
VIOLIN_PROGRAM = 40  # General MIDI, counted from 0


@pytest.fixture(scope="module")
def composers_folder(training_folder, tmp_path_factory):
    """Two composers: alpha/ holds the three training pieces, beta/ two pieces of its own."""
    return write_two_composers(tmp_path_factory.mktemp("by_composer"), training_folder, beta_seeds=(10, 11))


@pytest.fixture(scope="module")
def events_bundle(composers_folder, tmp_path_factory):
    """Performance events and composers: the event LSTM's two ideas in one tiny bundle."""
    parse_folder(composers_folder, Settings(representation="events").encoding(), workers=1)  # no pool in train.py
    out = tmp_path_factory.mktemp("events_bundle")
    succeeds(train_script, *EVENTS_TRAINING, "--composers", "--midi-dir", composers_folder, "--out", out)
    return out


def test_an_events_bundle_holds_performance_events(events_bundle, training_folder):
    bundle = load_bundle(events_bundle)
    assert bundle.settings.representation == "events"
    assert set(bundle.vocabulary.tokens) <= set(performance.vocabulary())
    # The pieces it learned from are the files' performances, event for event.
    first_file = sorted(training_folder.glob("*.mid"))[0]
    assert parse_midi_file(first_file, bundle.settings.encoding()) == performance.performance_of_midi(first_file)


def test_predict_writes_the_same_performance_twice_and_primes_sets_tempo_and_instrument(events_bundle,
                                                                                      training_folder, tmp_path):
    first, again, primed = (tmp_path / f"{name}.mid" for name in ("first", "again", "primed"))
    for output in (first, again):  # notes as long as sampled: this network, one epoch old, seldom waits
        succeeds(predict_script, "--weights", events_bundle, "--top-k", "7", "--seed", "1", "--num-notes", "120",
                 "--free-note-lengths", "--output", output)
    assert first.read_bytes() == again.read_bytes()
    # Lengths come from the waits between a note's on and off, not from three bins.
    played = converter.parse(first).flatten().notes
    assert len({element.quarterLength for element in played}) >= 2

    primer = sorted(training_folder.glob("*.mid"))[-1]
    printed = succeeds(predict_script, "--weights", events_bundle, "--prime", primer, "--num-notes", "120",
                       "--seed", "2", "--bpm", "90", "--instrument", "Violin", "--output", primed)
    assert f"the last 16 tokens of {primer}; 0 of them were not in the vocabulary" in printed
    # Another start and another seed play other notes: a network that ignored both would not.
    assert [tuple(element.pitches) for element in converter.parse(primed).flatten().notes] != [
        tuple(element.pitches) for element in played]
    # --bpm replaces the tempo events the network wrote with one tempo.
    marks = converter.parse(primed).flatten().getElementsByClass(tempo.MetronomeMark)
    assert [mark.number for mark in marks] == [90]
    assert programs_in(primed) == {VIOLIN_PROGRAM}


@pytest.mark.parametrize("flag", ["--rests", "--octave-chords", "--durations", "--velocities"])
def test_note_token_flags_are_refused_with_events(flag, training_folder, tmp_path):
    status, _, errors = run_main(train_script, *EVENTS_TRAINING, flag, "--midi-dir", training_folder,
                                 "--out", tmp_path / "never")
    assert (status, errors) == (2, f"error: performance events keep every length, loudness and pitch as played, "
                                   f"so leave out {flag} with --representation events\n")
    assert not (tmp_path / "never").exists()


def test_transpose_with_events_needs_chunks(training_folder, tmp_path):
    status, _, errors = run_main(train_script, *EVENTS_TRAINING, "--transpose", "--midi-dir", training_folder,
                                 "--out", tmp_path / "never")
    assert (status, errors) == (2, "error: --transpose with --representation events moves each piece by a random "
                                   "interval each epoch, which needs --chunks\n")
    assert not (tmp_path / "never").exists()


def test_the_report_counts_pitches_of_note_ons_and_runs_and_copies_in_onsets():
    vocabulary = ["Note 60 On", "Note 60 Off", "Note 67 On", "Wait 1/2 beat"]
    assert [EVENTS.pitches_struck(event) for event in vocabulary] == [(60,), (), (67,), ()]
    # C4 and G4 struck together twice, then C4 alone: three onsets, the first two the same.
    song = [0, 2, 3, 1, 0, 2, 3, 1, 0, 3]
    report = generation_report(song, training_reference(vocabulary, [[2, 3, 0, 2, 3]], EVENTS))  # training: G4, then C4 with G4
    assert report["unit"] == "onsets"
    assert (report["distinct_tokens"], report["longest_run"], report["longest_run_token"]) == (2, 2, "C4.G4")
    assert report["longest_copied_stretch"] == 1  # only the chord itself is in the training piece
    assert (report["lowest_pitch"]["midi"], report["highest_pitch"]["midi"]) == (60, 67)
    assert report["rest_share"] == 0
    # Pitch classes: the song C 3/5, G 2/5; the training piece C 1/3, G 2/3.
    assert report["pitch_class_distance"] == pytest.approx(3 / 5 - 1 / 3)
    # Rhythm: onsets half a beat apart in both.
    assert report["rhythm_distance"] == 0
    in_whole_beats = generation_report(song, training_reference([*vocabulary, "Wait 1 beat"], [[2, 4, 0, 4, 2]], EVENTS))
    assert in_whole_beats["rhythm_distance"] == 1  # no gap in common
    assert "rhythm distance 1.000" in format_report(in_whole_beats)


def test_an_unknown_primer_event_becomes_the_nearest_known_of_its_kind():
    known = ["Note 60 On", "Note 72 On", "Wait 1/2 beat", "Wait 2 beat", "Volume 1"]
    assert EVENTS.nearest_known("Note 62 On", known) == "Note 60 On"
    assert EVENTS.nearest_known("Wait 3/2 beat", known) == "Wait 2 beat"
    assert EVENTS.nearest_known("Volume 3", known) == "Volume 1"


# --- Composers -------------------------------------------------------------------------


def test_the_bundle_knows_each_pieces_composer_from_its_subfolder(events_bundle, composers_folder):
    bundle = load_bundle(events_bundle)
    assert bundle.settings.composers and bundle.settings.representation == "events"
    assert bundle.training["command"] == "python train.py " + shlex.join(
        [*EVENTS_TRAINING, "--composers", "--midi-dir", str(composers_folder), "--out", str(events_bundle)])
    assert bundle.composers == ["alpha", "beta"]
    assert bundle.training["files_per_composer"] == {"alpha": 3, "beta": 2}
    numbers = [*bundle.training_composers.tolist(), *bundle.validation_composers.tolist()]
    assert sorted(numbers) == [0, 0, 0, 1, 1]
    for name, number in zip(bundle.training["validation_files"], bundle.validation_composers):
        assert name.split("/")[0] == bundle.composers[number]


def test_predict_writes_like_a_composer_byte_identically_seeded_from_their_pieces(events_bundle, composers_folder,
                                                                                 tmp_path):
    first, again = tmp_path / "first.mid", tmp_path / "again.mid"
    for output in (first, again):
        printed = succeeds(predict_script, "--weights", events_bundle, "--composer", "beta", "--top-k", "7",
                           "--seed", "1", "--num-notes", "150", "--output", output,
                           "--report", tmp_path / "report.json")
    assert "composer: beta" in printed
    assert first.read_bytes() == again.read_bytes()
    played = converter.parse(first).flatten().notes
    assert len({element.quarterLength for element in played}) >= 2
    assert len({element.volume.velocity for element in played}) >= 2
    # The seed window is a stretch of one of beta's pieces.
    seed = json.loads((tmp_path / "report.json").read_text())["songs"][0]["seed_window"]
    beta_pieces = [performance.performance_of_midi(path) for path in sorted((composers_folder / "beta").glob("*.mid"))]
    assert any(seed == piece[start : start + len(seed)] for piece in beta_pieces for start in range(len(piece)))


def test_an_unknown_composer_is_refused_with_the_known_ones(events_bundle, tmp_path):
    status, _, errors = run_main(predict_script, "--weights", events_bundle, "--composer", "gamma",
                                 "--output", tmp_path / "never.mid")
    assert (status, errors) == (2, "error: the bundle knows no composer 'gamma'; choose one of: alpha, beta\n")
    assert not (tmp_path / "never.mid").exists()


def test_evaluation_scores_the_true_composer_beside_a_wrong_one(events_bundle, tmp_path):
    printed = succeeds(evaluate_module, "--weights", events_bundle, "--json", tmp_path / "figures.json")
    composers = json.loads((tmp_path / "figures.json").read_text())["composers"]
    assert composers["composers"] == 2
    # Worked out here: the network told each held-out piece's own composer, and told the other one
    # (with two composers, the only wrong one). Swapped figures, or one composer for both, fail.
    bundle = load_bundle(events_bundle)
    scorer = inference_copy(bundle.model)

    def nats_told(composer_numbers):
        return evaluate_module.network_losses(scorer, bundle.settings, bundle.validation_pieces,
                                              len(bundle.vocabulary), composer_numbers)[0].mean()

    told = {"true": nats_told(bundle.validation_composers), "wrong": nats_told(1 - bundle.validation_composers)}
    assert told["true"] != pytest.approx(told["wrong"])  # the network reads the composer
    assert (composers["true_nats"], composers["wrong_nats"]) == pytest.approx((told["true"], told["wrong"]))
    assert (f"told each piece's true composer: {composers['true_nats']:.3f} nats a token; told a wrong one "
            f"(each of the other 1, averaged): {composers['wrong_nats']:.3f}") in printed.splitlines()
    # Performance events keep time: the held-out music's quarter notes are the sum of its waits.
    quarters = sum(performance.beats(bundle.vocabulary.decode(piece)) for piece in bundle.validation_pieces)
    tokens = sum(len(piece) for piece in bundle.validation_pieces)
    figures = json.loads((tmp_path / "figures.json").read_text())
    assert figures["bundle"]["nats_per_quarter"] == pytest.approx(figures["bundle"]["nats"] * tokens / float(quarters))


def test_composers_need_two_subfolders(training_folder, tmp_path):
    status, _, errors = run_main(train_script, *EVENTS_TRAINING, "--composers", "--midi-dir", training_folder,
                                 "--out", tmp_path / "never")
    assert (status, errors) == (2, f"error: --composers learns one style per subfolder of {training_folder}, but "
                                   f"all its files are in the folder itself; put each composer's files in a "
                                   f"subfolder of their own\n")
    assert not (tmp_path / "never").exists()
