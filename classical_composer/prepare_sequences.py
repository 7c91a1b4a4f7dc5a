"""Stage 2 of 4: token sequences -> vocabulary, windows and targets.

In:  the pieces from parse.py (lists of token strings) and the settings.
Out: with --min-count, the pieces with their rare tokens replaced
     (`keep_common_tokens`); a `Vocabulary` (sorted tokens <-> integer
     classes), `Windows` of `sequence_length` token indices each with the
     index that follows as its target (and the composer of its piece), the
     `NetworkInput` that turns them into what the network reads, and
     `WindowBatches` that feed them to Keras; with --chunks, `ChunkBatches` of
     consecutive chunks of each piece.

What the network reads at each step (one scaled number, a token index, the
composer) is `NetworkInput`'s alone to say.
"""

from collections import Counter
from dataclasses import dataclass, replace

import keras
import numpy as np


# --- Vocabulary -------------------------------------------------------------


class Vocabulary:
    """The sorted set of tokens; a token's class is its position in that order."""

    def __init__(self, token_list: list[str]):
        self.tokens = sorted(set(token_list))
        self.index_of = {token: index for index, token in enumerate(self.tokens)}

    @classmethod
    def of_pieces(cls, pieces) -> "Vocabulary":
        return cls([token for piece in pieces for token in piece.tokens])

    def __len__(self) -> int:
        return len(self.tokens)

    def encode(self, token_list: list[str]) -> np.ndarray:
        return np.array([self.index_of[token] for token in token_list], dtype=np.int32)

    def decode(self, indices) -> list[str]:
        return [self.tokens[int(index)] for index in indices]


def keep_common_tokens(pieces: list, min_count: int, nearest_known_of_each) -> tuple[list, int]:
    """The pieces with every token heard fewer than `min_count` times in all of them replaced; and how many were.

    Each rare token becomes the nearest common one, as the representation
    finds it (`nearest_known_of_each(tokens, known)`): a rare chord, the common
    chord nearest to it in sound, length and loudness. With every feature on,
    most classes are heard once or twice, and each costs the network an output
    score (docs/bundle.md); min_count 1 keeps every token, as the original.
    """
    counts = Counter(token for piece in pieces for token in piece.tokens)
    common = sorted(token for token, count in counts.items() if count >= min_count)
    rare = sorted(token for token, count in counts.items() if count < min_count)
    if not rare:
        return pieces, 0
    if not common:
        raise ValueError(f"no token is heard {min_count} times or more")
    nearest = dict(zip(rare, nearest_known_of_each(rare, common)))
    kept = [replace(piece, tokens=[nearest.get(token, token) for token in piece.tokens]) for piece in pieces]
    return kept, sum(counts[token] for token in rare)


# --- Train / validation split ------------------------------------------------


def split_by_file(pieces: list, validation_split: float, seed: int) -> tuple[list, list]:
    """Hold out whole files for validation.

    Neighbouring windows share all but one token, so a split by window would
    put near-copies of the validation windows into the training set. With two
    or more files at least one is held out (when the split is above 0); with
    one file there is nothing to hold out.
    """
    if validation_split <= 0 or len(pieces) < 2:
        return list(pieces), []
    held_out = min(len(pieces) - 1, max(1, round(validation_split * len(pieces))))
    order = np.random.default_rng(seed).permutation(len(pieces))
    validation_rows = set(order[:held_out].tolist())
    training = [piece for row, piece in enumerate(pieces) if row not in validation_rows]
    validation = [piece for row, piece in enumerate(pieces) if row in validation_rows]
    return training, validation


# --- Windows -----------------------------------------------------------------


@dataclass
class Windows:
    """Every window of `sequence_length` tokens that lies inside one piece.

    The pieces are stored once, end to end, in `token_indices`; a window is a
    start position into it. Memory grows with the number of tokens, never with
    tokens x sequence length (the original built every window as a copy).
    """

    token_indices: np.ndarray  # (tokens,) int32: all pieces, end to end
    starts: np.ndarray  # (windows,) int64: where each window begins
    sequence_length: int
    short_pieces: int  # pieces with no window at all (not longer than sequence_length)
    composers: np.ndarray | None = None  # (windows,) int32: the composer of each window's piece, with --composers

    def __len__(self) -> int:
        return len(self.starts)

    def subset(self, window_numbers) -> "Windows":
        """Only the windows numbered, in that order."""
        composers = None if self.composers is None else self.composers[window_numbers]
        return Windows(self.token_indices, self.starts[window_numbers], self.sequence_length, 0, composers)

    def rows(self, window_numbers, every_step: bool = False) -> tuple[np.ndarray, np.ndarray]:
        """Windows and their targets, as token indices: (batch, sequence_length) and (batch,).

        every_step: the target of every step instead, the token after it: (batch, sequence_length).
        """
        # A strided view of every position in the stream: no copy is made here,
        # only when the batch's rows are picked out below.
        all_windows = np.lib.stride_tricks.sliding_window_view(self.token_indices, self.sequence_length + 1)
        picked = all_windows[self.starts[window_numbers]]  # (batch, sequence_length + 1)
        return picked[:, :-1], (picked[:, 1:] if every_step else picked[:, -1])


def make_windows(pieces: list, vocabulary: Vocabulary, sequence_length: int,
                 piece_composers: np.ndarray | None = None) -> Windows:
    """Cut pieces into windows that never run from the end of one piece into the next.

    The original joined all pieces into one list first, so some windows taught
    the network a transition from one piece's last notes to another's first.
    piece_composers: (pieces,) the composer number of each piece, with --composers.
    """
    return windows_of_indices([vocabulary.encode(piece.tokens) for piece in pieces], sequence_length, piece_composers)


def windows_of_indices(index_pieces: list, sequence_length: int, piece_composers: np.ndarray | None = None) -> Windows:
    """make_windows for pieces that are token indices already (as a bundle stores them)."""
    streams, starts, short_pieces, position = [], [], 0, 0
    window_counts = []
    for indices in index_pieces:
        window_count = len(indices) - sequence_length  # the last token is a target, never an input start
        if window_count <= 0:
            short_pieces += 1
        else:
            starts.append(position + np.arange(window_count, dtype=np.int64))
        window_counts.append(max(window_count, 0))
        streams.append(np.asarray(indices, dtype=np.int32))
        position += len(indices)
    composers = None
    if piece_composers is not None:  # each window takes its piece's composer
        composers = np.repeat(np.asarray(piece_composers, dtype=np.int32), window_counts)
    return Windows(
        token_indices=np.concatenate(streams) if streams else np.zeros(0, np.int32),
        starts=np.concatenate(starts) if starts else np.zeros(0, np.int64),
        sequence_length=sequence_length,
        short_pieces=short_pieces,
        composers=composers,
    )


# --- Network input ------------------------------------------------------------

# The names of the network's inputs: what NetworkInput.encode keys its arrays by
# and NetworkInput.keras_inputs names the keras.Input layers, so the two always fit.
SCALED_TOKEN_INDICES = "scaled_token_indices"  # the original: (batch, time, 1) float32, index / vocabulary size
TOKEN_INDICES = "token_indices"  # --embedding and the transformer: (batch, time) int32
COMPOSER_INDICES = "composer_indices"  # --composers: (batch, time) int32, the piece's composer at every step


@dataclass(frozen=True)
class NetworkInput:
    """What the network reads at each step, made from the settings; the one place network input is made.

    The original network reads ONE number a step, the token's index divided
    by the vocabulary size; with --embedding (and the transformer) it reads the
    index itself and looks it up in a learned table; with --composers it also
    reads the piece's composer at every step. Training, validation, evaluation
    and generation all call `encode`, and both network builders take their
    inputs from `keras_inputs`, so the network never sees one thing while
    learning and another while composing.
    """

    vocabulary_size: int
    reads_token_indices: bool = False  # --embedding, or --model transformer
    reads_composer: bool = False  # --composers

    @classmethod
    def of(cls, settings, vocabulary_size: int) -> "NetworkInput":
        return cls(vocabulary_size, settings.reads_token_indices, settings.composers)

    @property
    def token_name(self) -> str:
        return TOKEN_INDICES if self.reads_token_indices else SCALED_TOKEN_INDICES

    def encode(self, index_windows: np.ndarray, composers: np.ndarray | None = None):
        """(batch, time) token indices, and (batch,) composer numbers if the network reads them -> network input.

        The original: (batch, time, 1) float32, index / vocabulary size (the one place its normalisation lives).
        Reading token indices: (batch, time) int32, the indices as they are.
        Reading the composer: a dict of the above and {COMPOSER_INDICES: (batch, time) int32}, keyed by input name.
        Composers given to a network that does not read them are left out.
        """
        index_windows = np.asarray(index_windows)
        if self.reads_token_indices:
            tokens = index_windows.astype(np.int32)
        else:
            tokens = (index_windows.astype(np.float32) / np.float32(self.vocabulary_size))[..., np.newaxis]
        if not self.reads_composer:
            return tokens
        if composers is None:
            raise ValueError("this network reads each window's composer, but none was given")
        every_step = np.broadcast_to(np.asarray(composers, dtype=np.int32)[:, np.newaxis], index_windows.shape)
        return {self.token_name: tokens, COMPOSER_INDICES: np.ascontiguousarray(every_step)}

    def keras_inputs(self, steps: int) -> tuple:
        """keras.Input layers for `encode`'s windows of `steps` tokens: (token input, composer input or None)."""
        if self.reads_token_indices:
            tokens = keras.Input(shape=(steps,), dtype="int32", name=TOKEN_INDICES)  # (batch, time)
        else:
            tokens = keras.Input(shape=(steps, 1), name=SCALED_TOKEN_INDICES)  # (batch, time, 1)
        composers = None
        if self.reads_composer:
            composers = keras.Input(shape=(steps,), dtype="int32", name=COMPOSER_INDICES)
        return tokens, composers

    @staticmethod
    def model_inputs(tokens, composers=None):
        """What keras.Model takes as inputs: the token input alone, or both inputs by name (encode's keys)."""
        return tokens if composers is None else {tokens.name: tokens, COMPOSER_INDICES: composers}


class WindowBatches(keras.utils.PyDataset):
    """Batches of (network input, target class) for model.fit, shuffled each epoch.

    Targets are class numbers (sparse), not one-hot rows: a one-hot target
    costs vocabulary-size floats per window for the same information.

    With every_step (--every-step) the target of each step is the token after
    it, (batch, time), as char-rnn trains; score_last_step then weighs only
    the last step's loss, so that the validation loss scores the same targets
    as without --every-step: the token after each window.
    """

    def __init__(self, windows: Windows, network_input: NetworkInput, batch_size: int, shuffle: bool, seed: int = 0,
                 every_step: bool = False, score_last_step: bool = False):
        super().__init__()
        self.windows = windows
        self.network_input = network_input
        self.every_step, self.score_last_step = every_step, score_last_step
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.random = np.random.default_rng(seed)
        self.order = np.arange(len(windows))
        self.on_epoch_end()

    def __len__(self) -> int:
        return -(-len(self.windows) // self.batch_size)  # the last batch may be smaller

    def __getitem__(self, batch_number: int):
        window_numbers = self.order[batch_number * self.batch_size : (batch_number + 1) * self.batch_size]
        index_windows, targets = self.windows.rows(window_numbers, self.every_step)
        composers = None if self.windows.composers is None else self.windows.composers[window_numbers]
        network_input = self.network_input.encode(index_windows, composers)
        if self.every_step and self.score_last_step:
            weights = np.zeros(targets.shape, np.float32)  # (batch, time)
            weights[:, -1] = 1.0
            return network_input, targets.astype(np.int32), weights
        return network_input, targets.astype(np.int32)

    def on_epoch_end(self) -> None:
        if self.shuffle:
            self.random.shuffle(self.order)


# --- Chunks --------------------------------------------------------------------
#
# Sliding a window one token at a time and learning every step of it computes
# each target sequence_length times an epoch. Chunks cut each piece into
# consecutive stretches instead, as char-rnn and Performance RNN train: every
# target of every piece is learned exactly once an epoch.


def chunk_spans(piece_lengths, chunk_length: int, offsets=None) -> np.ndarray:
    """Where each chunk lies: (chunks, 3) rows of (piece number, first input position, inputs).

    A piece of L tokens has L - 1 targets, the tokens at positions 1 .. L - 1,
    each read after the tokens before it. Its inputs 0 .. L - 2 are cut at
    `offset`, offset + chunk_length, offset + 2 chunk_length, ...; so the
    first chunk is shorter when offset > 0, and so may be the last. Moving the
    offset each epoch moves the cuts, so no token always starts a chunk.
    offsets: (pieces,) in 0 .. chunk_length - 1; all 0 by default.
    """
    rows = []
    for piece, length in enumerate(piece_lengths):
        inputs = int(length) - 1  # the last token is only ever a target
        offset = 0 if offsets is None else int(offsets[piece])
        cuts = list(range(offset, inputs, chunk_length))
        if offset > 0 and inputs > 0:
            cuts.insert(0, 0)
        for start, end in zip(cuts, cuts[1:] + [inputs]):
            rows.append((piece, start, end - start))
    return np.array(rows, dtype=np.int64).reshape(-1, 3)


class ChunkBatches(keras.utils.PyDataset):
    """Batches of chunks for model.fit: (network input, targets, weights), each (batch, chunk_length).

    Each chunk's targets are its inputs moved on by one token. A chunk shorter
    than chunk_length is padded at its end with token 0, and its padding has
    weight 0: the loss counts real targets only, and since both networks look
    only backwards, the padding changes no real target's probabilities.
    With shuffle, the cuts move and the chunks are shuffled each epoch; the
    number of batches stays the same (Keras counts them once), so a batch
    holds about batch_size chunks.
    transpositions: (shifts, vocabulary) token indices, a representation's
    transposition_table: with shuffle, each epoch moves each piece by one of
    its rows, drawn among those that keep every token of the piece in the
    vocabulary (-1 marks a token that would leave it).
    """

    def __init__(self, index_pieces: list, network_input: NetworkInput, chunk_length: int, batch_size: int,
                 shuffle: bool, seed: int = 0, piece_composers: np.ndarray | None = None,
                 transpositions: np.ndarray | None = None):
        super().__init__()
        self.piece_lengths = np.array([len(piece) for piece in index_pieces], dtype=np.int64)
        self.piece_starts = np.concatenate([[0], np.cumsum(self.piece_lengths)[:-1]]).astype(np.int64)
        self.token_indices = (np.concatenate(index_pieces).astype(np.int32) if len(index_pieces)
                              else np.zeros(0, np.int32))
        self.network_input, self.chunk_length = network_input, chunk_length
        self.piece_composers = None if piece_composers is None else np.asarray(piece_composers, np.int32)
        self.shuffle = shuffle
        self.random = np.random.default_rng(seed)
        self.transpositions = transpositions if shuffle else None  # held-out pieces are read as they are
        if self.transpositions is not None:  # (pieces, shifts): the shifts that keep each piece in the vocabulary
            self.piece_can_move = np.stack([np.all(transpositions[:, piece] >= 0, axis=1) for piece in index_pieces])
        fewest = len(chunk_spans(self.piece_lengths, chunk_length))  # cut at 0: no piece has a short first chunk
        most = fewest + int(np.sum(self.piece_lengths > 2)) if shuffle else fewest
        self.batch_count = max(1, min(-(-most // batch_size), fewest))
        self.on_epoch_end()

    def __len__(self) -> int:
        return self.batch_count

    @property
    def target_count(self) -> int:
        """Every target of every piece: the tokens after each piece's first."""
        return int(np.sum(np.maximum(self.piece_lengths - 1, 0)))

    def __getitem__(self, batch_number: int):
        spans = self.spans[self.batches[batch_number]]  # (batch, 3)
        steps = np.arange(self.chunk_length)
        is_real = steps[np.newaxis, :] < spans[:, 2:3]  # (batch, time)
        positions = self.piece_starts[spans[:, 0:1]] + spans[:, 1:2] + steps  # (batch, time) into token_indices
        positions = np.where(is_real, positions, 0)
        inputs = np.where(is_real, self.token_indices[positions], 0)
        targets = np.where(is_real, self.token_indices[np.minimum(positions + 1, len(self.token_indices) - 1)], 0)
        if self.transpositions is not None:  # each chunk moved as its piece is this epoch
            shifts = self.piece_shifts[spans[:, 0:1]]  # (batch, 1)
            inputs, targets = (np.where(is_real, self.transpositions[shifts, tokens], 0) for tokens in (inputs, targets))
        composers = None if self.piece_composers is None else self.piece_composers[spans[:, 0]]
        network_input = self.network_input.encode(inputs, composers)
        return network_input, targets.astype(np.int32), is_real.astype(np.float32)

    def on_epoch_end(self) -> None:
        if self.transpositions is not None:  # a random row among those each piece allows
            self.piece_shifts = np.array([self.random.choice(np.flatnonzero(can)) for can in self.piece_can_move])
        offsets = self.random.integers(self.chunk_length, size=len(self.piece_lengths)) if self.shuffle else None
        self.spans = chunk_spans(self.piece_lengths, self.chunk_length, offsets)
        order = self.random.permutation(len(self.spans)) if self.shuffle else np.arange(len(self.spans))
        self.batches = np.array_split(order, self.batch_count)
