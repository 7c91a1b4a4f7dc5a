"""Performance events: exact events of hand-made MIDI files, the way back, and the grammar.

Each file is built here, message by message, with music21.midi: a note is a
note-on and a note-off at times given in beats (quarter notes), so that every
test shows what it reads and the events it must give.
"""

from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from music21 import midi
from music21.midi import translate

from classical_composer import performance, tokens
from classical_composer.performance import Event

TICKS_PER_BEAT = 480  # in the hand-made files, unless a test says otherwise
PIANO, SECOND_PIANO, DRUMS = 1, 2, 10  # MIDI channels, numbered from 1 as music21 does

# --- Building MIDI files ----------------------------------------------------------


def message(kind, channel=PIANO, **fields) -> midi.MidiEvent:
    event = midi.MidiEvent(type=kind, channel=channel)
    for name, value in fields.items():
        setattr(event, name, value)
    return event


def note(beat, length, pitch, velocity=80, channel=PIANO) -> list:
    """A note as its two timed messages: (beat, note-on) and (beat + length, note-off)."""
    return [
        (beat, message(midi.ChannelVoiceMessages.NOTE_ON, channel, pitch=pitch, velocity=velocity)),
        (beat + length, message(midi.ChannelVoiceMessages.NOTE_OFF, channel, pitch=pitch, velocity=0)),
    ]


def pedal(beat, value, channel=PIANO) -> list:
    return [(beat, message(midi.ChannelVoiceMessages.CONTROLLER_CHANGE, channel, parameter1=64, parameter2=value))]


def tempo(beat, bpm) -> list:
    return [(beat, message(midi.MetaEvents.SET_TEMPO, data=round(60_000_000 / bpm).to_bytes(3, "big")))]


def midi_bytes(*tracks: list, ticks_per_beat: int = TICKS_PER_BEAT) -> bytes:
    """A MIDI file with one track per list of (beat, message); messages at one beat keep their listed order."""
    midi_file = midi.MidiFile()
    midi_file.ticksPerQuarterNote = ticks_per_beat
    for index, timed_messages in enumerate(tracks):
        track = midi.MidiTrack(index=index)
        previous_tick = 0
        for beat, event in sorted(timed_messages, key=lambda timed: timed[0]):
            tick = round(Fraction(beat) * ticks_per_beat)
            event.track = track
            track.events += [midi.DeltaTime(track, time=tick - previous_tick), event]
            previous_tick = tick
        track.events += [midi.DeltaTime(track, time=0), message(midi.MetaEvents.END_OF_TRACK, data=b"")]
        midi_file.tracks.append(track)
    return midi_file.writestr()


def notes_heard_by_music21(data: bytes) -> list[tuple]:
    """(onset, pitch, length, velocity) of every note, as music21's own MIDI reader finds them."""
    score = translate.midiStringToStream(data, quantizePost=False)
    heard = []
    for part in score.parts:
        notes = part.flatten()
        notes.stripTies(inPlace=True)  # music21 cuts notes at barlines; join them again
        for element in notes.notes:
            for single in getattr(element, "notes", [element]):
                onset, length = Fraction(element.offset), Fraction(element.quarterLength)
                heard.append((onset, single.pitch.midi, length, single.volume.velocity))
    return sorted(heard)


START = ["Start", "Tempo 120 bpm"]  # every file here without a tempo plays at 120 bpm

# --- Reading: exact events -------------------------------------------------------------


def test_a_chord_is_pressed_and_released_from_low_to_high():
    chord = note(0, 1, 67) + note(0, 1, 60) + note(0, 1, 64)  # listed out of order on purpose
    assert performance.performance_of_midi(midi_bytes(chord)) == START + [
        "Volume 2",  # velocity 80 is nearest to 81, level 2
        "Note 60 On", "Note 64 On", "Note 67 On",
        "Wait 1 beat",
        "Note 60 Off", "Note 64 Off", "Note 67 Off",
        "End",
    ]


def test_a_note_held_over_others_from_another_track():
    left = note(0, 2, 48)
    right = note(1, Fraction(1, 2), 64) + note(Fraction(3, 2), 1, 67)
    assert performance.performance_of_midi(midi_bytes(left, right)) == START + [
        "Volume 2", "Note 48 On",
        "Wait 1 beat", "Note 64 On",
        "Wait 1/2 beat", "Note 64 Off", "Note 67 On",  # a release comes before a press at the same time
        "Wait 1/2 beat", "Note 48 Off",
        "Wait 1/2 beat", "Note 67 Off",
        "End",
    ]


def test_a_rest_and_a_triplet():
    third = Fraction(1, 3)
    triplet = note(2, third, 62) + note(2 + third, third, 64) + note(2 + 2 * third, third, 65)
    piece = note(0, 1, 60) + triplet + note(3, 1, 67)
    assert performance.performance_of_midi(midi_bytes(piece)) == START + [
        "Volume 2", "Note 60 On", "Wait 1 beat", "Note 60 Off",
        "Wait 1 beat",  # the rest
        "Note 62 On", "Wait 1/3 beat", "Note 62 Off",
        "Note 64 On", "Wait 1/3 beat", "Note 64 Off",
        "Note 65 On", "Wait 1/3 beat", "Note 65 Off",
        "Note 67 On", "Wait 1 beat", "Note 67 Off",
        "End",
    ]


def test_a_triplet_in_a_file_whose_beat_is_not_twelve_ticks_a_step():
    third = Fraction(1, 3)
    piece = note(0, third, 60) + note(third, third, 62) + note(2 * third, third, 64)  # at ticks 0, 33 and 67
    assert performance.performance_of_midi(midi_bytes(piece, ticks_per_beat=100)) == START + [
        "Volume 2",
        "Note 60 On", "Wait 1/3 beat", "Note 60 Off",
        "Note 62 On", "Wait 1/3 beat", "Note 62 Off",
        "Note 64 On", "Wait 1/3 beat", "Note 64 Off",
        "End",
    ]


def test_volume_is_said_only_when_the_level_changes():
    piece = (
        note(0, 1, 60, velocity=40)  # level 0 (31)
        + note(1, 1, 62, velocity=30)  # level 0 again: no volume event
        + note(2, 1, 64, velocity=100)  # level 3 (102)
        + note(3, 1, 72, velocity=85) + note(3, 1, 67, velocity=60)  # a chord of levels 2 and 1
    )
    assert performance.performance_of_midi(midi_bytes(piece)) == START + [
        "Volume 0", "Note 60 On", "Wait 1 beat", "Note 60 Off",
        "Note 62 On", "Wait 1 beat", "Note 62 Off",
        "Volume 3", "Note 64 On", "Wait 1 beat", "Note 64 Off",
        "Volume 1", "Note 67 On", "Volume 2", "Note 72 On",  # by pitch, each with its own level
        "Wait 1 beat", "Note 67 Off", "Note 72 Off",
        "End",
    ]


def test_tempo_changes_are_binned_and_said_when_the_bin_changes():
    conductor = tempo(0, 63) + tempo(1, 92) + tempo(2, 88) + tempo(3, 300) + tempo(Fraction(7, 2), 20)
    assert performance.performance_of_midi(midi_bytes(conductor, note(0, 4, 60))) == [
        "Start",
        "Tempo 60 bpm",  # 63 to the nearest 10, replacing the default 120
        "Volume 2", "Note 60 On",
        "Wait 1 beat", "Tempo 90 bpm",
        "Wait 2 beat",  # 88 bpm is in the same bin as 92: nothing at beat 2
        "Tempo 240 bpm",  # 300 bpm clamped to the fastest bin
        "Wait 1/2 beat", "Tempo 40 bpm",  # 20 bpm clamped to the slowest
        "Wait 1/2 beat", "Note 60 Off",
        "End",
    ]


def test_the_sustain_pedal_from_control_64():
    controls = (
        pedal(0, 127)
        + [(0, message(midi.ChannelVoiceMessages.CONTROLLER_CHANGE, parameter1=7, parameter2=100))]  # main volume
        + pedal(1, 100)  # still down: nothing new
        + pedal(2, 0)
        + pedal(Fraction(5, 2), 63)  # still up
        + pedal(3, 64)  # 64 is down
    )
    piece = note(0, 2, 60) + note(2, 1, 64)
    assert performance.performance_of_midi(midi_bytes(controls + piece)) == START + [
        "Pedal On", "Volume 2", "Note 60 On",
        "Wait 2 beat", "Pedal Off", "Note 60 Off", "Note 64 On",  # tempo, pedal, releases, presses
        "Wait 1 beat", "Pedal On", "Note 64 Off",
        "End",
    ]


def test_drums_are_left_out_and_other_channels_kept():
    drums = note(Fraction(1, 2), 1, 36, channel=DRUMS) + pedal(0, 127, channel=DRUMS)
    piano = note(0, 1, 60) + note(0, 1, 64, channel=SECOND_PIANO)
    assert performance.performance_of_midi(midi_bytes(drums, piano)) == START + [
        "Volume 2", "Note 60 On", "Note 64 On", "Wait 1 beat", "Note 60 Off", "Note 64 Off", "End",
    ]


def test_a_note_on_with_velocity_zero_is_a_note_off():
    silent_on = message(midi.ChannelVoiceMessages.NOTE_ON, pitch=60, velocity=0)
    piece = [note(0, 1, 60)[0], (Fraction(1, 2), silent_on)]
    assert performance.performance_of_midi(midi_bytes(piece)) == START + [
        "Volume 2", "Note 60 On", "Wait 1/2 beat", "Note 60 Off", "End",
    ]


def test_a_key_struck_again_while_it_sounds_is_released_first():
    on_twice = [note(0, 1, 60)[0], note(1, 1, 60)[0]]
    off_twice = [(2, note(0, 1, 60)[1][1]), (3, note(0, 1, 60)[1][1])]  # the second releases nothing
    assert performance.performance_of_midi(midi_bytes(on_twice + off_twice)) == START + [
        "Volume 2", "Note 60 On", "Wait 1 beat", "Note 60 Off", "Note 60 On", "Wait 1 beat", "Note 60 Off", "End",
    ]


def test_a_key_still_down_when_its_track_ends_is_released_there():
    """Track 1 strikes C4 and ends two beats later (its last message a pedal already up), the key never released;
    track 2 holds E4 for three beats."""
    unreleased = note(0, 1, 60)[:1] + pedal(2, 0)  # the note-on alone
    assert performance.performance_of_midi(midi_bytes(unreleased, note(0, 3, 64))) == START + [
        "Volume 2", "Note 60 On", "Note 64 On", "Wait 2 beat", "Note 60 Off", "Wait 1 beat", "Note 64 Off", "End",
    ]


def test_two_tracks_striking_one_key_together_make_one_note_at_the_louder_velocity():
    soft, loud = note(0, 1, 60, velocity=40), note(0, 2, 60, velocity=100)
    assert performance.performance_of_midi(midi_bytes(soft, loud)) == START + [
        "Volume 3", "Note 60 On", "Wait 2 beat", "Note 60 Off", "End",
    ]


def test_times_go_to_the_nearest_twelfth_and_a_note_lasts_at_least_one():
    grace = note(0, Fraction(1, 96), 59)  # 5 ticks: rounds to no time at all, so it lasts one twelfth
    halfway = note(Fraction(1, 24), Fraction(25, 24), 62)  # from tick 20 (half a step: rounds up) to 520 (13 steps)
    assert performance.performance_of_midi(midi_bytes(grace + halfway)) == START + [
        "Volume 2", "Note 59 On", "Wait 1/12 beat", "Note 59 Off", "Note 62 On", "Wait 1 beat", "Note 62 Off", "End",
    ]


def test_a_gap_longer_than_four_beats_is_several_waits():
    piece = note(0, 1, 60) + note(Fraction(21, 2), Fraction(1, 2), 62)
    assert performance.performance_of_midi(midi_bytes(piece)) == START + [
        "Volume 2", "Note 60 On", "Wait 1 beat", "Note 60 Off",
        "Wait 4 beat", "Wait 4 beat", "Wait 3/2 beat",  # 9.5 beats of silence
        "Note 62 On", "Wait 1/2 beat", "Note 62 Off",
        "End",
    ]
    assert performance.waits(0) == []
    four_beats = Event("Wait", Fraction(4))
    assert performance.waits(97) == [four_beats, four_beats, Event("Wait", Fraction(1, 12))]


def test_a_path_reads_like_the_bytes(tmp_path):
    data = midi_bytes(note(0, 1, 60) + pedal(0, 127))
    path = tmp_path / "piece.mid"
    path.write_bytes(data)
    assert performance.performance_of_midi(path) == performance.performance_of_midi(data)


def test_a_file_timed_in_smpte_frames_is_refused():
    data = midi_bytes(note(0, 1, 60))
    smpte = data[:12] + bytes([0xE7, 25]) + data[14:]  # 25 frames a second, 25 ticks a frame
    with pytest.raises(ValueError, match="SMPTE"):
        performance.performance_of_midi(smpte)


# --- Writing, and reading back -------------------------------------------------------------

# Everything at once, some of it off the grid: overlaps, a triplet, velocities,
# tempo changes, the pedal and a drum, in three tracks.
EVERYTHING_NOTES = [  # (onset in beats, length in beats, pitch, velocity)
    (Fraction(0), Fraction(2), 48, 90),
    (Fraction(0), Fraction(1), 64, 70),
    (Fraction(0), Fraction(1), 67, 50),
    (Fraction(51, 100), Fraction(49, 100), 72, 110),  # just off the grid
    (Fraction(1), Fraction(1, 3), 62, 30),
    (Fraction(4, 3), Fraction(1, 3), 64, 60),
    (Fraction(5, 3), Fraction(1, 3), 65, 64),
    (Fraction(2), Fraction(6), 43, 100),  # held under everything after
    (Fraction(3), Fraction(1, 2), 76, 45),
    (Fraction(9), Fraction(1, 4), 79, 80),  # after a long gap in the right hand
]


def everything_file() -> bytes:
    conductor = tempo(0, 100) + tempo(3, 72)
    left = pedal(0, 127) + pedal(2, 0) + pedal(Fraction(25, 12), 127)
    hands = [timed for played in EVERYTHING_NOTES for timed in note(*played)]
    drums = note(1, 1, 38, channel=DRUMS)
    return midi_bytes(conductor, left + hands, drums)


def test_written_events_read_back_the_same():
    events = performance.performance_of_midi(everything_file())
    assert performance.performance_of_midi(performance.midi_of_performance(events)) == events
    assert {"Tempo 100 bpm", "Tempo 70 bpm", "Pedal On", "Pedal Off", "Volume 0", "Volume 3"} <= set(events)


def test_written_notes_keep_onsets_lengths_and_velocities_within_the_grid():
    written = performance.midi_of_performance(performance.performance_of_midi(everything_file()))
    heard = notes_heard_by_music21(written)
    original = sorted(EVERYTHING_NOTES, key=lambda played: (round(played[0] * 12), played[2]))
    assert [pitch for _, pitch, _, _ in heard] == [pitch for _, _, pitch, _ in original]  # and no drum
    half_step, step = Fraction(1, 24), Fraction(1, 12)
    for (onset, pitch, length, velocity), (played_onset, played_length, _, played_velocity) in zip(heard, original):
        assert abs(onset - played_onset) <= half_step, pitch
        assert abs(length - played_length) <= step, pitch
        assert (onset * 12).denominator == 1 and (length * 12).denominator == 1, "on the grid"
        assert velocity == tokens.velocity_level(played_velocity), pitch


def test_the_example_of_the_docstring_plays_as_it_says():
    events = ["Start", "Tempo 120 bpm", "Volume 2", "Note 77 On", "Wait 1/6 beat", "Note 77 Off", "End"]
    written = performance.midi_of_performance(events)
    assert notes_heard_by_music21(written) == [(0, 77, Fraction(1, 6), 81)]
    assert performance.performance_of_midi(written) == events


def test_an_unclosed_note_is_closed_at_the_end():
    unclosed = ["Start", "Volume 1", "Note 60 On", "Wait 1 beat", "Note 64 On", "Wait 1/2 beat", "End"]
    written = performance.midi_of_performance(unclosed)
    assert performance.performance_of_midi(written) == START + [
        "Volume 1", "Note 60 On", "Wait 1 beat", "Note 64 On", "Wait 1/2 beat", "Note 60 Off", "Note 64 Off", "End",
    ]
    # Pressed at the very end, and with no volume yet (so mf): it sounds one twelfth.
    written = performance.midi_of_performance(["Note 60 On", "End"])
    assert notes_heard_by_music21(written) == [(0, 60, Fraction(1, 12), 81)]
    assert performance.performance_of_midi(written) == START + [
        "Volume 2", "Note 60 On", "Wait 1/12 beat", "Note 60 Off", "End",
    ]


def test_a_note_released_the_moment_it_is_pressed_sounds_one_twelfth():
    pressed_and_released = ["Note 60 On", "Note 60 Off", "Note 64 On", "Wait 1 beat", "Note 64 Off"]
    written = performance.midi_of_performance(pressed_and_released)
    assert notes_heard_by_music21(written) == [(0, 60, Fraction(1, 12), 81), (0, 64, 1, 81)]


def test_a_key_pressed_twice_at_once_is_one_note():
    written = performance.midi_of_performance(["Note 60 On", "Note 60 On", "Wait 1 beat", "Note 60 Off"])
    assert notes_heard_by_music21(written) == [(0, 60, 1, 81)]


def test_a_key_pressed_again_while_down_is_released_first():
    pressed_again = ["Note 60 On", "Wait 1 beat", "Note 60 On", "Wait 1 beat", "Note 60 Off"]
    written = performance.midi_of_performance(pressed_again)
    assert notes_heard_by_music21(written) == [(0, 60, 1, 81), (1, 60, 1, 81)]


def test_what_follows_end_is_ignored():
    piece = ["Start", "Note 60 On", "Wait 1 beat", "Note 60 Off", "End"]
    after_the_end = ["Note 62 On", "Wait 2 beat", "Pedal On"]
    assert performance.midi_of_performance(piece + after_the_end) == performance.midi_of_performance(piece)


def test_writing_refuses_an_unknown_event():
    with pytest.raises(ValueError, match="'Note 60 Loud' is not a performance event"):
        performance.midi_of_performance(["Start", "Note 60 On", "Note 60 Loud", "End"])


@hypothesis_settings(max_examples=25, deadline=None, derandomize=True)
@given(
    notes=st.lists(
        st.tuples(
            st.integers(0, 200),  # onset in 48ths of a beat
            st.integers(1, 80),  # length in 48ths of a beat
            st.integers(55, 62),  # pitch
            st.integers(1, 127),  # velocity
            st.sampled_from([PIANO, SECOND_PIANO]),
        ),
        max_size=12,
    ),
    ticks_per_beat=st.sampled_from([96, 100, 480, 1024]),
)
def test_any_file_reads_back_the_same_after_writing(notes, ticks_per_beat):
    # Few pitches, so that notes of one key overlap, double and strike again while sounding.
    timed = [
        pair
        for start, length, pitch, velocity, channel in notes
        for pair in note(Fraction(start, 48), Fraction(length, 48), pitch, velocity, channel)  # finer than the grid
    ]
    events = performance.performance_of_midi(midi_bytes(timed, ticks_per_beat=ticks_per_beat))
    assert events[0] == "Start" and events[-1] == "End"
    assert performance.performance_of_midi(performance.midi_of_performance(events)) == events


# --- The grammar ---------------------------------------------------------------------


def test_every_event_of_the_vocabulary_round_trips():
    vocabulary = performance.vocabulary()
    # Start and End, 128 pitches on and off, 4 beats of waits in twelfths, 4 volumes,
    # tempos 40 to 240 bpm in tens, pedal on and off.
    assert len(vocabulary) == 2 + 128 + 128 + 4 * 12 + 4 + ((240 - 40) // 10 + 1) + 2 == 333
    assert len(set(vocabulary)) == len(vocabulary)
    for text in vocabulary:
        event = performance.event_of_text(text)
        assert performance.text_of_event(event) == text
        assert performance.event_of_text(performance.text_of_event(event)) == event


def test_the_spelling_of_each_kind():
    assert performance.text_of_event(Event("Note On", 77)) == "Note 77 On"
    assert performance.text_of_event(Event("Note Off", 0)) == "Note 0 Off"
    assert performance.text_of_event(Event("Wait", Fraction(2, 12))) == "Wait 1/6 beat"
    assert performance.text_of_event(Event("Wait", Fraction(3, 2))) == "Wait 3/2 beat"
    assert performance.text_of_event(Event("Wait", Fraction(4))) == "Wait 4 beat"
    assert performance.text_of_event(Event("Volume", 3)) == "Volume 3"
    assert performance.text_of_event(Event("Tempo", 120)) == "Tempo 120 bpm"
    assert performance.event_of_text("Pedal On") == Event("Pedal On")
    assert performance.vocabulary()[:3] == ["Start", "End", "Note 0 On"]


@pytest.mark.parametrize(
    "text",
    ["Note 128 On", "Note -1 Off", "note 60 on", "Wait 2/12 beat", "Wait 0 beat", "Wait 1/24 beat", "Wait 5 beat",
     "Wait 1/2 beats", "Volume 4", "Tempo 125 bpm", "Tempo 30 bpm", "120bpm", "Pedal", "", "Start "],
)
def test_unknown_strings_are_refused(text):
    with pytest.raises(ValueError, match="is not a performance event"):
        performance.event_of_text(text)


def test_events_outside_the_grammar_are_refused():
    outside = [Event("Note On", 128), Event("Wait", Fraction(1, 24)), Event("Volume", 4), Event("Tempo", 125), Event("Chord")]
    for event in outside:
        with pytest.raises(ValueError, match="is not a performance event"):
            performance.text_of_event(event)


@pytest.mark.parametrize(
    "bpm, expected", [(20, 40), (44.9, 40), (45, 50), (119.9, 120), (125, 130), (240, 240), (1000, 240)]
)
def test_tempo_bins(bpm, expected):
    assert performance.tempo_bin(bpm) == expected


def test_onset_gaps_are_the_twelfths_from_each_new_moment_a_key_is_struck_to_the_next():
    played = ["Start", "Tempo 120 bpm", "Note 60 On", "Note 64 On", "Wait 1/2 beat", "Note 60 Off",
              "Note 67 On", "Wait 4 beat", "Wait 1/3 beat", "Pedal On", "Note 72 On", "Wait 1 beat",
              "Note 72 Off", "End"]
    # The chord at 0, G4 at 6, C5 at 6 + 48 + 4: a release or a pedal starts nothing.
    assert performance.onset_gaps(played) == [6, 52]
    assert performance.onset_gaps(["Start", "Wait 1 beat", "End"]) == []
    assert performance.beats(played) == Fraction(1, 2) + 4 + Fraction(1, 3) + 1
