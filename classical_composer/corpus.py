"""Stage 1, for a whole folder: MIDI files -> a Corpus of token lists.

In:  a folder of MIDI files (.mid / .midi, any case), directly in it or in
     one subfolder per composer, and the encoding settings.
Out: a `Corpus`: one `Piece` (path in the folder, token strings, composer) per
     readable file, and the files that were skipped with the reason why.

The representation (representations.py: note tokens or performance events)
turns one read file into tokens. A real collection of files needs three
things around it, and they are here:
1. Each file is checked before and while music21 reads it (midi_files.py), so
   that an empty, cut-short or damaged file is skipped with a one-line reason
   instead of being read as far as it goes or filling memory (`read_midi_bytes`).
   Only a reason about the file is kept: an error of this project's own code
   is a bug, and stops the run instead of being cached as the file's fault.
2. Parsing is slow (music21 builds a full score), so the tokens are cached by
   each file's content and the encoding settings.
3. Files not in the cache are parsed by a pool of processes, one per CPU core.
"""

import contextlib
from collections import Counter
import hashlib
import json
import math
import multiprocessing
import os
import signal
import sys
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from classical_composer.atomic import replaced_atomically
from classical_composer.cli import UserError
from classical_composer.midi_files import UnreadableMidi, music21_reading, read_midi_bytes
from classical_composer.representations import representation_of_encoding

MIDI_SUFFIXES = (".mid", ".midi")

# Bump when the tokens made of a file change, so that old cache entries are ignored.
# (2: files cut short are skipped instead of read as far as they go.
#  3: a note held across a barline is one event, not one per bar.)
CACHE_VERSION = 3

# A skip reason is printed on one line; music21's messages can run to many
# lines or dump raw bytes, so longer reasons are cut to this many characters.
MAX_REASON_CHARACTERS = 160

# Keras's progress bar redraws itself after every file. On a terminal each
# drawing replaces the last; in a log file every one stays, hundreds of them,
# so there a line is printed at each quarter of the files instead.
PROGRESS_LINES_IN_A_LOG = 4


@dataclass
class Piece:
    name: str  # the file's path inside the MIDI folder ("bach/bwv846.mid"), for messages
    tokens: list[str]  # one token per event, in time order
    composer: str = ""  # the subfolder the file is in; "" for a file directly in the MIDI folder


@dataclass
class Corpus:
    pieces: list[Piece] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (file name, reason)

    @property
    def token_count(self) -> int:
        return sum(len(piece.tokens) for piece in self.pieces)

    def files_per_composer(self) -> dict[str, int]:
        """Composer (subfolder name; "" for the folder itself) -> readable files, by name."""
        return dict(sorted(Counter(piece.composer for piece in self.pieces).items()))


def parse_midi_file(path: Path, encoding: dict) -> list[str]:
    """One MIDI file -> its tokens in the encoding's representation. Raises UnreadableMidi when it gives none."""
    midi_file = read_midi_bytes(Path(path).read_bytes())
    return representation_of_encoding(encoding).tokens_of_midi(midi_file)


def one_line(reason: str) -> str:
    """A skip reason as one short line: newlines and runs of spaces collapsed, the tail cut."""
    reason = " ".join(reason.split())
    if len(reason) > MAX_REASON_CHARACTERS:
        reason = reason[: MAX_REASON_CHARACTERS - 3] + "..."
    return reason


# --- The cache: one small JSON file per file and encoding -------------------


def default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(os.environ.get("CLASSICAL_COMPOSER_CACHE") or Path(base) / "classical-composer")


def cache_key(file_bytes: bytes, encoding: dict) -> str:
    """Same bytes and same encoding settings -> same tokens, whatever the file is called."""
    recipe = json.dumps({"version": CACHE_VERSION, "encoding": encoding}, sort_keys=True).encode()
    return hashlib.sha256(recipe + file_bytes).hexdigest()


def cached_outcome(cache_file: Path) -> tuple | None:
    """(tokens, None) or (None, reason) from the cache; None when missing or damaged (parse again)."""
    try:
        entry = json.loads(cache_file.read_text())
    except (OSError, ValueError):
        return None
    if not (isinstance(entry, list) and len(entry) == 2):
        return None
    token_list, reason = entry
    if isinstance(token_list, list) and all(isinstance(token, str) for token in token_list) and reason is None:
        return token_list, None
    if token_list is None and isinstance(reason, str):
        return None, reason
    return None  # the right shape, but not a cache entry's contents: parse again


def _store_in_cache(cache_dir: Path, entries: dict) -> None:
    """Write cache entries atomically; a cache that cannot be written only costs time."""
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
        for key, outcome in entries.items():
            with replaced_atomically(cache_dir / f"{key}.json") as temporary:
                temporary.write_text(json.dumps(list(outcome)))
    except OSError as error:
        print(f"warning: could not write the parse cache in {cache_dir} ({error})", file=sys.stderr)


# --- A folder -> corpus, with the cache and a process pool ------------------


def check_midi_folder(midi_dir: Path) -> None:
    """Refuse a --midi-dir that is not a folder, in one sentence."""
    if not Path(midi_dir).is_dir():
        problem = "is a file, not a folder" if Path(midi_dir).exists() else "does not exist"
        raise UserError(f"the MIDI folder {midi_dir} {problem}; point --midi-dir at a folder of .mid files")


def midi_files_in(midi_dir: Path) -> list[Path]:
    """The MIDI files in a folder and in its subfolders, sorted by their path inside it; other files are ignored.

    Each subfolder holds one composer's files (midi_songs/bach/..., midi_songs/palestrina/...),
    as each subfolder holds one class for keras.utils.image_dataset_from_directory.
    """
    midi_dir = Path(midi_dir)
    return sorted(
        (path for path in midi_dir.rglob("*") if path.suffix.lower() in MIDI_SUFFIXES and path.is_file()),
        key=lambda path: path.relative_to(midi_dir).as_posix(),
    )


def composer_of(path: Path, midi_dir: Path) -> str:
    """The subfolder of the MIDI folder that a file is in, its composer; "" for a file directly in the folder."""
    inside = Path(path).relative_to(midi_dir).parts
    return inside[0] if len(inside) > 1 else ""


def _parse_for_pool(path: Path, encoding: dict) -> tuple[list[str] | None, str | None]:
    """parse_midi_file for a worker process: returns (tokens, None) or (None, reason).

    Only a fault of the file is a reason to skip (and cache): any other error
    is a bug of this project or a machine out of memory, and stops the run.
    """
    try:
        with music21_reading("music21 could not read it"):  # a failure of music21's that parse did not foresee
            return parse_midi_file(path, encoding), None
    except UnreadableMidi as error:
        return None, str(error)


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


def progress_printer(files: int):
    """A function to call with the number of files parsed so far: a bar on a terminal, a few lines elsewhere."""
    if sys.stdout.isatty():
        from keras.utils import Progbar  # imported here so pool workers never load TensorFlow

        return Progbar(files, unit_name="file").update
    started = time.monotonic()
    milestones = {math.ceil(files * line / PROGRESS_LINES_IN_A_LOG) for line in range(1, PROGRESS_LINES_IN_A_LOG + 1)}

    def print_milestone(done: int) -> None:
        if done in milestones:
            print(f"parsing: {done}/{files} files, {time.monotonic() - started:.0f} s", flush=True)

    return print_milestone


def parse_folder(midi_dir: Path, encoding: dict, cache_dir: Path | None = None, workers: int | None = None) -> Corpus:
    """Every MIDI file in a folder -> a Corpus. Unreadable files are skipped with a warning."""
    cache_dir = default_cache_dir() if cache_dir is None else Path(cache_dir)
    midi_dir = Path(midi_dir)
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
        show_progress = progress_printer(len(to_parse))
        workers = workers or os.cpu_count() or 1
        if workers > 1 and len(to_parse) > 1:
            # "spawn" starts clean workers: forking a process that has already
            # started TensorFlow's threads can deadlock.
            context = multiprocessing.get_context("spawn")
            pool = ProcessPoolExecutor(max_workers=workers, mp_context=context)
            with workers_start_deaf_to_ctrl_c():  # the workers start inside map
                outcomes = pool.map(_parse_for_pool, to_parse, [encoding] * len(to_parse))
            try:
                for done, (path, outcome) in enumerate(zip(to_parse, outcomes), start=1):
                    results[path] = outcome
                    show_progress(done)
            finally:
                pool.shutdown(cancel_futures=True)  # after Ctrl-C, files not yet begun are dropped
        else:
            for done, path in enumerate(to_parse, start=1):
                results[path] = _parse_for_pool(path, encoding)
                show_progress(done)
        _store_in_cache(cache_dir, {keys[path]: results[path] for path in to_parse})

    corpus = Corpus()
    for path in paths:
        token_list, reason = results[path]
        name = path.relative_to(midi_dir).as_posix()
        if token_list is None:
            reason = one_line(reason)
            print(f"warning: skipped {name}: {reason}", file=sys.stderr)
            corpus.skipped.append((name, reason))
        else:
            corpus.pieces.append(Piece(name, token_list, composer_of(path, midi_dir)))
    return corpus
