"""Every setting that shapes the data, the network and its training, in one place.

In:  command-line flags (train.py builds a Settings from them) or the
     "settings" of a bundle's bundle.json (predict.py reads them back).
Out: a frozen `Settings` whose fields the other modules read, and the named
     network sizes: `PRESETS` for the LSTM, `TRANSFORMER_PRESETS` for the transformer.

A setting is written here once. The command-line defaults come from the
dataclass defaults, and the bundle stores `asdict(settings)`, so a model can
never be rebuilt with settings other than the ones it was trained with.
"""

import dataclasses
from dataclasses import dataclass


@dataclass(frozen=True)
class NetworkSize:
    """The sizes that differ between presets; the shape of the network does not."""

    lstm_layers: int  # stacked LSTM layers; all but the last return sequences
    lstm_units: int  # units in each LSTM layer
    dense_units: int  # units in the hidden Dense layer before the output
    dropout: float  # dropout after the last LSTM and after the hidden Dense layer
    recurrent_dropout: float  # dropout on the recurrent state of all but the last LSTM


PRESETS = {
    # The original network: 3 x LSTM(512) -> Dense(256) -> Dense(vocabulary).
    # 16 to 70 training windows a second on a 2-core CPU, by the CPU (docs/benchmark.md).
    "original": NetworkSize(lstm_layers=3, lstm_units=512, dense_units=256, dropout=0.3, recurrent_dropout=0.3),
    # The same shape, small enough to train on midi_songs/ on a 2-core CPU
    # in well under an hour.
    "small": NetworkSize(lstm_layers=2, lstm_units=192, dense_units=128, dropout=0.3, recurrent_dropout=0.3),
    # A toy that trains in seconds: for tests and for trying the flags.
    "tiny": NetworkSize(lstm_layers=2, lstm_units=16, dense_units=16, dropout=0.1, recurrent_dropout=0.1),
}


@dataclass(frozen=True)
class TransformerSize:
    """The sizes of the transformer (transformer.py) that differ between presets."""

    blocks: int  # decoder blocks, each attention then a feed-forward layer
    width: int  # numbers per token throughout: token and position vectors, every block's output
    heads: int  # attention heads per block; each looks at width / heads numbers
    feed_forward_units: int  # units in the hidden layer of each block's feed-forward part
    dropout: float  # dropout after each attention and feed-forward part


TRANSFORMER_PRESETS = {
    # About as many parameters as the original 3 x LSTM(512) network (about 5 million with
    # 350 classes; see docs/transformer.md), in the shape of a small GPT.
    "original": TransformerSize(blocks=6, width=256, heads=8, feed_forward_units=1024, dropout=0.1),
    # About as many parameters as the small LSTM preset: trains on a 2-core CPU.
    "small": TransformerSize(blocks=3, width=128, heads=4, feed_forward_units=512, dropout=0.1),
    # A toy that trains in seconds: for tests and for trying the flags.
    "tiny": TransformerSize(blocks=2, width=16, heads=2, feed_forward_units=32, dropout=0.1),
}
assert TRANSFORMER_PRESETS.keys() == PRESETS.keys(), "--preset names one size of each network"

# How a piece becomes tokens: one token per onset (note_tokens.py, the original's way), or
# performance events (performance.py: note on and off, waits, volume, tempo, pedal).
# representations.py turns the chosen name into the object the pipeline asks.
REPRESENTATIONS = ("notes", "events")
# What --transpose does, by representation: note tokens are written in other keys as the files are
# read (parse.py); performance events are moved while learning, a new interval each epoch (--chunks).
TRANSPOSED_WHILE_READING = {"notes": True, "events": False}
assert TRANSPOSED_WHILE_READING.keys() == set(REPRESENTATIONS)


# The networks train.py can build: network.py's LSTM (the original) or transformer.py's decoder.
MODELS = ("lstm", "transformer")


# Which epoch the bundle keeps, judged on the held-out files (on the training files without them):
# the name of the figure Keras logs, and whether lower or higher is better.
KEEP_BEST = {"loss": "min", "accuracy": "max"}

# The optimizers train.py offers, by name: Keras' own classes.
OPTIMIZERS = {"rmsprop": "RMSprop", "adam": "Adam", "adamw": "AdamW"}


@dataclass(frozen=True)
class Settings:
    """What train.py was asked for. Field comments give the unit and meaning."""

    # --- Encoding: how a piece becomes tokens (see tokens.py for the grammar).
    representation: str = "notes"  # one of REPRESENTATIONS; "events" is performance.py's grammar
    rests: bool = False  # add a "rest" token for time in which nothing sounds
    octave_chords: bool = False  # chords keep each pitch's octave, not just pitch classes
    durations: bool = False  # add the event's length as one of three bins
    velocities: bool = False  # add the event's loudness as one of four levels
    transpose: bool = False  # note tokens: each piece to C major / A minor; events (with chunks): shifted each epoch

    # --- Vocabulary.
    min_count: int = 1  # tokens heard fewer times in all files become the nearest token heard as often; 1 = keep all

    # --- Windows: how tokens become training examples.
    sequence_length: int = 100  # tokens the network reads to predict the next one

    # --- Network.
    model: str = "lstm"  # one of MODELS: the original LSTM network, or a decoder-only transformer
    preset: str = "original"  # a key of PRESETS (the LSTM's sizes) and of TRANSFORMER_PRESETS
    embedding: int = 0  # 0 = the original's one scalar per step; N = a learned N-number vector per token (LSTM only)
    dropout: float | None = None  # None = the preset's; otherwise the share dropped by every dropout of the network
    token_parts: bool = False  # build each token's embedding and output score from its parts (needs embedding)
    composers: bool = False  # the network also reads each piece's composer: its subfolder of the MIDI folder
    mixed_precision: bool = False  # compute in bfloat16; weights, softmax and LSTM cell state stay float32

    # --- Training.
    epochs: int = 200  # passes over the training windows
    batch_size: int = 128  # windows per gradient step
    validation_split: float = 0.1  # share of the *files* held out to judge the model
    patience: int = 0  # stop after this many epochs without improvement; 0 = never
    every_step: bool = False  # learn the next token after every step of a window, not only after its last
    chunks: bool = False  # learn from consecutive chunks of each piece, every target once an epoch (implies every_step)
    optimizer: str = "rmsprop"  # a key of OPTIMIZERS; the original used RMSprop
    learning_rate: float = 0.001  # step size of the optimizer (Keras' default for both)
    learning_rate_decay: float = 1.0  # the step size is multiplied by this after every epoch; 1 = constant
    keep_best: str = "loss"  # a key of KEEP_BEST: which epoch the bundle keeps
    seed: int = 0  # seeds the file split, the shuffling and the initial weights

    def __post_init__(self):
        # Checked on construction, so that settings read back from a bundle are checked too.
        checks = [
            (self.preset in PRESETS, f"unknown preset '{self.preset}'; choose one of {', '.join(sorted(PRESETS))}"),
            (self.optimizer in OPTIMIZERS,
             f"unknown optimizer '{self.optimizer}'; choose one of {', '.join(sorted(OPTIMIZERS))}"),
            (self.min_count >= 1, "--min-count must be 1 (keep every token) or more"),
            (self.sequence_length >= 1, "--sequence-length must be at least 1"),
            (self.epochs >= 1, "--epochs must be at least 1"),
            (self.batch_size >= 1, "--batch-size must be at least 1"),
            (0 <= self.validation_split < 1, "--validation-split must be at least 0 and below 1"),
            (self.patience >= 0, "--patience must be 0 (never stop early) or more"),
            (self.embedding >= 0, "--embedding must be 0 (the original's scalar input) or more"),
            (self.model in MODELS, f"unknown model '{self.model}'; choose one of {', '.join(MODELS)}"),
            (self.representation in REPRESENTATIONS,
             f"unknown representation '{self.representation}'; choose one of {', '.join(REPRESENTATIONS)}"),
            (TRANSPOSED_WHILE_READING.get(self.representation, True) or not self.transpose or self.chunks,
             "--transpose with --representation events moves each piece by a random interval each epoch, "
             "which needs --chunks"),
            (self.representation == "notes" or not self.note_token_flags,
             f"performance events keep every length, loudness and pitch as played, so leave out "
             f"{', '.join(self.note_token_flags)} with --representation events"),
            (self.model != "transformer" or self.embedding == 0,
             "the transformer's token vectors are as wide as its preset says, so leave out --embedding "
             "with --model transformer"),
            (self.reads_token_indices or not self.token_parts,
             "--token-parts builds each token's embedding from its parts, so it needs --embedding N as well"),
            (self.learning_rate > 0, "--learning-rate must be above 0"),
            (0 < self.learning_rate_decay <= 1, "--learning-rate-decay must be above 0 and at most 1"),
            (self.keep_best in KEEP_BEST,
             f"unknown --keep-best '{self.keep_best}'; choose one of {', '.join(KEEP_BEST)}"),
            (self.dropout is None or 0 <= self.dropout < 1, "--dropout must be at least 0 and below 1"),
        ]
        for holds, message in checks:
            if not holds:
                raise ValueError(message)

    @property
    def network_size(self) -> NetworkSize:
        """The LSTM's preset, with --dropout in place of its dropout and recurrent dropout when given."""
        size = PRESETS[self.preset]
        if self.dropout is None:
            return size
        return dataclasses.replace(size, dropout=self.dropout, recurrent_dropout=self.dropout)

    @property
    def transformer_size(self) -> TransformerSize:
        """The transformer's preset, with --dropout in place of its dropout when given."""
        size = TRANSFORMER_PRESETS[self.preset]
        return size if self.dropout is None else dataclasses.replace(size, dropout=self.dropout)

    @property
    def note_token_flags(self) -> list[str]:
        """The flags given that shape note tokens only (tokens.py), as train.py spells them."""
        names = ("rests", "octave_chords", "durations", "velocities", "token_parts")
        return ["--" + name.replace("_", "-") for name in names if getattr(self, name)]

    @property
    def reads_token_indices(self) -> bool:
        """Whether the network reads token indices (an embedding) rather than the original's scalar."""
        return self.embedding > 0 or self.model == "transformer"

    @property
    def predicts_every_step(self) -> bool:
        """Whether the network predicts the next token after every step, (batch, time, vocabulary).

        The transformer always does: it sees every step's prefix at once, so
        training it on one target per window would waste all the others.
        Chunks are learned at every step too: that is what they are for.
        """
        return self.every_step or self.chunks or self.model == "transformer"

    @property
    def carries_state(self) -> bool:
        """Whether generation reads the seed once and then one token a step, carrying the LSTM's state.

        Only an LSTM trained on chunks: it learned to predict from everything
        before a target, not from a window of a fixed length.
        """
        return self.chunks and self.model == "lstm"

    def encoding(self) -> dict:
        """The fields that decide which tokens a MIDI file gives (used as a cache key).

        Performance events are read as played: their --transpose moves pieces while learning, not while reading.
        """
        names = ("representation", "rests", "octave_chords", "durations", "velocities", "transpose")
        encoding = {name: getattr(self, name) for name in names}
        encoding["transpose"] = self.transpose and TRANSPOSED_WHILE_READING[self.representation]
        return encoding

    def as_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> "Settings":
        """Rebuild settings from a bundle, refusing fields this version does not know."""
        known = {field.name for field in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"unknown settings {', '.join(unknown)}")
        return cls(**values)
