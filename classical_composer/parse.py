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

import hashlib
import json
import multiprocessing
import os
import sys
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from music21 import chord, converter, interval, note, pitch

from classical_composer import tokens
from classical_composer.tokens import Event

MIDI_SUFFIXES = (".mid", ".midi")

# Gaps shorter than this are articulation (a slightly detached note), not
# silence a listener would call a rest.
MIN_REST_QUARTERS = 0.25

# music21 leaves velocity unset for some notes; MIDI's own "no opinion" value.
DEFAULT_VELOCITY = 64

# Bump when the meaning of tokens changes, so that old cache entries are ignored.
CACHE_VERSION = 1


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


def parse_midi_file(path: Path, encoding: dict) -> list[str]:
    """One MIDI file -> its tokens. Raises UnreadableMidi when it gives none."""
    try:
        # format="midi" stops music21 from guessing the format from the
        # contents, so a text file named .mid is refused instead of read as text.
        score = converter.parse(path, format="midi", forceSource=True)
    except Exception as error:  # music21 raises many types for malformed files
        raise UnreadableMidi(f"not a readable MIDI file ({type(error).__name__}: {error})") from error
    token_list = [tokens.encode(event) for event in events_of(score, encoding)]
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
        keys[path] = cache_key(path.read_bytes(), encoding)
        cached = cache_dir / f"{keys[path]}.json"
        if cached.exists():
            try:
                results[path] = tuple(json.loads(cached.read_text()))
            except (OSError, ValueError):
                pass  # a damaged cache entry is simply parsed again

    to_parse = [path for path in paths if path not in results]
    if to_parse:
        progress = Progbar(len(to_parse), unit_name="file")
        workers = workers or os.cpu_count() or 1
        if workers > 1 and len(to_parse) > 1:
            # "spawn" starts clean workers: forking a process that has already
            # started TensorFlow's threads can deadlock.
            context = multiprocessing.get_context("spawn")
            with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
                outcomes = pool.map(_parse_for_pool, to_parse, [encoding] * len(to_parse))
                for path, outcome in zip(to_parse, outcomes):
                    results[path] = outcome
                    progress.add(1)
        else:
            for path in to_parse:
                results[path] = _parse_for_pool(path, encoding)
                progress.add(1)
        _store_in_cache(cache_dir, {keys[path]: results[path] for path in to_parse})

    corpus = Corpus()
    for path in paths:
        token_list, reason = results[path]
        if token_list is None:
            print(f"warning: skipped {path.name}: {reason}", file=sys.stderr)
            corpus.skipped.append((path.name, reason))
        else:
            corpus.pieces.append(Piece(path.name, token_list))
    return corpus


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
