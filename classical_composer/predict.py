"""Stage 4 of 4: a trained model -> new token sequences -> a MIDI file.

In:  a Bundle (model, vocabulary, settings, training pieces), sampling choices,
     with --composers the composer to write like, and a random generator.
Out: generated token indices, and a MIDI file written from their tokens.

Generation, as in the original: take a window of `sequence_length` tokens
from the training data, ask the network for the next token's probabilities,
pick one, slide the window one token on (drop the first, append the pick),
and repeat. The window holds token *indices*; `encode_window` turns it into
network input each step, the same way training did.
"""

from pathlib import Path

import keras
import numpy as np
from music21 import chord, instrument, note, stream, tempo

from classical_composer import tokens
from classical_composer.atomic import replaced_atomically
from classical_composer.cli import UserError
from classical_composer.network import inference_copy
from classical_composer.performance import midi_of_performance
from classical_composer.prepare_sequences import encode_window
from classical_composer.settings import Settings

# --- Sampling -----------------------------------------------------------------


def choose_next(probabilities: np.ndarray, top_k: int, temperature: float, random: np.random.Generator) -> int:
    """Pick the next token's class from the network's probabilities.

    top_k = 1 is the original's argmax (no randomness). top_k = K keeps the K
    most likely classes, renormalises and samples; top_k = 0 samples from the
    whole distribution. The temperature reshapes the distribution first:
    below 1 it sharpens, above 1 it flattens.
    """
    if top_k == 1:
        return int(np.argmax(probabilities))
    # Work in log space: p ** (1 / T) of a tiny probability underflows.
    logits = np.log(np.maximum(probabilities.astype(np.float64), 1e-30)) / temperature
    candidates = np.arange(len(logits))
    if 0 < top_k < len(logits):
        # A stable sort, so that ties are broken the same way on every run.
        candidates = np.argsort(-logits, kind="stable")[:top_k]
    weights = np.exp(logits[candidates] - logits[candidates].max())
    return int(random.choice(candidates, p=weights / weights.sum()))


# --- Generation -------------------------------------------------------------


def seed_windows(training_pieces: list, sequence_length: int, count: int, random: np.random.Generator) -> np.ndarray:
    """`count` random windows of training token indices, each inside one piece: (count, time)."""
    long_enough = [piece for piece in training_pieces if len(piece) >= sequence_length]
    if not long_enough:
        raise ValueError(f"no training piece has the {sequence_length} tokens a seed window needs")
    windows = []
    for _ in range(count):
        piece = long_enough[random.integers(len(long_enough))]
        start = random.integers(len(piece) - sequence_length + 1)
        windows.append(piece[start : start + sequence_length])
    return np.stack(windows).astype(np.int32)


def composer_number(bundle, name: str | None) -> int | None:
    """The number of the composer predict.py --composer names; by default the one with most training files.

    None for a bundle trained without --composers (and no name asked for).
    """
    if not bundle.settings.composers:
        if name is not None:
            raise UserError("this bundle was trained without --composers, so it cannot be asked for a composer; "
                            "leave out --composer")
        return None
    if name is None:
        files = np.bincount(bundle.training_composers, minlength=len(bundle.composers))
        return int(np.argmax(files))  # the first of the most common, if several tie
    if name not in bundle.composers:
        known = ", ".join(composer_name(known) for known in bundle.composers)
        raise UserError(f"the bundle knows no composer '{name}'; choose one of: {known}")
    return bundle.composers.index(name)


def composer_name(name: str) -> str:
    """A composer as messages spell it: the files directly in the MIDI folder have no subfolder name."""
    return name or "(the MIDI folder itself)"


def pieces_of_composer(bundle, composer: int | None) -> list:
    """The training pieces to take seed windows from: the composer's own, or all of them."""
    if composer is None:
        return bundle.training_pieces
    return [piece for piece, number in zip(bundle.training_pieces, bundle.training_composers) if number == composer]


def probability_function(model: keras.Model, settings: Settings, vocabulary_size: int):
    """A fast network input -> (batch, vocabulary) function for the generation loop.

    The original called model.predict once per note, which builds a data
    pipeline every call and runs the training graph with its recurrent
    dropout switched off step by step. Here an inference copy without
    recurrent dropout is compiled once with XLA, which runs the window's
    chain of small matrix products as one compiled loop (see docs/benchmark.md).
    """
    import tensorflow as tf  # the compiled path is TensorFlow's; Keras runs on it here

    inference = inference_copy(model)

    @tf.function(jit_compile=True, reduce_retracing=True)
    def next_token_probabilities(network_input):
        return inference(network_input, training=False)

    # A dict of inputs (with --composers) becomes a dict of tensors.
    return lambda network_input: next_token_probabilities(tf.nest.map_structure(tf.constant, network_input)).numpy()


def generate(probabilities_of, start_windows: np.ndarray, num_notes: int, vocabulary_size: int,
             top_k: int = 1, temperature: float = 1.0, random: np.random.Generator | None = None,
             reads_token_indices: bool = False, composer: int | None = None) -> np.ndarray:
    """Compose `num_notes` tokens after each start window, all songs in one batch.

    probabilities_of: network input (see encode_window) -> (batch, vocabulary) probabilities.
    start_windows:    (songs, time) token indices.
    composer:         the composer's number for every song, for a network trained with --composers.
    Returns           (songs, num_notes) token indices.
    """
    random = random or np.random.default_rng()
    windows = np.array(start_windows, dtype=np.int32)  # (songs, time), slides one token per step
    composed = np.zeros((len(windows), num_notes), dtype=np.int32)
    composers = None if composer is None else np.full(len(windows), composer, np.int32)
    for step in range(num_notes):
        network_input = encode_window(windows, vocabulary_size, reads_token_indices, composers)
        probabilities = probabilities_of(network_input)  # (songs, vocabulary)
        for song, song_probabilities in enumerate(probabilities):
            composed[song, step] = choose_next(song_probabilities, top_k, temperature, random)
        # Append the chosen *index*; encode_window makes the whole window's input afresh next step.
        windows = np.concatenate([windows[:, 1:], composed[:, step : step + 1]], axis=1)
    return composed


# --- Tokens -> MIDI -----------------------------------------------------------

DEFAULT_BPM = 120  # the tempo of note tokens, which carry none of their own


def tokens_to_stream(token_list: list[str], instrument_name: str = "Piano", bpm: float = DEFAULT_BPM) -> stream.Stream:
    """Tokens -> a music21 stream, one event after another.

    Without --durations every event lasts exactly STEP_QUARTERS and the next
    starts when it ends. (The original advanced the offset by 0.5 but left
    each note a full quarter long, so consecutive notes overlapped.)
    With --durations an event lasts its bin's written length.
    """
    part = stream.Stream()
    part.insert(0, instrument.fromString(instrument_name))
    part.insert(0, tempo.MetronomeMark(number=bpm))
    offset = 0.0
    for token in token_list:
        event = tokens.decode(token)
        length = tokens.WRITTEN_QUARTERS[event.length] if event.length else tokens.STEP_QUARTERS
        to_play = tokens.pitches_to_play(event.sound)
        if not to_play:
            element = note.Rest(quarterLength=length)
        elif len(to_play) == 1 and isinstance(to_play[0], str):
            element = note.Note(to_play[0], quarterLength=length)
        else:
            # A faithful chord has bare pitch classes: note.Note(7) is G in
            # octave 4, as in the original (a documented limitation;
            # --octave-chords keeps the real octaves).
            element = chord.Chord([note.Note(pitch) for pitch in to_play], quarterLength=length)
        if event.velocity is not None:
            element.volume.velocity = event.velocity
        part.insert(offset, element)
        offset += length
    return part


def write_midi(token_list: list[str], path: Path, instrument_name: str = "Piano", bpm: float | None = None,
               representation: str = "notes") -> None:
    """Write tokens (or performance events) as a MIDI file. The file appears complete or not at all.

    bpm: None is 120 for note tokens, and the events' own tempo for performance events.
    """
    with replaced_atomically(path) as temporary:
        if representation == "events":
            program = instrument.fromString(instrument_name).midiProgram or 0
            Path(temporary).write_bytes(midi_of_performance(token_list, program, bpm))
        else:
            tokens_to_stream(token_list, instrument_name, bpm or DEFAULT_BPM).write("midi", fp=temporary)
