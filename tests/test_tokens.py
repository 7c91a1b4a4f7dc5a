"""The token grammar: encode and decode undo each other, bins and levels fall where the README says."""

import itertools

import pytest
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from classical_composer import tokens
from classical_composer.corpus import parse_midi_file
from classical_composer.settings import Settings
from classical_composer.tokens import NoteEvent

FLAG_NAMES = ("rests", "octave_chords", "durations", "velocities")
EVERY_FLAG_COMBINATION = [dict(zip(FLAG_NAMES, flags)) for flags in itertools.product([False, True], repeat=4)]


@pytest.mark.parametrize("flags", EVERY_FLAG_COMBINATION, ids=lambda flags: "+".join(n for n, on in flags.items() if on) or "faithful")
def test_parsed_tokens_round_trip_for_every_flag_combination(two_hands_file, flags):
    token_list = parse_midi_file(two_hands_file, Settings(**flags).encoding())
    assert token_list, "the fixture has notes, so it must give tokens"
    for token in token_list:
        event = tokens.decode(token)
        assert tokens.encode(event) == token
        assert tokens.decode(tokens.encode(event)) == event
        # A token carries exactly the parts its flags ask for.
        assert (event.length is not None) == flags["durations"]
        assert (event.velocity is not None) == (flags["velocities"] and not tokens.is_rest(event.sound))
    assert any(tokens.is_rest(tokens.decode(token).sound) for token in token_list) == flags["rests"]


SOUNDS = st.sampled_from(["E-4", "F#2", "C8", "4.8.11", "0", "C2.G2.E-4", "E5.G#5.B5", tokens.REST])
LENGTHS = st.sampled_from([None] + list(tokens.WRITTEN_QUARTERS))
VELOCITIES = st.sampled_from([None, *tokens.VELOCITY_LEVELS])


# No deadline: a loaded machine may take longer than hypothesis' 200 ms for one example.
@hypothesis_settings(deadline=None)
@given(sound=SOUNDS, length=LENGTHS, velocity=VELOCITIES)
def test_any_event_of_the_grammar_round_trips(sound, length, velocity):
    event = NoteEvent(sound, length, None if sound == tokens.REST else velocity)
    assert tokens.decode(tokens.encode(event)) == event


def test_all_flags_token_reads_sound_length_velocity():
    assert tokens.encode(NoteEvent("C2.G2.E-4", "long", 59)) == "C2.G2.E-4 long 59"
    assert tokens.decode("E-4 short 81") == NoteEvent("E-4", "short", 81)
    assert tokens.decode("rest medium") == NoteEvent(tokens.REST, "medium", None)
    assert tokens.decode("4.8.11") == NoteEvent("4.8.11", None, None)


@pytest.mark.parametrize(
    "quarter_length, expected",
    [(0.25, "short"), (0.74, "short"), (0.75, "medium"), (1.0, "medium"), (1.49, "medium"), (1.5, "long"), (8.0, "long")],
)
def test_length_bins_at_their_boundaries(quarter_length, expected):
    assert tokens.length_bin(quarter_length) == expected


def test_each_bin_is_written_back_as_a_length_inside_it():
    for name, written in tokens.WRITTEN_QUARTERS.items():
        assert tokens.length_bin(written) == name
    assert tokens.WRITTEN_QUARTERS == {"short": 0.5, "medium": 1.0, "long": 2.0}


@pytest.mark.parametrize(
    "velocity, expected",
    [(1, 31), (31, 31), (44, 31), (46, 59), (59, 59), (69, 59), (71, 81), (90, 81), (92, 102), (127, 102)],
)
def test_velocity_goes_to_the_nearest_level(velocity, expected):
    assert tokens.velocity_level(velocity) == expected


def test_velocity_halfway_between_two_levels_goes_to_the_softer():
    assert tokens.velocity_level(45) == 31
    assert tokens.velocity_level(70) == 59


@pytest.mark.parametrize(
    "token",
    [
        "",  # no sound
        " E-4",  # empty sound
        "E-4  short",  # two spaces: an empty word
        "E-4 huge",  # not a length bin
        "E-4 short 50",  # not a velocity level
        "E-4 81 short",  # velocity before length
        "E-4 short 81 extra",  # a fourth word
        "rest short 81",  # a rest has no loudness
        "rest 31",
        "E-4 short short",
    ],
)
def test_malformed_tokens_raise_value_error(token):
    with pytest.raises(ValueError):
        tokens.decode(token)


def test_pitches_to_play():
    assert tokens.pitches_to_play("E-4") == ["E-4"]
    assert tokens.pitches_to_play("4.8.11") == [4, 8, 11]  # pitch classes only: the octave is lost
    assert tokens.pitches_to_play("C2.G2.E-4") == ["C2", "G2", "E-4"]
    assert tokens.pitches_to_play(tokens.REST) == []
