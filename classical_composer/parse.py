"""Stage 1 of 4: MIDI files -> token sequences, one per piece.

In:  a folder of MIDI files (.mid / .midi, any case) and the encoding settings.
Out: a `Corpus`: one `Piece` (file name, list of token strings) per readable
     file, and the files that were skipped with the reason why.

How a file becomes tokens:
1. music21 reads the file into parts (one per MIDI track/channel).
2. Every pitched note of every part is collected with its start time (in
   quarter notes), length and velocity. Drum parts give music21 `Unpitched`
   notes, which are not pitched and so are left out.
3. Notes that start at the same moment become one event: a single pitch is a
   note, several are a chord, just as a listener hears two hands playing at once.
4. With --rests, time in which nothing sounds becomes a rest event.
5. Each event is spelled as a token by tokens.py.

Parsing is slow (music21 builds a full score), so results are cached by each
file's content and the encoding settings, and files not in the cache are
parsed by a pool of processes, one per CPU core.
"""

import contextlib
import hashlib
import json
import multiprocessing
import os
import signal
import sys
import threading
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from music21 import chord, interval, midi, note, pitch
from music21.midi.translate import midiFileToStream

from classical_composer import tokens
from classical_composer.tokens import Event

MIDI_SUFFIXES = (".mid", ".midi")

# Gaps shorter than this are articulation (a slightly detached note), not
# silence a listener would call a rest.
MIN_REST_QUARTERS = 0.25

# music21 leaves velocity unset for some notes; MIDI's own "no opinion" value.
DEFAULT_VELOCITY = 64

# Bump when the meaning of tokens changes, so that old cache entries are ignored.
# (2: files cut short are skipped instead of read as far as they go.
#  3: a note held across a barline is one event, not one per bar.)
CACHE_VERSION = 3

# A skip reason is printed on one line; music21's messages can run to many
# lines or dump raw bytes, so longer reasons are cut to this many characters.
MAX_REASON_CHARACTERS = 160

# The layout of a Standard MIDI File: a header chunk, then one chunk per
# track, each chunk a four-letter type and a four-byte big-endian length.
MIDI_HEADER = b"MThd"
CHUNK_PREFIX_BYTES = 8  # the type and the length
TRACK_COUNT_BYTES = slice(10, 12)  # in the header chunk, after its format field

# A damaged delta time or a note that never ends can make a file last millions
# of quarter notes, and music21 then fills every bar with tied notes and rests
# until memory runs out. No piece is this long (about 80 minutes at 120 beats
# a minute), so a longer file is skipped as damaged before music21 sees it.
MAX_PIECE_QUARTERS = 10_000


@dataclass
class Piece:
    name: str  # the file name, for messages
    tokens: list[str]  # one token per event, in time order


@dataclass
class Corpus:
    pieces: list[Piece] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (file name, reason)

    @property
    def token_count(self) -> int:
        return sum(len(piece.tokens) for piece in self.pieces)


class UnreadableMidi(Exception):
    """A file that gives no tokens; the message says why, in a few words."""


# --- One score -> events ---------------------------------------------------


def transpose_to_c(score):
    """Transpose a score to C major or A minor by the nearest interval (music21's key analysis)."""
    if not score.pitches:  # drums or silence: no key to find (music21 would raise), nothing to transpose
        return score
    key = score.analyze("key")
    target = pitch.Pitch("C" if key.mode == "major" else "A")
    semitones = (target.pitchClass - key.tonic.pitchClass) % 12
    if semitones > 6:  # go down a fourth rather than up a fifth, and so on
        semitones -= 12
    return score.transpose(interval.Interval(semitones))


def onsets_of(score) -> dict:
    """Start time -> list of (pitch, quarter length, velocity) of every pitched note.

    The original read only `partitionByInstrument(score).parts[0]`, which is
    empty in some files (a first track with only tempo or a drum kit) and
    loses the second hand in others. Here every part is read and merged.
    """
    notes_by_onset: dict = {}
    for part in score.parts:
        # music21 cuts a note held across a barline into tied notes; a listener
        # hears one note, so the ties are joined back into one long note.
        notes = part.flatten()
        notes.stripTies(inPlace=True)
        for element in notes.notes:
            if isinstance(element, note.Note):
                sounding = [element]
            elif isinstance(element, chord.Chord):
                sounding = list(element.notes)
            else:  # Unpitched drums and percussion chords have no pitch to learn
                continue
            for single in sounding:
                velocity = single.volume.velocity or element.volume.velocity or DEFAULT_VELOCITY
                notes_by_onset.setdefault(element.offset, []).append(
                    (single.pitch, float(element.quarterLength), velocity)
                )
    return notes_by_onset


def events_of(score, encoding: dict) -> list[Event]:
    """A parsed score -> its events in time order, spelled as the encoding asks."""
    if encoding["transpose"]:
        score = transpose_to_c(score)
    events = []
    sounding_until = None  # when the last note heard so far stops, in quarters
    for onset, played in sorted(onsets_of(score).items()):
        if encoding["rests"] and sounding_until is not None and onset - sounding_until >= MIN_REST_QUARTERS:
            gap = float(onset - sounding_until)
            events.append(Event(tokens.REST, tokens.length_bin(gap) if encoding["durations"] else None))

        # Two tracks playing the same pitch are heard as one note.
        by_midi_number = {}
        for played_pitch, _, _ in played:
            by_midi_number.setdefault(played_pitch.ps, played_pitch)
        pitches = [by_midi_number[number] for number in sorted(by_midi_number)]
        if len(pitches) == 1:
            sound = pitches[0].nameWithOctave
        else:
            sound = tokens.chord_sound(
                [p.nameWithOctave for p in pitches],
                chord.Chord(pitches).normalOrder,
                encoding["octave_chords"],
            )
        longest = max(length for _, length, _ in played)
        loudest = max(velocity for _, _, velocity in played)  # a chord takes its loudest note's
        events.append(
            Event(
                sound,
                tokens.length_bin(longest) if encoding["durations"] else None,
                tokens.velocity_level(loudest) if encoding["velocities"] else None,
            )
        )
        end = onset + longest
        sounding_until = end if sounding_until is None else max(sounding_until, end)
    return events


def check_midi_layout(file_bytes: bytes) -> None:
    """Raise UnreadableMidi for an empty file, a file that is not MIDI, or one cut short.

    music21 reads a track that was cut off (an interrupted download, say) as
    far as it goes without a word, losing its end. Such a file is skipped
    here instead, with the reason, as is any file whose header is not MIDI's.
    """
    if not file_bytes:
        raise UnreadableMidi("the file is empty")
    if not file_bytes.startswith(MIDI_HEADER) or len(file_bytes) < TRACK_COUNT_BYTES.stop:
        raise UnreadableMidi("it does not start with a MIDI header, so it is not a MIDI file")
    promised_tracks = int.from_bytes(file_bytes[TRACK_COUNT_BYTES], "big")
    position = 0
    for chunk_number in range(1 + promised_tracks):  # the header chunk, then the tracks
        if position + CHUNK_PREFIX_BYTES > len(file_bytes):
            raise UnreadableMidi(f"it is cut short: its header promises {promised_tracks} tracks, "
                                 f"but only {chunk_number - 1} are there")
        length = int.from_bytes(file_bytes[position + 4 : position + CHUNK_PREFIX_BYTES], "big")
        position += CHUNK_PREFIX_BYTES + length
        if position > len(file_bytes):
            chunk = f"track {chunk_number}" if chunk_number else "its header"
            raise UnreadableMidi(f"it is cut short: {chunk} runs past the end of the file")


def one_line(reason: str) -> str:
    """A skip reason as one short line: newlines and runs of spaces collapsed, the tail cut."""
    reason = " ".join(reason.split())
    if len(reason) > MAX_REASON_CHARACTERS:
        reason = reason[: MAX_REASON_CHARACTERS - 3] + "..."
    return reason


def check_midi_length(midi_file: midi.MidiFile) -> None:
    """Raise UnreadableMidi when a file's timing is damaged: no ticks per quarter, or absurdly long."""
    if not midi_file.ticksPerQuarterNote:
        raise UnreadableMidi("its header gives 0 ticks per quarter note, so its timing is damaged")
    longest_track_ticks = max(
        (sum(event.time for event in track.events if isinstance(event, midi.DeltaTime)) for track in midi_file.tracks),
        default=0,
    )
    quarters = longest_track_ticks / midi_file.ticksPerQuarterNote
    if quarters > MAX_PIECE_QUARTERS:
        raise UnreadableMidi(f"it lasts {quarters:,.0f} quarter notes, far longer than any piece, "
                             f"so its timing is damaged")


def parse_midi_file(path: Path, encoding: dict) -> list[str]:
    """One MIDI file -> its tokens. Raises UnreadableMidi when it gives none."""
    file_bytes = Path(path).read_bytes()
    check_midi_layout(file_bytes)
    # The file is read as MIDI whatever its contents, so a text file named
    # .mid is refused instead of being guessed to be some other format.
    midi_file = midi.MidiFile()
    try:
        midi_file.readstr(file_bytes)
    except Exception as error:  # music21 raises many types for malformed files
        raise UnreadableMidi(f"not a readable MIDI file ({type(error).__name__}: {error})") from error
    check_midi_length(midi_file)
    try:
        score = midiFileToStream(midi_file)
    except Exception as error:
        raise UnreadableMidi(f"music21 could not make a score of it ({type(error).__name__}: {error})") from error
    try:
        events = events_of(score, encoding)
    except Exception as error:  # music21's analysis can fail on a strange score, e.g. finding no key
        raise UnreadableMidi(f"music21 could not analyse it ({type(error).__name__}: {error})") from error
    token_list = [tokens.encode(event) for event in events]
    if not token_list:
        raise UnreadableMidi("it has no pitched notes")
    return token_list


# --- A folder -> corpus, with a cache and a process pool --------------------


def midi_files_in(midi_dir: Path) -> list[Path]:
    """The MIDI files directly in a folder, sorted by name; other files are ignored."""
    return sorted(
        (path for path in Path(midi_dir).iterdir() if path.suffix.lower() in MIDI_SUFFIXES and path.is_file()),
        key=lambda path: path.name,
    )


def default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(os.environ.get("CLASSICAL_COMPOSER_CACHE") or Path(base) / "classical-composer")


def cache_key(file_bytes: bytes, encoding: dict) -> str:
    """Same bytes and same encoding settings -> same tokens, whatever the file is called."""
    recipe = json.dumps({"version": CACHE_VERSION, "encoding": encoding}, sort_keys=True).encode()
    return hashlib.sha256(recipe + file_bytes).hexdigest()


def _parse_for_pool(path: Path, encoding: dict) -> tuple[list[str] | None, str | None]:
    """parse_midi_file for a worker process: returns (tokens, None) or (None, reason)."""
    try:
        return parse_midi_file(path, encoding), None
    except UnreadableMidi as error:
        return None, str(error)
    except Exception as error:  # one strange file must never stop the whole run
        return None, f"music21 could not read it ({type(error).__name__}: {error})"


def parse_folder(midi_dir: Path, encoding: dict, cache_dir: Path | None = None, workers: int | None = None) -> Corpus:
    """Every MIDI file in a folder -> a Corpus. Unreadable files are skipped with a warning."""
    from keras.utils import Progbar  # imported here so pool workers never load TensorFlow

    cache_dir = default_cache_dir() if cache_dir is None else Path(cache_dir)
    paths = midi_files_in(midi_dir)
    results: dict[Path, tuple] = {}
    keys = {}
    for path in paths:
        try:
            keys[path] = cache_key(path.read_bytes(), encoding)
        except OSError as error:  # no permission, or removed since the folder was listed
            results[path] = (None, f"it cannot be opened ({error.strerror or error})")
            continue
        cached = cached_outcome(cache_dir / f"{keys[path]}.json")
        if cached is not None:
            results[path] = cached

    to_parse = [path for path in paths if path not in results]  # neither cached nor unopenable
    if to_parse:
        progress = Progbar(len(to_parse), unit_name="file")
        workers = workers or os.cpu_count() or 1
        if workers > 1 and len(to_parse) > 1:
            # "spawn" starts clean workers: forking a process that has already
            # started TensorFlow's threads can deadlock.
            context = multiprocessing.get_context("spawn")
            pool = ProcessPoolExecutor(max_workers=workers, mp_context=context)
            with workers_start_deaf_to_ctrl_c():  # the workers start inside map
                outcomes = pool.map(_parse_for_pool, to_parse, [encoding] * len(to_parse))
            try:
                for path, outcome in zip(to_parse, outcomes):
                    results[path] = outcome
                    progress.add(1)
            finally:
                pool.shutdown(cancel_futures=True)  # after Ctrl-C, files not yet begun are dropped
        else:
            for path in to_parse:
                results[path] = _parse_for_pool(path, encoding)
                progress.add(1)
        _store_in_cache(cache_dir, {keys[path]: results[path] for path in to_parse})

    corpus = Corpus()
    for path in paths:
        token_list, reason = results[path]
        if token_list is None:
            reason = one_line(reason)
            print(f"warning: skipped {path.name}: {reason}", file=sys.stderr)
            corpus.skipped.append((path.name, reason))
        else:
            corpus.pieces.append(Piece(path.name, token_list))
    return corpus


@contextlib.contextmanager
def workers_start_deaf_to_ctrl_c():
    """Processes started inside this block ignore Ctrl-C for life; this process still hears it.

    Otherwise Ctrl-C reaches every worker too, each prints a traceback, and
    the pool can be left broken so that the program hangs on its way out.
    A process keeps the "ignore" it is started with, so the main process
    ignores Ctrl-C only for the moment it takes to start them.
    """
    if threading.current_thread() is not threading.main_thread():  # only it may change signal handlers
        yield
        return
    handler = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, handler)


def cached_outcome(cache_file: Path) -> tuple | None:
    """(tokens, None) or (None, reason) from the cache; None when missing or damaged (parse again)."""
    try:
        entry = json.loads(cache_file.read_text())
    except (OSError, ValueError):
        return None
    return tuple(entry) if isinstance(entry, list) and len(entry) == 2 else None


def _store_in_cache(cache_dir: Path, entries: dict) -> None:
    """Write cache entries atomically; a cache that cannot be written only costs time."""
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
        for key, outcome in entries.items():
            temporary = cache_dir / f"{key}.json.tmp{os.getpid()}"
            temporary.write_text(json.dumps(list(outcome)))
            os.replace(temporary, cache_dir / f"{key}.json")
    except OSError as error:
        print(f"warning: could not write the parse cache in {cache_dir} ({error})", file=sys.stderr)
