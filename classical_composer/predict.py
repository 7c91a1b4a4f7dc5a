"""Stage 4 of 4: a trained model -> new token sequences -> a MIDI file.

In:  a Bundle (model, vocabulary, settings, training pieces), sampling choices,
     with --composers the composer to write like, and a random generator.
Out: generated token indices, and a MIDI file written from their tokens.

Generation, as in the original: take a window of `sequence_length` tokens
from the training data, ask the network for the next token's probabilities,
pick one, slide the window one token on (drop the first, append the pick),
and repeat (`WindowRereader`). The window holds token *indices*;
`NetworkInput.encode` turns it into network input each step, the same way training did.

An LSTM trained on chunks (--chunks) learned to predict from everything
before a target, so it composes as recurrent language models sample: it reads
the seed window once, then one token a step, its state carried from step to
step (`StateCarrier`); nothing it has played ever leaves its memory, and each
token costs one step instead of a window. Songs of performance events end at
"End", and none of their notes sounds longer than 999 in 1000 of the composer's
real ones (`song_rules`).
"""

from pathlib import Path

import keras
import numpy as np

from classical_composer.atomic import replaced_atomically
from classical_composer.cli import UserError
from classical_composer.network import (
    any_length_copy, compiled_function, copy_lstm_states, inference_copy, last_step, reset_lstm_states,
)
from classical_composer.prepare_sequences import NetworkInput

# XLA fuses a step of the network into one compiled loop, many times faster for the small and original
# presets, but compiling costs about a second; a smaller network steps in a millisecond or two without it,
# so a song would have to be hundreds of notes long to repay the compiling (docs/benchmark.md).
XLA_FROM_WEIGHTS = 200_000

# --- Sampling -----------------------------------------------------------------


def choose_next(probabilities: np.ndarray, top_k: int, temperature: float, random: np.random.Generator,
                allowed: np.ndarray | None = None) -> int:
    """Pick the next token's class from the network's probabilities.

    top_k = 1 is the original's argmax (no randomness). top_k = K keeps the K
    most likely classes, renormalises and samples; top_k = 0 samples from the
    whole distribution. The temperature reshapes the distribution first:
    below 1 it sharpens, above 1 it flattens. allowed: (vocabulary,) bool,
    the classes that may be chosen at all; by default every one.
    """
    if allowed is not None:
        probabilities = np.where(allowed, probabilities, -1.0)  # below every probability: never among the top k
    if top_k == 1:
        return int(np.argmax(probabilities))
    # Work in log space: p ** (1 / T) of a tiny probability underflows.
    logits = np.log(np.maximum(probabilities.astype(np.float64), 1e-30)) / temperature
    if allowed is not None:
        logits[~allowed] = -np.inf
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


def probability_function(model: keras.Model):
    """A fast network input -> (batch, vocabulary) function for the generation loop.

    The original called model.predict once per note, which builds a data
    pipeline every call and runs the training graph with its recurrent
    dropout switched off step by step. Here an inference copy without
    recurrent dropout is compiled once, with XLA if it is large enough to repay
    that, which runs the window's chain of small matrix products as one compiled
    loop (see docs/benchmark.md).
    """
    return compiled_last_step(inference_copy(model))


class WindowRereader:
    """The original's generation: re-read the whole window at every step, the chosen token appended, the first dropped.

    probabilities_of: probability_function's result. The window holds token
    *indices*; network_input makes the whole window's input afresh each step.
    """

    def __init__(self, probabilities_of, network_input: NetworkInput, composer: int | None = None):
        self.probabilities_of, self.network_input, self.composer = probabilities_of, network_input, composer

    def start(self, windows: np.ndarray) -> np.ndarray:
        """(songs, time) seed windows -> (songs, vocabulary) probabilities of the first new token."""
        self.windows = np.array(windows, dtype=np.int32)
        self.composers = None if self.composer is None else np.full(len(self.windows), self.composer, np.int32)
        return self.read()

    def after(self, chosen: np.ndarray) -> np.ndarray:
        """(songs,) chosen token indices -> (songs, vocabulary) probabilities of the next."""
        self.windows = np.concatenate([self.windows[:, 1:], chosen[:, np.newaxis]], axis=1)
        return self.read()

    def read(self) -> np.ndarray:
        return self.probabilities_of(self.network_input.encode(self.windows, self.composers))


class StateCarrier:
    """Generation for an LSTM trained on chunks: read the seed once, then one token a step, carrying the LSTM's state.

    Each new token costs one step of the network instead of a whole window's,
    and nothing is forgotten when it leaves a window: the state holds all the
    song so far. The probabilities are those of reading the whole song from the
    start (tests/test_chunks.py checks this). Two stateful copies of the
    network share the work: one reads the seed window at once and hands its
    state to one that takes a single unrolled step a call, the cheaper call.
    """

    def __init__(self, model: keras.Model, network_input: NetworkInput, songs: int, composer: int | None = None):
        self.seed_reader = any_length_copy(model, batch_size=songs, carries_state=True)
        self.stepper = any_length_copy(model, batch_size=songs, carries_state=True, steps=1)
        self.read_seed, self.read_step = compiled_last_step(self.seed_reader), compiled_last_step(self.stepper)
        self.network_input = network_input
        self.composers = None if composer is None else np.full(songs, composer, np.int32)  # the same every step

    def start(self, windows: np.ndarray) -> np.ndarray:
        """(songs, time) seed windows, read once -> (songs, vocabulary) probabilities of the first new token."""
        reset_lstm_states(self.seed_reader)
        probabilities = self.read_seed(self.encode(np.asarray(windows, dtype=np.int32)))
        copy_lstm_states(self.seed_reader, self.stepper)
        return probabilities

    def after(self, chosen: np.ndarray) -> np.ndarray:
        """(songs,) chosen token indices, one step -> (songs, vocabulary) probabilities of the next."""
        return self.read_step(self.encode(chosen[:, np.newaxis].astype(np.int32)))

    def encode(self, steps: np.ndarray):
        return self.network_input.encode(steps, self.composers)


def compiled_last_step(model: keras.Model):
    """network input -> (batch, vocabulary) probabilities after its last step, compiled once (XLA_FROM_WEIGHTS)."""
    return compiled_function(last_step(model), jit_compile=model.count_params() >= XLA_FROM_WEIGHTS)


def next_token_reader(bundle, songs: int, composer: int | None = None):
    """How a bundle's network is asked for each next token: carrying its state, or re-reading a window."""
    network_input = NetworkInput.of(bundle.settings, len(bundle.vocabulary))
    if bundle.settings.carries_state:
        return StateCarrier(bundle.model, network_input, songs, composer)
    return WindowRereader(probability_function(bundle.model), network_input, composer)


def compose(reader, start_windows: np.ndarray, num_notes: int, top_k: int = 1, temperature: float = 1.0,
            random: np.random.Generator | None = None, end_index: int | None = None, rules=None) -> list[np.ndarray]:
    """Compose up to `num_notes` tokens after each start window, all songs in one batch.

    reader:     WindowRereader or StateCarrier (see next_token_reader).
    end_index:  the token that ends a song (performance events' "End"); a song stops after it.
    rules:      what may come next (performance.SoundingNotes), or None for anything.
    Returns     one array of token indices per song, num_notes long unless it ended.
    """
    random = random or np.random.default_rng()
    songs = len(start_windows)
    composed = np.zeros((songs, num_notes), dtype=np.int32)
    lengths = np.full(songs, num_notes)
    probabilities = reader.start(start_windows)  # (songs, vocabulary)
    if rules is not None:
        rules.start(start_windows)
    for step in range(num_notes):
        allowed = None if rules is None else rules.allowed()  # (songs, vocabulary) bool
        for song in np.flatnonzero(lengths > step):
            composed[song, step] = choose_next(probabilities[song], top_k, temperature, random,
                                               None if allowed is None else allowed[song])
            if composed[song, step] == end_index:
                lengths[song] = step + 1
        if step + 1 == num_notes or not np.any(lengths > step + 1):
            break
        if rules is not None:
            rules.after(composed[:, step])
        probabilities = reader.after(composed[:, step])
    return [song[:length] for song, length in zip(composed, lengths)]


def generate(probabilities_of, network_input: NetworkInput, start_windows: np.ndarray, num_notes: int,
             top_k: int = 1, temperature: float = 1.0, random: np.random.Generator | None = None,
             composer: int | None = None) -> np.ndarray:
    """Compose `num_notes` tokens after each start window by re-reading the window, as the original does.

    probabilities_of: network input (network_input.encode's) -> (batch, vocabulary) probabilities.
    start_windows:    (songs, time) token indices.
    composer:         the composer's number for every song, for a network trained with --composers.
    Returns           (songs, num_notes) token indices.
    """
    reader = WindowRereader(probabilities_of, network_input, composer)
    return np.stack(compose(reader, start_windows, num_notes, top_k, temperature, random))


def song_rules(bundle, composer: int | None = None, key_rules: bool = False,
               limit_note_lengths: bool = True) -> tuple[int | None, object]:
    """What ends a song and what may come next, by the bundle's representation: (end index or None, rules or None).

    The rules are the representation's `sampling_rules`, drawn from the
    composer's training pieces (all of them without a composer); predict.py
    limits the notes' lengths and leaves the key rules out (docs/chunks.md).
    """
    end_index = bundle.vocabulary.index_of.get(bundle.representation.end_token)  # None for a grammar without an end
    rules = bundle.representation.sampling_rules(bundle.vocabulary.tokens, pieces_of_composer(bundle, composer),
                                                 key_rules, limit_note_lengths)
    return end_index, rules


def compose_for_bundle(bundle, start_windows: np.ndarray, num_notes: int, top_k: int = 1, temperature: float = 1.0,
                       random: np.random.Generator | None = None, composer: int | None = None,
                       ending: tuple | None = None) -> list[np.ndarray]:
    """compose, asking the bundle's network as it was trained to be asked.

    ending: song_rules' (end index, rules); None for the bundle's song_rules with predict.py's defaults.
    """
    reader = next_token_reader(bundle, len(start_windows), composer)
    end_index, rules = ending or song_rules(bundle, composer)
    return compose(reader, start_windows, num_notes, top_k, temperature, random, end_index, rules)


def compose_songs(bundle, composer: int | None, num_songs: int, num_notes: int, top_k: int = 1,
                  temperature: float = 1.0, seed: int | None = None,
                  ending: tuple | None = None) -> tuple[np.ndarray, list[np.ndarray]]:
    """What predict.py composes with these choices and no --prime: (seed windows, each song's token indices).

    The same bundle, choices and seed give the same songs as predict.py --seed writes.
    """
    random = np.random.default_rng(seed)
    starts = seed_windows(pieces_of_composer(bundle, composer), bundle.settings.sequence_length, num_songs, random)
    return starts, compose_for_bundle(bundle, starts, num_notes, top_k, temperature, random, composer, ending)


# --- Tokens -> MIDI -----------------------------------------------------------


def write_midi(token_list: list[str], path: Path, representation, instrument_name: str = "Piano",
               bpm: float | None = None) -> None:
    """Write tokens as a MIDI file, as their representation plays them. The file appears complete or not at all.

    bpm: None is the representation's own (120 for note tokens, the events' own tempo for performance events).
    """
    with replaced_atomically(path) as temporary:
        representation.write_midi(token_list, temporary, instrument_name, bpm)
