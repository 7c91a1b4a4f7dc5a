"""Reading one MIDI file with care: its bytes -> a music21 MidiFile, or the reason it cannot be used.

In:  the bytes of a file that claims to be MIDI.
Out: a `midi.MidiFile` (`read_midi_bytes`), or `UnreadableMidi` with a
     reason in a few words: empty, not MIDI, cut short, damaged timing.

music21 reads a damaged file as far as it goes, or fills memory with the
bars of a note that never ends, so the layout and the length are checked
before and after it reads. `music21_reading` tells a file's fault (music21
failed on it: skip it, with the reason) from a bug of this project (surface
it). The representations (note_tokens.py, performance.py) read further from
the MidiFile, and corpus.py does all of it for a folder.
"""

import contextlib
import traceback
from pathlib import Path

import music21
from music21 import midi
from music21.exceptions21 import Music21Exception

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


class UnreadableMidi(Exception):
    """A file that gives no tokens; the message says why, in a few words."""


MUSIC21_FOLDER = Path(music21.__file__).parent
PROJECT_FOLDER = Path(__file__).parent


def raised_by_music21(error: Exception) -> bool:
    """Whether music21 raised `error` while reading a file, so that the file is at fault, not this project's code.

    One of music21's own exception types says so. Beyond them music21 raises
    many types for malformed files (IndexError, struct.error, ...), so for
    those where it was raised decides: the innermost frame of music21 or of
    this project (frames of the standard library or numpy between them do not).
    Running out of memory is the machine's fault, never the file's.
    """
    if isinstance(error, MemoryError):
        return False
    if isinstance(error, Music21Exception):
        return True
    for frame in reversed(traceback.extract_tb(error.__traceback__)):
        if Path(frame.filename).is_relative_to(MUSIC21_FOLDER):
            return True
        if Path(frame.filename).is_relative_to(PROJECT_FOLDER):
            return False
    return False


@contextlib.contextmanager
def music21_reading(reason: str):
    """Inside this block, an error music21 raises becomes UnreadableMidi(reason and the error); any other surfaces."""
    try:
        yield
    except Exception as error:
        if not raised_by_music21(error):
            raise  # a bug of this project: to be fixed, not cached as the file's fault
        raise UnreadableMidi(f"{reason} ({type(error).__name__}: {error})") from error


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


def read_midi_bytes(file_bytes: bytes) -> midi.MidiFile:
    """A file's bytes -> music21's MidiFile of it, checked before and after reading; raises UnreadableMidi."""
    check_midi_layout(file_bytes)
    # The file is read as MIDI whatever its contents, so a text file named
    # .mid is refused instead of being guessed to be some other format.
    midi_file = midi.MidiFile()
    with music21_reading("not a readable MIDI file"):
        midi_file.readstr(file_bytes)
    check_midi_length(midi_file)
    return midi_file
