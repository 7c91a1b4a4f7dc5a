"""Performance events: a MIDI file as the things a pianist does, one at a time, and back.

In:  a MIDI file, as a path or as its bytes.
Out: its performance, a list of event strings from "Start" to "End" in the
     grammar below; and from such a list, the bytes of a MIDI file again.
     Around them: `PerformanceEvents`, the representation object the pipeline
     asks (representations.py); `transposition_table`, which moves pieces
     while learning (--transpose); and `SoundingNotes`, the rules a song keeps
     while it is composed (keys down, notes no longer than the real ones).

The tokens of tokens.py describe each onset as one sound with a length bin,
and the next sound starts where the grid says. A performance instead tells
what the hands and the foot do: press a key, release it, let time pass, play
softer, press the pedal. Time passes only in Wait events, so notes may
overlap and end whenever they end, and timing is exact to a twelfth of a beat
(a beat is a quarter note; twelfths hold sixteenths and triplets alike):

    Start            the piece begins
    Tempo 120 bpm    a quarter note lasts half a second
    Volume 2         the keys that follow are struck at velocity 81 (mf)
    Note 77 On       F5 is pressed
    Wait 1/6 beat    a sixth of a quarter note passes
    Note 77 Off      F5 is released
    End              the piece ends

The grammar, 333 events, whatever the music (`vocabulary()` lists them):

    "Start", "End"          2   around each piece
    "Note P On"           128   MIDI pitch P (0..127) is pressed: "Note 60 On" is middle C
    "Note P Off"          128   ... and released
    "Wait W beat"          48   W from 1/12 to 4 beats in twelfths, as a reduced
                                fraction or a whole number: "Wait 1/12 beat",
                                "Wait 1/6 beat", "Wait 1 beat", "Wait 3/2 beat",
                                "Wait 4 beat"; a longer gap is several waits,
                                as many of 4 beats as fit, then the rest
    "Volume L"              4   L in 0..3: the following notes are struck with
                                tokens.VELOCITY_LEVELS[L] (31, 59, 81, 102)
    "Tempo B bpm"          21   B in 40, 50, ..., 240: the tempo to the nearest
                                10 bpm, clamped at both ends
    "Pedal On", "Pedal Off" 2   the sustain pedal (MIDI control 64, on from 64)

Reading a file (`performance_of_midi`):
- Every track is read, on every channel but 10 (drums). A note-on with
  velocity 0 is a note-off; a key struck again while it sounds is first
  released; a note still sounding when its track ends stops there.
- Every time is rounded to the nearest twelfth of a beat. A note shorter than
  that lasts one twelfth, and a key struck twice at the same rounded time
  (two tracks doubling a voice) is one note, at the louder velocity.
- A file without a tempo plays at 120 bpm. "Tempo" comes at the start and
  whenever the tempo bin changes, "Pedal" whenever the pedal changes; within
  one twelfth of a beat only the last tempo and the last pedal count.
- A note's velocity goes to the nearest level, as in tokens.py; "Volume"
  comes before a note-on only when the level changes.
- At the same time the order is: tempo, pedal, note offs, then note ons,
  each by pitch from low to high, a note-on after its volume.

Writing a file (`midi_of_performance`) does the reverse, on one track at 480
ticks a beat, so every twelfth is exact. A note before any "Volume" is struck
at level 2 (mf); a note released at the moment it was pressed, or never
released, sounds one twelfth of a beat or until "End"; whatever follows "End"
is ignored. A performance read from a file, written and read again, comes back
the same, event for event.
"""

import math
from collections.abc import Callable, Iterable, Sequence
from fractions import Fraction
from pathlib import Path
from typing import NamedTuple

import numpy as np
from music21 import instrument, midi
from music21.pitch import Pitch

from classical_composer import tokens
from classical_composer.midi_files import UnreadableMidi, music21_reading

# --- The grammar --------------------------------------------------------------

START = "Start"
END = "End"
NOTE_ON = "Note On"
NOTE_OFF = "Note Off"
WAIT = "Wait"
VOLUME = "Volume"
TEMPO = "Tempo"
PEDAL_ON = "Pedal On"
PEDAL_OFF = "Pedal Off"

PITCHES = range(128)  # every MIDI pitch; 60 is middle C

# Time is counted in twelfths of a beat (a quarter note): the smallest grid that
# holds both sixteenths (3/12) and eighth-note triplets (4/12).
STEPS_PER_BEAT = 12
LONGEST_WAIT_STEPS = 4 * STEPS_PER_BEAT  # one bar of 4/4; longer gaps take several waits
WAITS = tuple(Fraction(steps, STEPS_PER_BEAT) for steps in range(1, LONGEST_WAIT_STEPS + 1))

VOLUMES = range(len(tokens.VELOCITY_LEVELS))  # an index into tokens.VELOCITY_LEVELS
DEFAULT_VOLUME = 2  # mf, for a note written before any "Volume"

# Tempo bins in beats per minute: nearest multiple of 10, from Grave to Prestissimo.
TEMPO_BIN_WIDTH_BPM = 10
SLOWEST_BPM = 40
FASTEST_BPM = 240
TEMPOS = range(SLOWEST_BPM, FASTEST_BPM + 1, TEMPO_BIN_WIDTH_BPM)
DEFAULT_BPM = 120  # what MIDI assumes when a file sets no tempo


class Event(NamedTuple):
    """One thing a performer does; `value` carries what the kind needs."""

    kind: str  # one of START ... PEDAL_OFF above
    value: int | Fraction | None = None  # a pitch, a wait in beats, a volume level or a tempo bin in bpm


def spelling(event: Event) -> str:
    """How the grammar writes an event (for events of the grammar; see `text_of_event`)."""
    kind, value = event
    if kind in (NOTE_ON, NOTE_OFF):
        return f"Note {value} {'On' if kind == NOTE_ON else 'Off'}"
    if kind == WAIT:
        return f"Wait {value} beat"  # a Fraction prints as "1/6", or "4" when whole
    if kind == VOLUME:
        return f"Volume {value}"
    if kind == TEMPO:
        return f"Tempo {value} bpm"
    return kind


EVERY_EVENT = (
    [Event(START), Event(END)]
    + [Event(NOTE_ON, pitch) for pitch in PITCHES]
    + [Event(NOTE_OFF, pitch) for pitch in PITCHES]
    + [Event(WAIT, beats) for beats in WAITS]
    + [Event(VOLUME, level) for level in VOLUMES]
    + [Event(TEMPO, bpm) for bpm in TEMPOS]
    + [Event(PEDAL_ON), Event(PEDAL_OFF)]
)
TEXT_OF_EVENT = {event: spelling(event) for event in EVERY_EVENT}
EVENT_OF_TEXT = {text: event for event, text in TEXT_OF_EVENT.items()}


def vocabulary() -> list[str]:
    """Every event string of the grammar, in the order of the table above."""
    return list(EVENT_OF_TEXT)


def text_of_event(event: Event) -> str:
    """Event -> its string. Raises ValueError for an event outside the grammar."""
    try:
        return TEXT_OF_EVENT[event]
    except KeyError:
        raise ValueError(f"{event!r} is not a performance event (see classical_composer/performance.py).") from None


def event_of_text(text: str) -> Event:
    """String -> its event. Raises ValueError for a string the grammar does not write."""
    try:
        return EVENT_OF_TEXT[text]
    except KeyError:
        raise ValueError(f"{text!r} is not a performance event (see classical_composer/performance.py).") from None


def waits(steps: int) -> list[Event]:
    """The waits that pass `steps` twelfths of a beat: whole 4-beat waits first, then the rest."""
    events = []
    while steps > 0:
        wait_steps = min(steps, LONGEST_WAIT_STEPS)
        events.append(Event(WAIT, Fraction(wait_steps, STEPS_PER_BEAT)))
        steps -= wait_steps
    return events


def tempo_bin(bpm: float) -> int:
    """The tempo bin of a tempo in beats per minute: the nearest multiple of 10, within 40..240."""
    nearest = TEMPO_BIN_WIDTH_BPM * math.floor(bpm / TEMPO_BIN_WIDTH_BPM + 0.5)
    return min(max(nearest, SLOWEST_BPM), FASTEST_BPM)


def volume_of(velocity: int) -> int:
    """The volume level of a MIDI velocity: the index of its nearest level in tokens.py."""
    return tokens.VELOCITY_LEVELS.index(tokens.velocity_level(velocity))


def onsets(texts: Iterable[str]) -> list[tuple[int, ...]]:
    """The pitches struck together at each moment, in time order: what a note token would hold.

    Note-ons with no wait between them are one onset; the other events only
    separate them (a wait) or play nothing new.
    """
    result, struck = [], []
    for text in texts:
        event = event_of_text(text)
        if event.kind == NOTE_ON:
            struck.append(event.value)
        elif event.kind == WAIT and struck:
            result.append(tuple(sorted(struck)))
            struck = []
    if struck:
        result.append(tuple(sorted(struck)))
    return result


def beats(texts: Iterable[str]) -> Fraction:
    """How long a performance lasts, in beats (quarter notes): the sum of its waits."""
    return sum((event.value for event in map(event_of_text, texts) if event.kind == WAIT), Fraction(0))


def onset_gaps(texts: Iterable[str]) -> list[int]:
    """The time from each onset to the next, in twelfths of a beat: the rhythm of the piece, whatever its pitches."""
    gaps, now, last_onset = [], 0, None
    for text in texts:
        event = event_of_text(text)
        if event.kind == WAIT:
            now += int(event.value * STEPS_PER_BEAT)
        elif event.kind == NOTE_ON and now != last_onset:  # a note-on at a new moment is a new onset
            if last_onset is not None:
                gaps.append(now - last_onset)
            last_onset = now
    return gaps


# Shifting a piece by up to three semitones either way, as Music Transformer augments
# performances (Huang et al., 2018): every key and the hands' shapes stay, the pitches move.
TRANSPOSITIONS = range(-3, 4)


def transposition_table(vocabulary_tokens: list[str], shifts: Sequence[int] = TRANSPOSITIONS) -> np.ndarray:
    """(shifts, vocabulary) token indices: row s holds, for every token, the index of the same event
    moved by shifts[s] semitones, or -1 where that event is not in the vocabulary; events without a pitch stay."""
    index_of = {text: index for index, text in enumerate(vocabulary_tokens)}
    table = np.full((len(shifts), len(vocabulary_tokens)), -1, np.int64)
    for row, shift in enumerate(shifts):
        for index, text in enumerate(vocabulary_tokens):
            event = EVENT_OF_TEXT.get(text)
            if event is not None and event.kind in (NOTE_ON, NOTE_OFF):
                moved = TEXT_OF_EVENT.get(Event(event.kind, event.value + shift))  # None outside MIDI's pitches
                table[row, index] = index_of.get(moved, -1)
            else:
                table[row, index] = index
    return table


# --- While composing ------------------------------------------------------------


# With the length limit, a note may sound as long as this share of the composer's training notes do.
# (Measured against the longest of all, 1.0, in docs/chunks.md.)
NOTE_LENGTH_SHARE = 0.999


class SoundingNotes:
    """Which keys are down in each song being composed, and since when, so that only what may be played comes next.

    Two rules, each of which can be asked for:

    key_rules      a key can be struck only while it is up and released only
                   while it is down: a sampled "Note 60 On" while C4 sounds, or
                   "Note 60 Off" while it does not, is a slip no performance
                   makes. Keys pressed before the seed window are not known to
                   be down, so they are not released. (Measured on
                   weights/events, songs sampled under this rule sound less
                   real than songs sampled freely: docs/chunks.md.)
    longest_steps  no note sounds longer than this many twelfths of a beat:
                   time passes only as far as the oldest sounding note allows,
                   and once a note has sounded that long its release is all
                   that may come next. A sampled performance can forget
                   a key it pressed, and the note then sounds for the rest of
                   the song; Performance RNN cuts such notes when it writes a
                   performance (Magenta's max_note_duration), here they are
                   released while composing, so the network hears the release.

    predict.compose, given these rules, asks `allowed` before every choice.
    """

    def __init__(self, vocabulary_tokens: list[str], key_rules: bool = False, longest_steps: int | None = None):
        kinds = [EVENT_OF_TEXT.get(text, Event(None)) for text in vocabulary_tokens]
        self.token_count = len(kinds)
        self.key_rules, self.longest_steps = key_rules, longest_steps
        # The token indices of the note-ons and note-offs the vocabulary has, and their pitches.
        self.on_tokens = np.array([index for index, event in enumerate(kinds) if event.kind == NOTE_ON], np.int64)
        self.off_tokens = np.array([index for index, event in enumerate(kinds) if event.kind == NOTE_OFF], np.int64)
        self.on_pitches = np.array([kinds[index].value for index in self.on_tokens], np.int64)
        self.off_pitches = np.array([kinds[index].value for index in self.off_tokens], np.int64)
        # For every token index: the pitch it presses (or -1), the pitch it releases (or -1), the steps it waits.
        self.pressed = np.full(self.token_count, -1, np.int64)
        self.pressed[self.on_tokens] = self.on_pitches
        self.released = np.full(self.token_count, -1, np.int64)
        self.released[self.off_tokens] = self.off_pitches
        self.waited = np.array([int(event.value * STEPS_PER_BEAT) if event.kind == WAIT else 0 for event in kinds],
                               np.int64)
        self.end_tokens = np.array([index for index, event in enumerate(kinds) if event.kind == END], np.int64)

    def start(self, windows: np.ndarray) -> None:
        """(songs, time) seed windows of token indices: the keys down after them, and since when."""
        windows = np.asarray(windows)
        self.now = np.zeros(len(windows), np.int64)  # (songs,) twelfths of a beat since the window began
        self.pressed_at = np.full((len(windows), len(PITCHES)), -1, np.int64)  # (songs, pitches), -1 while up
        for step in range(windows.shape[1]):
            self.after(windows[:, step])

    def after(self, chosen: np.ndarray) -> None:
        """(songs,) the token each song played next. A key struck while down is struck anew, as it is played."""
        songs = np.arange(len(chosen))
        pressed, released = self.pressed[chosen], self.released[chosen]
        self.now += self.waited[chosen]
        self.pressed_at[songs[released >= 0], released[released >= 0]] = -1
        self.pressed_at[songs[pressed >= 0], pressed[pressed >= 0]] = self.now[pressed >= 0]

    def allowed(self) -> np.ndarray:
        """(songs, vocabulary) bool: every token the rules asked for allow."""
        allowed = np.ones((len(self.now), self.token_count), dtype=bool)
        down = self.pressed_at >= 0
        if self.key_rules:
            allowed[:, self.on_tokens] = ~down[:, self.on_pitches]
            allowed[:, self.off_tokens] = down[:, self.off_pitches]
        if self.longest_steps is not None:
            held = np.where(down, self.now[:, np.newaxis] - self.pressed_at, 0)  # (songs, pitches)
            steps_left = self.longest_steps - held.max(axis=1)  # (songs,)
            allowed &= self.waited[np.newaxis, :] <= steps_left[:, np.newaxis]  # no wait beyond the limit
            for song in np.flatnonzero(steps_left <= 0):  # a note has sounded its longest: release it
                overdue = held[song, self.off_pitches] >= self.longest_steps
                allowed[song] = False  # End too: the song may end once the note has, not instead
                allowed[song, self.off_tokens[overdue]] = True
                if not allowed[song].any():  # no release of it in the vocabulary: End is the only way out
                    allowed[song, self.end_tokens] = True
        return allowed

    def note_length_limit(self, pieces: list[np.ndarray]) -> int:
        """How long a note may sound, in twelfths of a beat: as long as NOTE_LENGTH_SHARE of the pieces' notes.

        Not the longest of all: one final chord held under a fermata would
        then let every forgotten key sound that long.
        """
        lengths = self.note_lengths(pieces)
        return max(1, math.ceil(np.percentile(lengths, 100 * NOTE_LENGTH_SHARE))) if len(lengths) else 1

    def note_lengths(self, pieces: list[np.ndarray]) -> np.ndarray:
        """How long each note sounds in these pieces of token indices, in twelfths of a beat, as it is played.

        A note lasts from its key's press to the key's next event, a release
        or a strike anew, or to the end of its piece (see notes_of_performance).
        """
        lengths = [np.zeros(0, np.int64)]
        for piece in pieces:
            piece = np.asarray(piece)
            now = np.cumsum(self.waited[piece])  # (events,) the time after each event
            key = np.maximum(self.pressed[piece], self.released[piece])  # the key each event moves, or -1
            moves = np.flatnonzero(key >= 0)
            moves = moves[np.lexsort((moves, key[moves]))]  # by key, then in time
            if len(moves) == 0:
                continue
            # Each press ends at the next event of its key, or at the end of the piece.
            next_move = np.append(moves[1:], moves[-1])
            same_key = np.append(key[moves[1:]] == key[moves[:-1]], False)
            ends = np.where(same_key, now[next_move], now[-1])
            presses = self.pressed[piece[moves]] >= 0
            lengths.append((ends - now[moves])[presses])
        return np.concatenate(lengths)


# --- MIDI -> performance --------------------------------------------------------

DRUM_CHANNEL = 10  # General MIDI's percussion channel (music21 numbers channels from 1)
SUSTAIN_PEDAL = 64  # the MIDI controller number of the sustain pedal
PEDAL_DOWN_FROM = 64  # controller values from this up hold the pedal down
MICROSECONDS_PER_MINUTE = 60_000_000

# At one time, events come in this order (and note events by pitch within it).
TEMPO_FIRST, PEDAL_SECOND, RELEASES_THIRD, PRESSES_LAST = range(4)


class Note(NamedTuple):
    pitch: int
    start: int  # in ticks as read, in twelfths of a beat once on the grid
    end: int
    velocity: int


def read_midi_file(source: str | Path | bytes) -> midi.MidiFile:
    """A MIDI file's tracks and raw events, from its path or its bytes."""
    midi_file = midi.MidiFile()
    if isinstance(source, (bytes, bytearray)):
        midi_file.readstr(bytes(source))
    else:
        midi_file.open(str(source))
        try:
            midi_file.read()
        finally:
            midi_file.close()
    return midi_file


def played_notes_and_controls(midi_file: midi.MidiFile) -> tuple[list[Note], list, list]:
    """Every pitched note in ticks; every tempo change (tick, bpm) and pedal change (tick, down), in time order."""
    notes, tempo_changes, pedal_changes = [], [], []
    for track in midi_file.tracks:
        sounding = {}  # (channel, pitch) -> (tick it was struck, velocity)
        tick = 0
        for message in track.events:
            if message.isDeltaTime():
                tick += message.time
                continue
            if message.type == midi.MetaEvents.SET_TEMPO:
                microseconds_per_beat = int.from_bytes(message.data, "big")
                if microseconds_per_beat > 0:  # a damaged tempo says nothing
                    tempo_changes.append((tick, MICROSECONDS_PER_MINUTE / microseconds_per_beat))
            if not message.isChannelEvent() or message.channel == DRUM_CHANNEL:
                continue
            if message.isNoteOff() or message.isNoteOn():
                key = (message.channel, message.pitch)
                if key in sounding:  # released, or struck again: either way the sounding note ends
                    struck_at, velocity = sounding.pop(key)
                    notes.append(Note(message.pitch, struck_at, tick, velocity))
                if message.isNoteOn():
                    sounding[key] = (tick, message.velocity)
            elif message.type == midi.ChannelVoiceMessages.CONTROLLER_CHANGE and message.parameter1 == SUSTAIN_PEDAL:
                pedal_changes.append((tick, message.parameter2 >= PEDAL_DOWN_FROM))
        for (_, pitch), (struck_at, velocity) in sounding.items():
            notes.append(Note(pitch, struck_at, tick, velocity))

    # Sorting by tick alone keeps the file's order among changes at the same tick.
    tempo_changes.sort(key=lambda change: change[0])
    pedal_changes.sort(key=lambda change: change[0])
    return notes, tempo_changes, pedal_changes


def playable(notes: list[Note]) -> list[Note]:
    """Notes on the grid as one piano can play them: per key, one note at a time, each at least one step long."""
    by_pitch: dict[int, list[Note]] = {}
    for note in notes:
        by_pitch.setdefault(note.pitch, []).append(note)
    result = []
    for pitch in sorted(by_pitch):
        kept: list[Note] = []
        for note in sorted(by_pitch[pitch], key=lambda played: played.start):
            note = note._replace(end=max(note.end, note.start + 1))
            if kept and kept[-1].start == note.start:  # struck twice at once: one note, the louder
                earlier = kept.pop()
                note = note._replace(end=max(earlier.end, note.end), velocity=max(earlier.velocity, note.velocity))
            elif kept and kept[-1].end > note.start:  # struck again while sounding: the key is released first
                kept[-1] = kept[-1]._replace(end=note.start)
            kept.append(note)
        result.extend(kept)
    return result


def changes_on_grid(changes: list[tuple], step_of: Callable[[int], int], state_before) -> list[tuple]:
    """(step, new state) wherever the state differs from the one before; within a step the last change counts."""
    state_at_step = {}
    for tick, state in changes:
        state_at_step[step_of(tick)] = state
    result, state = [], state_before
    for step in sorted(state_at_step):
        if state_at_step[step] != state:
            state = state_at_step[step]
            result.append((step, state))
    return result


def performance_of_midi(source: str | Path | bytes) -> list[str]:
    """A MIDI file (its path or its bytes) -> its performance events, from "Start" to "End"."""
    return performance_of_midi_file(read_midi_file(source))


def performance_of_midi_file(midi_file: midi.MidiFile) -> list[str]:
    """A MIDI file music21 has read -> its performance events, from "Start" to "End"."""
    if midi_file.ticksPerSecond is not None:  # rare: such a file has seconds but no beats
        raise ValueError("This MIDI file counts time in SMPTE frames, not beats; save it with ticks per quarter note.")
    if midi_file.ticksPerQuarterNote <= 0:
        raise ValueError("This MIDI file gives 0 ticks per quarter note, so its timing is damaged.")
    ticks_per_beat = midi_file.ticksPerQuarterNote

    def step_of(tick: int) -> int:
        """The nearest twelfth of a beat, halves rounded up, in whole-number arithmetic."""
        return (2 * tick * STEPS_PER_BEAT + ticks_per_beat) // (2 * ticks_per_beat)

    notes_in_ticks, tempo_changes, pedal_changes = played_notes_and_controls(midi_file)
    notes = playable([note._replace(start=step_of(note.start), end=step_of(note.end)) for note in notes_in_ticks])

    # Everything that happens, as (step, order at equal steps, pitch, event).
    happenings = []
    # The default tempo comes first, so that a tempo set at the very start replaces it.
    tempo_bins = [(0, tempo_bin(DEFAULT_BPM))] + [(tick, tempo_bin(bpm)) for tick, bpm in tempo_changes]
    for step, bpm in changes_on_grid(tempo_bins, step_of, state_before=None):
        happenings.append((step, TEMPO_FIRST, 0, Event(TEMPO, bpm)))
    for step, down in changes_on_grid(pedal_changes, step_of, state_before=False):
        happenings.append((step, PEDAL_SECOND, 0, Event(PEDAL_ON if down else PEDAL_OFF)))
    for note in notes:
        happenings.append((note.end, RELEASES_THIRD, note.pitch, Event(NOTE_OFF, note.pitch)))
        happenings.append((note.start, PRESSES_LAST, note.pitch, Event(NOTE_ON, note.pitch)))
    volume_at_start = {(note.start, note.pitch): volume_of(note.velocity) for note in notes}

    events = [Event(START)]
    now, volume = 0, None
    for step, _, pitch, event in sorted(happenings, key=lambda happening: happening[:3]):
        events.extend(waits(step - now))
        now = step
        if event.kind == NOTE_ON and volume_at_start[step, pitch] != volume:
            volume = volume_at_start[step, pitch]
            events.append(Event(VOLUME, volume))
        events.append(event)
    events.append(Event(END))
    return [text_of_event(event) for event in events]


# --- Performance -> MIDI --------------------------------------------------------

WRITTEN_TICKS_PER_BEAT = 480  # a multiple of 12, so every twelfth of a beat is a whole number of ticks
TICKS_PER_STEP = WRITTEN_TICKS_PER_BEAT // STEPS_PER_BEAT
PIANO_CHANNEL = 1
PEDAL_DOWN, PEDAL_UP = 127, 0  # the controller values written for "Pedal On" and "Pedal Off"


def midi_message(track: midi.MidiTrack, kind, **fields) -> midi.MidiEvent:
    """A MIDI message of one kind, on the piano channel, with its fields set."""
    message = midi.MidiEvent(track, type=kind, channel=PIANO_CHANNEL)
    for name, value in fields.items():
        setattr(message, name, value)
    return message


def tempo_message(track: midi.MidiTrack, bpm: float) -> midi.MidiEvent:
    message = midi_message(track, midi.MetaEvents.SET_TEMPO)
    message.data = round(MICROSECONDS_PER_MINUTE / bpm).to_bytes(3, "big")
    return message


def midi_of_performance(texts: Iterable[str], program: int = 0, bpm: float | None = None) -> bytes:
    """Performance event strings -> the bytes of a one-track MIDI file that plays them.

    program: the General MIDI instrument, 0 to 127 (0 is the piano).
    bpm:     None plays the performance's own tempo events; a number replaces them with this one tempo.
    Raises ValueError at the first string that is not a performance event.
    Write the bytes with atomic.replaced_atomically to save them as a file.
    """
    track = midi.MidiTrack(index=0)
    messages = []  # (step, order at equal steps, MIDI message)
    if program:
        messages.append((0, TEMPO_FIRST, midi_message(track, midi.ChannelVoiceMessages.PROGRAM_CHANGE, data=program)))
    if bpm is not None:
        messages.append((0, TEMPO_FIRST, tempo_message(track, bpm)))
    now, volume = 0, DEFAULT_VOLUME
    pressed_at: dict[int, int] = {}  # pitch -> the step its key went down, while it is down

    def release(pitch: int) -> None:
        # A note lasts at least one step, as when reading, so that nothing is silent.
        end = max(now, pressed_at.pop(pitch) + 1)
        note_off = midi_message(track, midi.ChannelVoiceMessages.NOTE_OFF, pitch=pitch, velocity=0)
        messages.append((end, RELEASES_THIRD, note_off))

    for text in texts:
        kind, value = event_of_text(text)
        if kind == END:
            break
        if kind == WAIT:
            now += int(value * STEPS_PER_BEAT)
        elif kind == VOLUME:
            volume = value
        elif kind == TEMPO and bpm is None:
            messages.append((now, TEMPO_FIRST, tempo_message(track, value)))
        elif kind in (PEDAL_ON, PEDAL_OFF):
            pedal = midi_message(track, midi.ChannelVoiceMessages.CONTROLLER_CHANGE, parameter1=SUSTAIN_PEDAL)
            pedal.parameter2 = PEDAL_DOWN if kind == PEDAL_ON else PEDAL_UP
            messages.append((now, PEDAL_SECOND, pedal))
        elif kind == NOTE_ON and pressed_at.get(value) != now:  # a key pressed twice at once is pressed once
            if value in pressed_at:  # struck again while sounding: release it first
                release(value)
            pressed_at[value] = now
            velocity = tokens.VELOCITY_LEVELS[volume]
            note_on = midi_message(track, midi.ChannelVoiceMessages.NOTE_ON, pitch=value, velocity=velocity)
            messages.append((now, PRESSES_LAST, note_on))
        elif kind == NOTE_OFF and value in pressed_at:  # releasing a key that is up does nothing
            release(value)
    for pitch in sorted(pressed_at):  # keys still down at the end are released there
        release(pitch)

    # Sorting by step and order alone keeps the performance's order within each.
    previous_step = 0
    for step, _, message in sorted(messages, key=lambda timed: timed[:2]):
        track.events.append(midi.DeltaTime(track, time=(step - previous_step) * TICKS_PER_STEP))
        track.events.append(message)
        previous_step = step
    track.events.append(midi.DeltaTime(track, time=0))
    track.events.append(midi_message(track, midi.MetaEvents.END_OF_TRACK, data=b""))

    midi_file = midi.MidiFile()
    midi_file.ticksPerQuarterNote = WRITTEN_TICKS_PER_BEAT
    midi_file.tracks.append(track)
    return midi_file.writestr()


# --- The representation object ----------------------------------------------------------

# The shortest note a performance sounds: midi_of_performance lets no note be silent.
SHORTEST_PERFORMED = Fraction(1, STEPS_PER_BEAT)


def notes_of_performance(texts: Iterable[str]) -> tuple[list[tuple[float, float, int]], float]:
    """Performance events -> ((start, end, MIDI pitch) of every note, in quarter notes; the length), as played.

    Time passes only in waits. A note sounds from its "On" to its "Off"; a key
    struck again while it sounds is released first, a key struck twice at one
    moment is struck once, and releasing a silent key does nothing. A note
    never released ends where the performance ends, and every note lasts at
    least a twelfth of a beat. Nothing after "End" sounds.
    """
    now = Fraction(0)  # exact, so that notes struck together start at exactly the same time
    pressed_at: dict[int, Fraction] = {}  # pitch -> when its key went down, while it is down
    notes = []

    def release(pitch: int) -> None:
        start = pressed_at.pop(pitch)
        notes.append((float(start), float(max(now, start + SHORTEST_PERFORMED)), pitch))

    for text in texts:
        kind, value = event_of_text(text)
        if kind == END:
            break
        if kind == WAIT:
            now += value
        elif kind == NOTE_ON and pressed_at.get(value) != now:
            if value in pressed_at:
                release(value)
            pressed_at[value] = now
        elif kind == NOTE_OFF and value in pressed_at:
            release(value)
    for pitch in sorted(pressed_at):
        release(pitch)
    notes.sort(key=lambda played: (played[0], played[2]))
    return notes, max([float(now)] + [end for _, end, _ in notes])


class PerformanceEvents:
    """Performance events as the pipeline asks for them; see representations.py for what each answer is for."""

    name = "events"
    end_token = END  # a song ends at "End" (or after --num-notes events)
    report_unit = "onsets"  # what report.py counts runs, variety and copying in: the pitches struck together

    def __init__(self, encoding: dict | None = None):
        pass  # events have no encoding flags: the grammar above is the whole representation

    def tokens_of_midi(self, midi_file: midi.MidiFile) -> list[str]:
        """A read MIDI file -> its performance; raises UnreadableMidi when no note is played."""
        try:
            with music21_reading("its MIDI events could not be read"):
                events = performance_of_midi_file(midi_file)
        except ValueError as error:  # this module's own word for timing it cannot use (SMPTE frames)
            raise UnreadableMidi(f"its MIDI events could not be read ({error})") from error
        if not any(event_of_text(event).kind == NOTE_ON for event in events):
            raise UnreadableMidi("it has no pitched notes")
        return events

    def check_token(self, token: str) -> None:
        """Raise ValueError unless the grammar above writes `token`."""
        event_of_text(token)

    def write_midi(self, texts: list[str], path: Path, instrument_name: str, bpm: float | None) -> None:
        """Events -> a MIDI file at `path`, played at `bpm` (None: the events' own tempo)."""
        program = instrument.fromString(instrument_name).midiProgram or 0
        Path(path).write_bytes(midi_of_performance(texts, program, bpm))

    def quarters_of_pieces(self, midi_dir: Path, pieces: list) -> float:
        """How many quarter notes the pieces last: the sum of their waits."""
        return float(sum(beats(piece.tokens) for piece in pieces))

    def quarters_of_tokens(self, texts: list[str]) -> float:
        return float(beats(texts))

    def notes_sounded(self, texts: Iterable[str]) -> tuple[list[tuple[float, float, int]], float]:
        return notes_of_performance(texts)

    def pitches_struck(self, text: str) -> tuple[int, ...]:
        """A note-on strikes its pitch; waits, volumes, note-offs and the rest play nothing new."""
        event = event_of_text(text)
        return (event.value,) if event.kind == NOTE_ON else ()

    def is_rest(self, text: str) -> bool:
        return False  # silence is a wait with no key down, never an event of its own

    def onsets(self, texts: list[str]) -> list[tuple[int, ...]]:
        return onsets(texts)

    def onset_text(self, onset: tuple[int, ...]) -> str:
        """How the report names one onset: its pitches as a note token spells a chord, "C4.E4.G4"."""
        return ".".join(Pitch(midi=number).nameWithOctave for number in onset)

    def onset_gaps(self, texts: list[str]) -> list[int]:
        return onset_gaps(texts)

    def nearest_known(self, text: str, known_events: list[str]) -> str:
        """The known event of the same kind with the nearest value (pitch, wait, volume, tempo)."""
        wanted = event_of_text(text)

        def distance(known: str) -> tuple:
            event = event_of_text(known)
            if event.kind != wanted.kind:
                return (1, 0)
            return (0, abs((event.value or 0) - (wanted.value or 0)))

        return min(known_events, key=distance)

    def nearest_known_of_each(self, wanted_events: list[str], known_events: list[str]) -> list[str]:
        """nearest_known for many events at once (a vocabulary of events is small)."""
        return [self.nearest_known(text, known_events) for text in wanted_events]

    def transposition_table(self, vocabulary_tokens: list[str]) -> np.ndarray:
        """With --transpose, each training piece is moved each epoch by a row of transposition_table's table."""
        return transposition_table(vocabulary_tokens)

    def sampling_rules(self, vocabulary_tokens: list[str], real_pieces: list, key_rules: bool = False,
                       limit_note_lengths: bool = True) -> SoundingNotes | None:
        """SoundingNotes: keys struck only while up and released only while down, if key_rules; and
        no note longer than NOTE_LENGTH_SHARE of the real pieces' notes (token index arrays), if limit_note_lengths."""
        if not (key_rules or limit_note_lengths):
            return None
        rules = SoundingNotes(vocabulary_tokens, key_rules)
        if limit_note_lengths:  # the limit is measured with the rules' own tables of what each token does
            rules.longest_steps = rules.note_length_limit(real_pieces)
        return rules
