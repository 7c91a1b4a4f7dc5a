"""Stage 1: a score -> tokens. Exact tokens of the hand-made pieces in midi_fixtures.

Most tests read the pieces from MIDI files with corpus.parse_midi_file, the
way training does; reading a folder, the cache and the pool are tested in
test_corpus.py.
"""

import pytest
from music21 import converter, stream

import midi_fixtures
from classical_composer.corpus import UnreadableMidi, parse_midi_file
from classical_composer.parse import tokens_of
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


def test_a_score_built_in_code_gives_the_same_tokens_as_its_midi_file():
    """parse.py needs no file: the score midi_fixtures writes to two_hands.mid gives that file's tokens."""
    score = midi_fixtures.two_hands_score()
    assert tokens_of(score, FAITHFUL) == TWO_HANDS_FAITHFUL
    assert tokens_of(score, ALL_FLAGS) == TWO_HANDS_ALL_FLAGS


# --- Part selection (bug 1) -----------------------------------------------------------


def test_the_first_part_alone_gives_no_tokens(two_hands_file):
    """The fixture is the original's failure case: its first part is only drums, so reading parts[0] finds nothing."""
    score = converter.parse(two_hands_file, format="midi", forceSource=True)
    assert tokens_of(stream.Score([score.parts[0]]), ALL_FLAGS) == []
    assert tokens_of(score, ALL_FLAGS) == TWO_HANDS_ALL_FLAGS


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
