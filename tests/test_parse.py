"""Stage 1: MIDI files -> tokens. Exact tokens of the hand-made pieces in midi_fixtures."""

import shutil

import pytest
from music21 import chord, converter, midi, note

import midi_fixtures
from classical_composer import parse
from classical_composer.parse import UnreadableMidi, parse_folder, parse_midi_file
from classical_composer.settings import Settings

FAITHFUL = Settings().encoding()
ALL_FLAGS = Settings(rests=True, octave_chords=True, durations=True, velocities=True).encoding()

# The two-hands piece (see midi_fixtures) as the original spelled it: notes with
# octave, chords as normal-order pitch classes; the two hands' first notes are one chord.
TWO_HANDS_FAITHFUL = ["0.3", "G4", "0.4.7", "4.8.11", "B-4", "A2", "F#4"]
TWO_HANDS_ALL_FLAGS = [
    "C2.E-4 medium 81",  # two tracks, one onset: one chord, low to high, the louder hand's velocity (90)
    "G4 short 31",
    "C2.E2.G2 short 81",  # the chord in octave 2 (velocity 75)
    "rest medium",  # one quarter of silence; the drum hit in it is not a note
    "E5.G#5.B5 medium 102",  # the chord in octave 5
    "B-4 long 102",
    "A2 short 59",  # left hand under the held B-4: no rest before F#4
    "F#4 medium 59",  # 0.75 quarter is already medium
]


def test_faithful_tokens_of_the_two_hands_piece(two_hands_file):
    assert parse_midi_file(two_hands_file, FAITHFUL) == TWO_HANDS_FAITHFUL


def test_all_flags_tokens_of_the_two_hands_piece(two_hands_file):
    assert parse_midi_file(two_hands_file, ALL_FLAGS) == TWO_HANDS_ALL_FLAGS


@pytest.mark.parametrize(
    "flag, expected",
    [
        ("rests", ["0.3", "G4", "0.4.7", "rest", "4.8.11", "B-4", "A2", "F#4"]),
        ("octave_chords", ["C2.E-4", "G4", "C2.E2.G2", "E5.G#5.B5", "B-4", "A2", "F#4"]),
        ("durations", ["0.3 medium", "G4 short", "0.4.7 short", "4.8.11 medium", "B-4 long", "A2 short", "F#4 medium"]),
        ("velocities", ["0.3 81", "G4 31", "0.4.7 81", "4.8.11 102", "B-4 102", "A2 59", "F#4 59"]),
    ],
)
def test_each_flag_alone(two_hands_file, flag, expected):
    assert parse_midi_file(two_hands_file, {**FAITHFUL, flag: True}) == expected


# --- Part selection (bug 1) -----------------------------------------------------------


def test_the_first_tracks_of_the_fixture_have_no_pitched_note(two_hands_file):
    """The fixture really is the original's failure case: an empty first track, and parts[0] holds only drums."""
    midi_file = midi.MidiFile()
    midi_file.open(str(two_hands_file))
    midi_file.read()
    midi_file.close()
    assert not midi_file.tracks[1].hasNotes()  # tracks[0] is the tempo track
    first_part = converter.parse(two_hands_file, format="midi").parts[0]
    assert not [element for element in first_part.flatten().notes if isinstance(element, (note.Note, chord.Chord))]


def test_every_part_is_read_not_only_the_first(two_hands_file):
    sounds = [token.split(" ")[0] for token in parse_midi_file(two_hands_file, ALL_FLAGS)]
    assert "G4" in sounds and "B-4" in sounds  # right hand only
    assert "A2" in sounds and "C2.E2.G2" in sounds  # left hand only
    # Right hand and left hand start together at 0.0: one chord, not two events.
    assert sounds[0] == "C2.E-4"
    assert "E-4" not in sounds and "C2" not in sounds


def test_drum_track_contributes_nothing(tmp_path, two_hands_file):
    without_drums = midi_fixtures.write_two_hands(tmp_path / "no_drums.mid", drums=False, empty_first_track=False)
    for encoding in (FAITHFUL, ALL_FLAGS):
        assert parse_midi_file(two_hands_file, encoding) == parse_midi_file(without_drums, encoding)


def test_a_file_of_drums_alone_gives_no_tokens(midi_folder):
    with pytest.raises(UnreadableMidi):
        parse_midi_file(midi_folder / "drums_only.mid", ALL_FLAGS)


def test_a_note_held_across_a_barline_is_one_event(midi_folder):
    """music21 splits a held note at the barline into tied notes; a listener hears one."""
    assert parse_midi_file(midi_folder / "held_across_barline.mid", ALL_FLAGS) == [
        "E4 long 81", "G4 long 81", "C5 medium 81",
    ]


def test_octave_chords_are_spelled_low_to_high(tmp_path):
    right = midi_fixtures.hand("right")
    midi_fixtures.place(right, 0.0, ["G5", "E4", "C3"], 1.0, 80)  # written high to low
    path = midi_fixtures.write_score(midi_fixtures.score_of(right), tmp_path / "chord.mid")
    assert parse_midi_file(path, {**FAITHFUL, "octave_chords": True}) == ["C3.E4.G5"]
    assert parse_midi_file(path, FAITHFUL) == ["0.4.7"]


def test_rests_only_for_real_silence(two_hands_file):
    token_list = parse_midi_file(two_hands_file, {**FAITHFUL, "rests": True})
    # Between 2.0 and 3.0 nothing sounds; between the left hand's A2 (ends 5.5) and
    # F#4 (6.0) the right hand's B-4 still does, so there is no second rest.
    assert token_list.count("rest") == 1
    assert token_list[token_list.index("rest") - 1 : token_list.index("rest") + 2] == ["0.4.7", "rest", "4.8.11"]


# --- Folders and the cache -----------------------------------------------------------


@pytest.fixture
def small_folder(tmp_path, midi_folder):
    folder = tmp_path / "midi"
    folder.mkdir()
    for name in ("two_hands.mid", "held_across_barline.mid"):
        shutil.copy(midi_folder / name, folder / name)
    return folder


def test_parse_folder_reads_every_file_and_skips_drums_only(tmp_path, midi_folder):
    corpus = parse_folder(midi_folder, FAITHFUL, cache_dir=tmp_path / "cache", workers=1)
    assert [piece.name for piece in corpus.pieces] == ["held_across_barline.mid", "two_hands.mid"]
    assert corpus.pieces[1].tokens == TWO_HANDS_FAITHFUL
    assert [name for name, _ in corpus.skipped] == ["drums_only.mid"]
    assert corpus.token_count == sum(len(piece.tokens) for piece in corpus.pieces)


class ParseRecorder:
    """Stands in for parse_midi_file: records which files it was asked for, then parses or refuses."""

    def __init__(self, allow: bool):
        self.allow, self.paths = allow, []
        self.real = parse.parse_midi_file

    def __call__(self, path, encoding):
        self.paths.append(path.name)
        if not self.allow:
            raise AssertionError(f"{path.name} should have come from the cache")
        return self.real(path, encoding)


def test_second_parse_comes_from_the_cache(small_folder, tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    first = parse_folder(small_folder, ALL_FLAGS, cache_dir=cache, workers=1)

    refuse = ParseRecorder(allow=False)
    monkeypatch.setattr(parse, "parse_midi_file", refuse)
    monkeypatch.setattr(parse, "midiFileToStream", refuse)
    second = parse_folder(small_folder, ALL_FLAGS, cache_dir=cache, workers=1)

    assert refuse.paths == []
    assert second.pieces == first.pieces
    assert second.skipped == first.skipped == []


def test_a_changed_file_is_parsed_again(small_folder, tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    parse_folder(small_folder, ALL_FLAGS, cache_dir=cache, workers=1)
    midi_fixtures.write_two_hands(small_folder / "two_hands.mid", drums=False)  # same name, other bytes

    record = ParseRecorder(allow=True)
    monkeypatch.setattr(parse, "parse_midi_file", record)
    corpus = parse_folder(small_folder, ALL_FLAGS, cache_dir=cache, workers=1)

    assert record.paths == ["two_hands.mid"]
    assert corpus.pieces[1].tokens == TWO_HANDS_ALL_FLAGS


def test_a_changed_encoding_is_parsed_again(small_folder, tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    parse_folder(small_folder, ALL_FLAGS, cache_dir=cache, workers=1)

    record = ParseRecorder(allow=True)
    monkeypatch.setattr(parse, "parse_midi_file", record)
    corpus = parse_folder(small_folder, FAITHFUL, cache_dir=cache, workers=1)

    assert sorted(record.paths) == ["held_across_barline.mid", "two_hands.mid"]
    assert corpus.pieces[1].tokens == TWO_HANDS_FAITHFUL
