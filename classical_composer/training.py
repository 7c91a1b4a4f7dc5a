"""The training run: the four stages put together, with a bundle kept up to date.

In:  settings, a folder of MIDI files, a bundle folder, whether to resume, and
     optionally a tf.distribute strategy (train.py --distribute).
Out: the bundle folder, holding the best model so far after every epoch.

    parse_folder -> split_by_file -> Vocabulary -> make_windows -> build_network -> fit -> evaluate

The original wrote a new weights file for every improvement of the *training*
loss. Here one bundle holds the best model, judged on the validation loss
(with --keep-best accuracy, the validation top-1 accuracy) when validation
files exist. After every epoch the full training state (model with optimizer)
is also kept, so `--resume` can carry on after an interruption, and
training.png is redrawn: the losses so far beside the count models' (see
evaluate.py), so that a run shows at a glance whether it beats counting.
"""

import contextlib
import hashlib
import json
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import keras
import numpy as np

from classical_composer.bundle import (
    FORMAT_NAME, FORMAT_VERSION, POINTER_FILE, RESUME_FILE, load_bundle, load_model_checked, read_pointer,
    remove_unreferenced_files, save_bundle, save_model_file, write_json_atomically,
)
from classical_composer.cli import UserError
from classical_composer.corpus import check_midi_folder, parse_folder
from classical_composer.evaluate import (
    count_model_figures, default_first_target, evaluate, format_comparison, quarters_of_music,
)
from classical_composer.network import build_network, fast_lstm_pays
from classical_composer.plot import plot_training
from classical_composer.prepare_sequences import (
    ChunkBatches, Vocabulary, WindowBatches, Windows, make_windows, split_by_file,
)
from classical_composer.settings import KEEP_BEST, Settings
from classical_composer.token_parts import token_parts

TRAINING_PICTURE = "training.png"
# Settings added after --resume existed, with their defaults; see data_fingerprint.
SETTINGS_ADDED_LATER = {"model": "lstm", "dropout": None, "keep_best": "loss", "representation": "notes",
                        "composers": False, "chunks": False}
STATISTICS_WINDOWS = 2048  # training windows that batch-norm statistics are measured on after each epoch
STATISTICS_BATCH_SIZE = 512  # windows per forward pass while measuring them: fewer, larger passes are faster
STATISTICS_CHUNK_TOKENS = 65536  # with --chunks, tokens instead (2048 windows of 32): long windows need fewer


def data_fingerprint(settings: Settings, training_pieces: list, validation_pieces: list) -> str:
    """A hash of what must not change for --resume: the pieces, their split, and all settings but the epochs."""
    recipe = {name: value for name, value in settings.as_dict().items() if name not in ("epochs", "patience")}
    for name, default in SETTINGS_ADDED_LATER.items():
        if recipe[name] == default:
            del recipe[name]  # so that runs interrupted before the setting existed still resume
    digest = hashlib.sha256(json.dumps(recipe, sort_keys=True).encode())
    for group in (training_pieces, validation_pieces):
        digest.update(json.dumps([[piece.name, piece.tokens] for piece in group]).encode())
    return digest.hexdigest()


class RefreshBatchNormStatistics(keras.callbacks.Callback):
    """After each epoch's last gradient step: batch-norm statistics of the weights as they are now.

    Batch normalization uses each batch's own mean and variance in training,
    and a moving average of them everywhere else (validation, generation).
    That average trails the weights by about a hundred batches; after the
    LSTM of this network, whose outputs vary very little, the trailing
    average is far enough off to ruin the validation loss and the music
    (see docs/experiments.md). So once the epoch's weights are final, the
    statistics are measured afresh on a fixed sample of training windows,
    one batch-norm layer after the other. Training itself never reads them.
    """

    def __init__(self, sample_batches: WindowBatches):
        super().__init__()
        self.sample_batches = sample_batches

    def on_train_batch_end(self, batch: int, logs=None) -> None:
        if batch == self.params["steps"] - 1:
            self.refresh()

    def refresh(self) -> None:
        for layer in self.model.layers:
            if isinstance(layer, keras.layers.BatchNormalization):
                # What reaches this layer, with every earlier one already refreshed.
                reaching = keras.Model(self.model.input, layer.input)
                values = np.concatenate([
                    keras.ops.convert_to_numpy(reaching(self.sample_batches[number][0], training=False))
                    for number in range(len(self.sample_batches))
                ]).astype(np.float64)
                values = values.reshape(-1, values.shape[-1])  # (windows [x steps], features)
                layer.moving_mean.assign(values.mean(axis=0))
                layer.moving_variance.assign(values.var(axis=0))


def statistics_sample(windows: Windows, vocabulary_size: int, settings: Settings) -> WindowBatches:
    """A fixed, evenly spread sample of training windows for RefreshBatchNormStatistics."""
    wanted = max(1, STATISTICS_CHUNK_TOKENS // settings.sequence_length) if settings.chunks else STATISTICS_WINDOWS
    count = min(len(windows), wanted)
    picked = np.linspace(0, len(windows) - 1, count).astype(np.int64)
    return WindowBatches(windows.subset(picked), vocabulary_size, STATISTICS_BATCH_SIZE, shuffle=False,
                         reads_token_indices=settings.reads_token_indices)


class KeepBundle(keras.callbacks.Callback):
    """After each epoch: save the bundle if the model improved, and always save the resume state."""

    def __init__(self, out: Path, settings: Settings, vocabulary: Vocabulary, training_indices: list,
                 validation_indices: list, monitor: str, summary: dict, fingerprint: str, history: dict,
                 best: float, composers: "Composers"):
        super().__init__()
        self.out, self.settings, self.vocabulary = out, settings, vocabulary
        self.training_indices, self.validation_indices = training_indices, validation_indices
        self.composers = composers
        self.monitor, self.summary, self.fingerprint = monitor, summary, fingerprint
        self.history, self.best = history, best

    def on_epoch_begin(self, epoch: int, logs=None) -> None:
        self.epoch_started = time.perf_counter()

    def on_epoch_end(self, epoch: int, logs=None) -> None:
        logs = {**(logs or {}), "seconds": time.perf_counter() - self.epoch_started}  # before saving
        for name, value in logs.items():
            self.history.setdefault(name, []).append(float(value))
        current = float(logs[self.monitor])
        # `best` is kept as a figure to minimise: an accuracy is stored negated.
        to_minimise = -current if self.monitor.endswith("accuracy") else current
        if to_minimise < self.best:
            self.best = to_minimise
            training = {**self.summary, "best_epoch": epoch + 1, "monitor": self.monitor,
                        **{name: float(value) for name, value in logs.items()}}
            save_bundle(self.out, self.settings, self.vocabulary, self.model, self.training_indices, training,
                        self.validation_indices, self.composers.names, self.composers.training,
                        self.composers.validation)
            print(f"epoch {epoch + 1}: {self.monitor} improved to {current:.4f}; bundle saved in {self.out}")
        resume_state = {
            "format": FORMAT_NAME, "format_version": FORMAT_VERSION,
            "model_file": save_model_file(self.out, self.model, prefix="resume"),
            "epochs_done": epoch + 1, "best": self.best, "fingerprint": self.fingerprint, "history": self.history,
        }
        write_json_atomically(self.out / RESUME_FILE, resume_state)
        remove_unreferenced_files(self.out)
        kept_epoch = read_pointer(self.out)["training"]["best_epoch"] if (self.out / POINTER_FILE).is_file() else None
        plot_training(self.history, self.summary.get("count_models", {}), self.out / TRAINING_PICTURE, kept_epoch)


@dataclass
class Composers:
    """The composers of a corpus, sorted by name ("" for the MIDI folder itself), and each piece's number."""

    names: list[str]
    training: np.ndarray  # (training pieces,) int32
    validation: np.ndarray  # (validation pieces,) int32

    @classmethod
    def of(cls, corpus, training_pieces: list, validation_pieces: list) -> "Composers":
        names = list(corpus.files_per_composer())
        number = {name: position for position, name in enumerate(names)}
        return cls(names, *(np.array([number[piece.composer] for piece in pieces], dtype=np.int32)
                            for pieces in (training_pieces, validation_pieces)))


def composers_if_read(settings: Settings, piece_composers: np.ndarray) -> np.ndarray | None:
    """Each piece's composer number when the network reads it (--composers), else None."""
    return piece_composers if settings.composers else None


def describe(corpus, training_pieces, validation_pieces, vocabulary, train_windows, validation_windows) -> dict:
    """The numbers worth printing and keeping in the bundle."""
    return {
        "files_read": len(corpus.pieces), "files_skipped": len(corpus.skipped), "tokens": corpus.token_count,
        "files_per_composer": corpus.files_per_composer(),
        "classes": len(vocabulary),
        "training_files": len(training_pieces), "training_tokens": len(train_windows.token_indices),
        "training_windows": len(train_windows),
        "validation_files": [piece.name for piece in validation_pieces], "validation_windows": len(validation_windows),
        "pieces_shorter_than_window": train_windows.short_pieces + validation_windows.short_pieces,
    }


def check_out_folder(out: Path) -> None:
    """Refuse an --out that can never hold a bundle now, not after the slow parse and the first epoch."""
    if out.exists() and not out.is_dir():
        raise UserError(f"--out {out} is a file, but a bundle is a folder; choose another path")
    nearest = next(folder for folder in (out, *out.parents) if folder.exists())  # the folder to create it in
    if not nearest.is_dir():
        raise UserError(f"cannot make the bundle folder {out}, because {nearest} is a file; choose another --out")
    if not os.access(nearest, os.W_OK | os.X_OK):
        raise UserError(f"cannot write the bundle folder {out}, because {nearest} is not writable; choose another --out")
    from classical_composer.bundle import files_not_written_here

    # Training into a bundle (or an interrupted run) replaces it; a folder of other things is left alone.
    if out.is_dir() and not (out / POINTER_FILE).exists() and not (out / RESUME_FILE).exists():
        others = files_not_written_here(out)
        if others:
            listed = ", ".join(others[:3]) + (", ..." if len(others) > 3 else "")
            raise UserError(f"--out {out} holds no bundle but other files ({listed}); choose a new or empty folder "
                            f"for the bundle")


def training_batches(windows: Windows, index_pieces: list, piece_composers: np.ndarray | None, vocabulary_size: int,
                     settings: Settings, first_epoch: int = 0):
    """Shuffled training batches; resumed at `first_epoch`, they come in the order an uninterrupted run's would.

    Windows slid one token at a time (the original), or with --chunks consecutive chunks of each piece.
    """
    if settings.chunks:
        batches = ChunkBatches(index_pieces, vocabulary_size, settings.sequence_length, settings.batch_size,
                               shuffle=True, seed=settings.seed, reads_token_indices=settings.reads_token_indices,
                               piece_composers=piece_composers)
    else:
        batches = WindowBatches(windows, vocabulary_size, settings.batch_size, shuffle=True, seed=settings.seed,
                                reads_token_indices=settings.reads_token_indices,
                                every_step=settings.predicts_every_step)
    for _ in range(first_epoch):  # Keras shuffles them once more after every epoch
        batches.on_epoch_end()
    return batches


def validation_batches(windows: Windows, index_pieces: list, piece_composers: np.ndarray | None,
                       vocabulary_size: int, settings: Settings):
    """Held-out batches: with --chunks every held-out target once; otherwise the token after each window."""
    if settings.chunks:
        return ChunkBatches(index_pieces, vocabulary_size, settings.sequence_length, settings.batch_size,
                            shuffle=False, reads_token_indices=settings.reads_token_indices,
                            piece_composers=piece_composers)
    return WindowBatches(windows, vocabulary_size, settings.batch_size, shuffle=False,
                         reads_token_indices=settings.reads_token_indices,
                         every_step=settings.predicts_every_step, score_last_step=True)


def distribution_strategy(devices: list[str] | None = None):
    """Data-parallel training over `devices` (default: every GPU), or None, after one line, when there is no GPU.

    MirroredStrategy keeps a copy of the weights on each device, gives each
    its share of every batch and adds up their gradients; the bundle it
    writes is the same as a one-device run's.
    """
    import tensorflow as tf  # tf.distribute is TensorFlow's; Keras runs on it here

    if devices is None and not tf.config.list_physical_devices("GPU"):
        print("--distribute: no GPU found, training on one device (CPU)")
        return None
    return tf.distribute.MirroredStrategy(devices)


def train(settings: Settings, midi_dir: Path, out: Path, resume: bool = False, command: str = "",
          strategy=None, tensorboard: Path | None = None) -> dict:
    """Run training from MIDI files to a bundle; return the training history.

    strategy:    a tf.distribute strategy (see distribution_strategy) to build and train the network under;
                 None trains on one device.
    tensorboard: a folder for Keras' TensorBoard logs, or None.
    """
    midi_dir, out = Path(midi_dir), Path(out)
    check_midi_folder(midi_dir)
    check_out_folder(out)
    if resume and not (out / RESUME_FILE).is_file():
        raise UserError(f"there is no interrupted run to resume in {out}; start one without --resume")

    # --- Data ------------------------------------------------------------------
    corpus = parse_folder(midi_dir, settings.encoding())
    if not corpus.pieces:
        raise UserError(f"no usable MIDI file in {midi_dir} (files skipped: {len(corpus.skipped)}); "
                        f"put .mid or .midi files with notes there")
    print(f"parsed {len(corpus.pieces)} files ({len(corpus.skipped)} skipped), {corpus.token_count} tokens")
    composers = corpus.files_per_composer()
    if list(composers) != [""]:  # some files are in subfolders: say how many each composer has
        print("files per composer: " + ", ".join(f"{name or '(the folder itself)'} {count}"
                                                 for name, count in composers.items()))
    if settings.composers and len(composers) < 2:
        raise UserError(f"--composers learns one style per subfolder of {midi_dir}, but all its files are in "
                        f"{'one subfolder' if list(composers) != [''] else 'the folder itself'}; "
                        f"put each composer's files in a subfolder of their own")
    training_pieces, validation_pieces = split_by_file(corpus.pieces, settings.validation_split, settings.seed)
    vocabulary = Vocabulary.of_pieces(corpus.pieces)
    piece_composers = Composers.of(corpus, training_pieces, validation_pieces)
    # The windows carry their composer only when the network reads it.
    train_windows, validation_windows = (
        make_windows(pieces, vocabulary, settings.sequence_length, composer_numbers if settings.composers else None)
        for pieces, composer_numbers in ((training_pieces, piece_composers.training),
                                         (validation_pieces, piece_composers.validation)))
    if len(train_windows) == 0:
        longest = max(len(piece.tokens) for piece in training_pieces)
        raise UserError(f"--sequence-length {settings.sequence_length} is longer than every training piece "
                        f"(the longest has {longest} tokens); choose a smaller --sequence-length")
    summary = {"command": command, **describe(corpus, training_pieces, validation_pieces, vocabulary,
                                              train_windows, validation_windows),
               "validation_quarters": quarters_of_music(midi_dir, validation_pieces, settings.representation)}
    print(f"{summary['classes']} classes; training: {summary['training_files']} files, "
          f"{summary['training_windows']} windows; validation: {len(summary['validation_files'])} files, "
          f"{summary['validation_windows']} windows; {summary['pieces_shorter_than_window']} pieces "
          f"shorter than the {settings.sequence_length}-token window gave no windows")

    has_validation = len(validation_windows) > 0
    monitor = ("val_" if has_validation else "") + settings.keep_best  # a figure Keras logs
    if not has_validation:
        print(f"no validation windows: the best model is judged on the training {settings.keep_best}")
    fingerprint = data_fingerprint(settings, training_pieces, validation_pieces)
    training_indices = [vocabulary.encode(piece.tokens) for piece in training_pieces]
    validation_indices = [vocabulary.encode(piece.tokens) for piece in validation_pieces]
    if has_validation:
        # The yardsticks: count models fit on the training files, scored on the held-out targets.
        summary["count_models"] = count_model_figures(training_indices, validation_indices, len(vocabulary),
                                                      default_first_target(settings))
        print("held-out nats per token of the count models: " + ", ".join(
            f"{name} {summary['count_models'][name]['nats']:.3f}" for name in ("unigram", "bigram", "trigram")))

    # --- Network ---------------------------------------------------------------
    keras.utils.set_random_seed(settings.seed)
    # Under a strategy the weights and the optimizer's state must be made in its scope, one copy per device.
    with strategy.scope() if strategy else contextlib.nullcontext():
        model, history, best, first_epoch = network_to_train(settings, vocabulary, out, resume, fingerprint,
                                                             len(piece_composers.names))
    print(f"network: {settings.model}, preset {settings.preset}, {model.count_params():,} parameters"
          + (f", on {strategy.num_replicas_in_sync} devices" if strategy else ""))

    # --- Training --------------------------------------------------------------
    out.mkdir(parents=True, exist_ok=True)
    callbacks = [RefreshBatchNormStatistics(statistics_sample(train_windows, len(vocabulary), settings)),
                 KeepBundle(out, settings, vocabulary, training_indices, validation_indices, monitor, summary,
                            fingerprint, history, best, piece_composers)]
    if tensorboard is not None:  # each epoch's losses and accuracy, to watch with `tensorboard --logdir DIR`
        callbacks.append(keras.callbacks.TensorBoard(log_dir=str(tensorboard)))
    if settings.patience > 0:
        callbacks.append(keras.callbacks.EarlyStopping(monitor=monitor, mode=KEEP_BEST[settings.keep_best],
                                                       patience=settings.patience))
    model.fit(
        training_batches(train_windows, training_indices, composers_if_read(settings, piece_composers.training),
                         len(vocabulary), settings, first_epoch),
        validation_data=(validation_batches(validation_windows, validation_indices,
                                            composers_if_read(settings, piece_composers.validation),
                                            len(vocabulary), settings)
                         if has_validation else None),
        epochs=settings.epochs,
        initial_epoch=first_epoch,
        callbacks=callbacks,
        verbose=1 if sys.stdout.isatty() else 2,  # one line per epoch in a log file
    )
    if has_validation:
        compare_best_with_counting(out, summary["count_models"])
    return history


def network_to_train(settings: Settings, vocabulary: Vocabulary, out: Path, resume: bool, fingerprint: str,
                     composer_count: int):
    """A compiled network, new or resumed: (model, history, best monitored value, epochs already done)."""
    if not resume:
        part_matrix = token_parts(vocabulary.tokens).matrix if settings.token_parts else None
        model = build_network(settings, len(vocabulary), part_matrix, fast_lstm=fast_lstm_pays(),
                              composer_count=composer_count)
        return model, {}, float("inf"), 0
    state = read_pointer(out, RESUME_FILE)
    if state.get("fingerprint") != fingerprint:
        raise UserError(f"cannot resume: the data or settings differ from those of the run in {out}; "
                        f"use the same --midi-dir and flags (only --epochs may change)")
    model = load_model_checked(out / state["model_file"], settings, len(vocabulary), compile=True)
    first_epoch = state["epochs_done"]
    if first_epoch >= settings.epochs:
        raise UserError(f"the run in {out} already finished {first_epoch} epochs; ask for more with --epochs")
    print(f"resuming after epoch {first_epoch} of {settings.epochs}")
    return model, state["history"], state["best"], first_epoch


def compare_best_with_counting(out: Path, count_figures: dict) -> None:
    """Score the bundle's best model beside the count models; print it and keep it in bundle.json."""
    results = evaluate(load_bundle(out), count_figures=count_figures)
    print(format_comparison(results))
    pointer = read_pointer(out)
    pointer["training"]["evaluation"] = results
    write_json_atomically(out / POINTER_FILE, pointer)
