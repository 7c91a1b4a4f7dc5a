"""The original Classical-Piano-Composer's way of doing things, written on Keras 3.

In:  the same network, tokens and MIDI files the project uses.
Out: what the original computed, the way it computed it, so that the
     benchmark can time it and the tests can check the fast path against it.

Nothing here is used by train.py or predict.py. It is the "before" picture:
  - the network was built from Keras' own LSTM layer, which computes both
    halves of every gate at every step (so is the project's; its optional
    FastLSTM computes the same function with the input half taken out of the
    time loop);
  - generation called `model.predict` on the full window for every note, with
    the training network (recurrent dropout and all);
  - parsing read every file again, one after another, on every run;
  - the training data was every window copied into a float64 array, with
    one-hot float32 targets, fed to `model.fit` in one piece.
"""

import keras
import numpy as np

from classical_composer.network import build_network
from classical_composer.corpus import UnreadableMidi, parse_midi_file
from classical_composer.settings import Settings

# --- Network ---------------------------------------------------------------------


def original_network(settings: Settings, vocabulary_size: int) -> keras.Model:
    """The original's network as the original built it: the project's, which is built of keras.layers.LSTM too."""
    return build_network(settings, vocabulary_size)


# --- Generation --------------------------------------------------------------


def generate_original(model: keras.Model, start_window, num_notes: int, vocabulary_size: int) -> np.ndarray:
    """The original's generation loop: one `model.predict` per note, argmax.

    start_window: (time,) token indices. Returns (num_notes,) token indices.
    """
    pattern = [int(index) for index in start_window]
    composed = []
    for _ in range(num_notes):
        prediction_input = np.reshape(pattern, (1, len(pattern), 1))
        prediction_input = prediction_input / float(vocabulary_size)  # float64, as in the original
        prediction = model.predict(prediction_input, verbose=0)  # (1, vocabulary)
        index = int(np.argmax(prediction))
        composed.append(index)
        pattern.append(index)
        pattern = pattern[1 : len(pattern)]
    return np.array(composed, dtype=np.int32)


# --- Parsing -------------------------------------------------------------------


def parse_one_by_one(paths, encoding: dict) -> int:
    """Every file parsed in this process, one after another, nothing cached; returns the tokens read.

    This calls the project's own parse_midi_file rather than the original's
    code, which read only the first part of each file: both sides then do the
    same musical work, and the difference measured is the cache and the pool.
    """
    token_count = 0
    for path in paths:
        try:
            token_count += len(parse_midi_file(path, encoding))
        except UnreadableMidi:
            pass  # skipped, as parse_folder skips it
    return token_count


# --- Training data ---------------------------------------------------------------


def original_arrays(token_indices, sequence_length: int, vocabulary_size: int) -> tuple[np.ndarray, np.ndarray]:
    """Every window as its own row of a float64 array, and one-hot float32 targets.

    token_indices: (tokens,) ints, all pieces end to end (the original joined them).
    Returns (windows, sequence_length, 1) float64 and (windows, vocabulary) float32.
    """
    network_input, network_output = [], []
    for start in range(len(token_indices) - sequence_length):
        network_input.append(token_indices[start : start + sequence_length])
        network_output.append(token_indices[start + sequence_length])
    network_input = np.reshape(network_input, (len(network_input), sequence_length, 1))
    network_input = network_input / float(vocabulary_size)
    # The original let to_categorical guess the number of classes from the
    # largest target; giving it the vocabulary size keeps the shape right.
    network_output = keras.utils.to_categorical(network_output, num_classes=vocabulary_size)
    return network_input, network_output


def original_array_bytes(token_count: int, sequence_length: int, vocabulary_size: int) -> int:
    """The bytes original_arrays would allocate for this many tokens, without allocating them."""
    window_count = token_count - sequence_length
    float64_bytes, float32_bytes = 8, 4
    return window_count * sequence_length * float64_bytes + window_count * vocabulary_size * float32_bytes


def compile_original_way(model: keras.Model) -> keras.Model:
    """The original's loss: categorical cross-entropy on one-hot targets, RMSprop."""
    model.compile(optimizer=keras.optimizers.RMSprop(), loss="categorical_crossentropy")
    return model
