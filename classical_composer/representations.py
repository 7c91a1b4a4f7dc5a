"""Which representation the tokens are in, chosen once from the settings.

In:  the settings (or their `encoding()` dict, as the parse cache keeps it).
Out: the representation object: note_tokens.NoteTokens (one token per onset,
     the original's way) or performance.PerformanceEvents (note on and off,
     waits, volume, tempo, pedal).

Both objects answer the same questions, so no other module asks which
representation it has:

    name                     "notes" or "events", as --representation spells it
    tokens_of_midi(file)     a read MIDI file -> its tokens (or UnreadableMidi)
    check_token(token)       ValueError unless the grammar writes it
    write_midi(tokens, path, instrument, bpm)
                             tokens -> a MIDI file
    quarters_of_pieces(midi_dir, pieces), quarters_of_tokens(tokens)
                             how long the music lasts, in quarter notes
    notes_sounded(tokens)    every note it sounds, (start, end, pitch), and its length
    pitches_struck(token), is_rest(token), onsets(tokens), onset_text(onset), onset_gaps(tokens), report_unit
                             what report.py counts
    nearest_known(token, known), nearest_known_of_each(tokens, known)
                             the known token to play for a primer's unknown one, or
                             for each of --min-count's rare tokens
    transposition_table(vocabulary)
                             with --transpose, how each piece may be shifted while learning, or None
    end_token, sampling_rules(vocabulary, real_pieces, key_rules, limit_note_lengths)
                             what ends a song, and what may come next
"""

from classical_composer.note_tokens import NoteTokens
from classical_composer.performance import PerformanceEvents

REPRESENTATION_CLASSES = {NoteTokens.name: NoteTokens, PerformanceEvents.name: PerformanceEvents}


def representation_of_encoding(encoding: dict):
    """The representation object for Settings.encoding()."""
    return REPRESENTATION_CLASSES[encoding["representation"]](encoding)


def representation_of(settings):
    """The representation object the settings choose (--representation and the note-token flags)."""
    return representation_of_encoding(settings.encoding())
