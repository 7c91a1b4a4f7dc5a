"""The training run: the four stages put together, with a bundle kept up to date.

In:  settings, a folder of MIDI files, a bundle folder, whether to resume, and
     optionally a tf.distribute strategy (train.py --distribute).
Out: the bundle folder, holding the best model so far after every epoch.

    read_corpus        MIDI files -> pieces of tokens, each with its composer     (stage 1)
    prepare            rare tokens replaced (--min-count), split by file,
                       vocabulary, windows, count models                          (stage 2)
    network_to_train   the network, new or resumed                                 (stage 3)
    fit                model.fit, the bundle kept after every epoch (and the step
                       size lowered, with --learning-rate-decay)
    compare_best_with_counting   the kept model scored beside the count models

The original wrote a new weights file for every improvement of the *training*
loss. Here one bundle holds the best model, judged on the validation loss
(with --keep-best accuracy, the validation top-1 accuracy) when validation
files exist. After every epoch the full training state (model with optimizer)
is also kept, so `--resume` can carry on after an interruption, and
training.png is redrawn: the losses so far beside the count models' (see
evaluate.py), so that a run shows at a glance whether it beats counting.
"""

import contextlib
import dataclasses
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
    FORMAT_NAME, FORMAT_VERSION, POINTER_FILE, RESUME_FILE, Bundle, load_bundle, load_model_checked, read_pointer,
    remove_unreferenced_files, save_bundle, save_model_file, write_json_atomically,
)
from classical_composer.cli import UserError
from classical_composer.corpus import check_midi_folder, parse_folder
from classical_composer.evaluate import (
    count_model_figures, default_first_target, evaluate, format_comparison,
)
from classical_composer.network import build_network, fast_lstm_pays
from classical_composer.plot import plot_training
from classical_composer.prepare_sequences import (
    ChunkBatches, NetworkInput, Vocabulary, WindowBatches, Windows, keep_common_tokens, make_windows, split_by_file,
)
from classical_composer.representations import representation_of
from classical_composer.settings import KEEP_BEST, Settings
from classical_composer.token_parts import token_parts

TRAINING_PICTURE = "training.png"
STATISTICS_WINDOWS = 2048  # training windows that batch-norm statistics are measured on after each epoch
STATISTICS_BATCH_SIZE = 512  # windows per forward pass while measuring them: fewer, larger passes are faster
STATISTICS_CHUNK_TOKENS = 65536  # with --chunks, tokens instead (2048 windows of 32): long windows need fewer


def data_fingerprint(settings: Settings, training_pieces: list, validation_pieces: list) -> str:
    """A hash of what must not change for --resume: the pieces, their split, and all settings but the epochs."""
    recipe = {name: value for name, value in settings.as_dict().items() if name not in ("epochs", "patience")}
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
    return WindowBatches(windows.subset(picked), NetworkInput.of(settings, vocabulary_size), STATISTICS_BATCH_SIZE,
                         shuffle=False)


class KeepBundle(keras.callbacks.Callback):
    """After each epoch: save the bundle if the model improved, and always save the resume state.

    bundle: everything the bundle keeps but the model (settings, vocabulary, pieces, composers), and in
    `training` what this run has recorded so far; each save adds the model and the epoch's figures.
    """

    def __init__(self, out: Path, bundle: Bundle, monitor: str, fingerprint: str, history: dict, best: float):
        super().__init__()
        self.out, self.bundle, self.monitor, self.fingerprint = out, bundle, monitor, fingerprint
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
            training = {**self.bundle.training, "best_epoch": epoch + 1, "monitor": self.monitor,
                        **{name: float(value) for name, value in logs.items()}}
            save_bundle(self.out, dataclasses.replace(self.bundle, model=self.model, training=training))
            print(f"epoch {epoch + 1}: {self.monitor} improved to {current:.4f}; bundle saved in {self.out}")
        resume_state = {
            "format": FORMAT_NAME, "format_version": FORMAT_VERSION,
            "model_file": save_model_file(self.out, self.model, prefix="resume"),
            "epochs_done": epoch + 1, "best": self.best, "fingerprint": self.fingerprint, "history": self.history,
        }
        write_json_atomically(self.out / RESUME_FILE, resume_state)
        remove_unreferenced_files(self.out)
        kept_epoch = read_pointer(self.out)["training"]["best_epoch"] if (self.out / POINTER_FILE).is_file() else None
        plot_training(self.history, self.bundle.training.get("count_models", {}), self.out / TRAINING_PICTURE,
                      kept_epoch)


def composer_numbers(pieces: list, composer_names: list[str]) -> np.ndarray:
    """(pieces,) int32: each piece's composer, as its place among the composer names."""
    number = {name: position for position, name in enumerate(composer_names)}
    return np.array([number[piece.composer] for piece in pieces], dtype=np.int32)


def describe(corpus, bundle: Bundle, train_windows: Windows, validation_windows: Windows,
             validation_pieces: list) -> dict:
    """The numbers worth printing and keeping in the bundle."""
    return {
        "files_read": len(corpus.pieces), "files_skipped": len(corpus.skipped), "tokens": corpus.token_count,
        "files_per_composer": corpus.files_per_composer(),
        "classes": len(bundle.vocabulary),
        "training_files": len(bundle.training_pieces), "training_tokens": len(train_windows.token_indices),
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
                     settings: Settings, first_epoch: int = 0, transpositions: np.ndarray | None = None):
    """Shuffled training batches; resumed at `first_epoch`, they come in the order an uninterrupted run's would.

    Windows slid one token at a time (the original), or with --chunks consecutive chunks of each piece,
    each piece moved each epoch by a row of `transpositions` if given (--transpose on performance events).
    """
    network_input = NetworkInput.of(settings, vocabulary_size)
    if settings.chunks:
        batches = ChunkBatches(index_pieces, network_input, settings.sequence_length, settings.batch_size,
                               shuffle=True, seed=settings.seed, piece_composers=piece_composers,
                               transpositions=transpositions)
    else:
        batches = WindowBatches(windows, network_input, settings.batch_size, shuffle=True, seed=settings.seed,
                                every_step=settings.predicts_every_step)
    for _ in range(first_epoch):  # Keras shuffles them once more after every epoch
        batches.on_epoch_end()
    return batches


def validation_batches(windows: Windows, index_pieces: list, piece_composers: np.ndarray | None,
                       vocabulary_size: int, settings: Settings):
    """Held-out batches: with --chunks every held-out target once; otherwise the token after each window."""
    network_input = NetworkInput.of(settings, vocabulary_size)
    if settings.chunks:
        return ChunkBatches(index_pieces, network_input, settings.sequence_length, settings.batch_size,
                            shuffle=False, piece_composers=piece_composers)
    return WindowBatches(windows, network_input, settings.batch_size, shuffle=False,
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
    corpus = read_corpus(midi_dir, settings)  # stage 1: MIDI files -> pieces of tokens
    data = prepare(corpus, settings, midi_dir, command)  # stage 2: pieces -> vocabulary, windows, the bundle-to-be
    keras.utils.set_random_seed(settings.seed)
    # Under a strategy the weights and the optimizer's state must be made in its scope, one copy per device.
    with strategy.scope() if strategy else contextlib.nullcontext():  # stage 3: the network, new or resumed
        model, history, best, first_epoch = network_to_train(settings, data.bundle.vocabulary, out, resume,
                                                             data.fingerprint, len(data.bundle.composers))
    print(f"network: {settings.model}, preset {settings.preset}, {model.count_params():,} parameters"
          + (f", on {strategy.num_replicas_in_sync} devices" if strategy else ""))
    fit(model, data, settings, out, history, best, first_epoch, tensorboard, strategy)
    if data.has_validation:
        compare_best_with_counting(out, data.bundle.training["count_models"])
    return history


def read_corpus(midi_dir: Path, settings: Settings):
    """The MIDI folder's pieces, each with its composer (its subfolder); refused if --composers cannot learn from it."""
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
    return corpus


def common_pieces(corpus, settings: Settings) -> tuple[list, int]:
    """The corpus's pieces with --min-count's rare tokens replaced by the nearest common ones; and how many were."""
    try:
        pieces, replaced = keep_common_tokens(corpus.pieces, settings.min_count,
                                              representation_of(settings).nearest_known_of_each)
    except ValueError:
        raise UserError(f"no token is heard {settings.min_count} times in {len(corpus.pieces)} files; "
                        f"choose a smaller --min-count") from None
    if replaced:
        print(f"--min-count {settings.min_count}: {replaced} of {corpus.token_count} tokens, of the kinds heard fewer "
              f"than {settings.min_count} times, are replaced by the nearest kind heard that often")
    return pieces, replaced


@dataclass
class TrainingData:
    """What the network learns from, prepared once from the corpus."""

    bundle: Bundle  # all that the bundle keeps but the model; its `training` records what was prepared
    training_windows: Windows
    validation_windows: Windows
    fingerprint: str  # what --resume checks (data_fingerprint)

    @property
    def has_validation(self) -> bool:
        return len(self.validation_windows) > 0


def prepare(corpus, settings: Settings, midi_dir: Path, command: str) -> TrainingData:
    """Rare tokens replaced (--min-count), the pieces split by file, the vocabulary, windows and count models."""
    pieces, replaced = common_pieces(corpus, settings)
    training_pieces, validation_pieces = split_by_file(pieces, settings.validation_split, settings.seed)
    vocabulary = Vocabulary.of_pieces(pieces)
    composer_names = list(corpus.files_per_composer())
    training_composers, validation_composers = (composer_numbers(pieces, composer_names)
                                                for pieces in (training_pieces, validation_pieces))
    # Every window carries its piece's composer; the network reads it only with --composers (NetworkInput).
    train_windows = make_windows(training_pieces, vocabulary, settings.sequence_length, training_composers)
    validation_windows = make_windows(validation_pieces, vocabulary, settings.sequence_length, validation_composers)
    if len(train_windows) == 0:
        longest = max(len(piece.tokens) for piece in training_pieces)
        raise UserError(f"--sequence-length {settings.sequence_length} is longer than every training piece "
                        f"(the longest has {longest} tokens); choose a smaller --sequence-length")
    bundle = Bundle(settings, vocabulary, None,
                    [vocabulary.encode(piece.tokens) for piece in training_pieces],
                    [vocabulary.encode(piece.tokens) for piece in validation_pieces], {},
                    composer_names, training_composers, validation_composers)
    played = {piece.name: piece for piece in corpus.pieces}  # as heard, before rare tokens were replaced
    summary = {"command": command, **describe(corpus, bundle, train_windows, validation_windows, validation_pieces),
               "rare_tokens_replaced": replaced,
               "validation_quarters": bundle.representation.quarters_of_pieces(
                   midi_dir, [played[piece.name] for piece in validation_pieces])}
    print(f"{summary['classes']} classes; training: {summary['training_files']} files, "
          f"{summary['training_windows']} windows; validation: {len(summary['validation_files'])} files, "
          f"{summary['validation_windows']} windows; {summary['pieces_shorter_than_window']} pieces "
          f"shorter than the {settings.sequence_length}-token window gave no windows")
    data = TrainingData(bundle, train_windows, validation_windows,
                        data_fingerprint(settings, training_pieces, validation_pieces))
    if data.has_validation:
        # The yardsticks: count models fit on the training files, scored on the held-out targets.
        summary["count_models"] = count_model_figures(bundle.training_pieces, bundle.validation_pieces,
                                                      len(vocabulary), default_first_target(settings))
        print("held-out nats per token of the count models: " + ", ".join(
            f"{name} {summary['count_models'][name]['nats']:.3f}" for name in ("unigram", "bigram", "trigram")))
    else:
        print(f"no validation windows: the best model is judged on the training {settings.keep_best}")
    bundle.training = summary
    return data


def fit(model: keras.Model, data: TrainingData, settings: Settings, out: Path, history: dict, best: float,
        first_epoch: int, tensorboard: Path | None, strategy=None) -> None:
    """model.fit, keeping the bundle and the resume state in `out` after every epoch."""
    bundle = data.bundle
    monitor = ("val_" if data.has_validation else "") + settings.keep_best  # a figure Keras logs
    out.mkdir(parents=True, exist_ok=True)
    callbacks = [RefreshBatchNormStatistics(statistics_sample(data.training_windows, len(bundle.vocabulary), settings))]
    if settings.learning_rate_decay < 1:  # before KeepBundle, which then records each epoch's step size
        callbacks.append(keras.callbacks.LearningRateScheduler(lambda epoch: decayed_learning_rate(settings, epoch)))
    callbacks.append(KeepBundle(out, bundle, monitor, data.fingerprint, history, best))
    if tensorboard is not None:  # each epoch's losses and accuracy, to watch with `tensorboard --logdir DIR`
        callbacks.append(keras.callbacks.TensorBoard(log_dir=str(tensorboard)))
    if settings.patience > 0:
        callbacks.append(keras.callbacks.EarlyStopping(monitor=monitor, mode=KEEP_BEST[settings.keep_best],
                                                       patience=settings.patience))
    validation = None
    if data.has_validation:
        validation = validation_batches(data.validation_windows, bundle.validation_pieces,
                                        bundle.validation_composers, len(bundle.vocabulary), settings)
    transpositions = bundle.representation.transposition_table(bundle.vocabulary.tokens) if settings.transpose else None
    batches = training_batches(data.training_windows, bundle.training_pieces, bundle.training_composers,
                               len(bundle.vocabulary), settings, first_epoch, transpositions)
    if strategy is None:  # under a strategy Keras makes them itself, one copy per device
        make_training_variables(model, batches[0])
    model.fit(
        batches,
        validation_data=validation,
        epochs=settings.epochs,
        initial_epoch=first_epoch,
        callbacks=callbacks,
        verbose=1 if sys.stdout.isatty() else 2,  # one line per epoch in a log file
    )


def decayed_learning_rate(settings: Settings, epoch: int) -> float:
    """The step size for epoch `epoch` (from 0): counted from the first epoch, so --resume goes on where it was."""
    return settings.learning_rate * settings.learning_rate_decay ** epoch


def make_training_variables(model: keras.Model, batch: tuple) -> None:
    """Make the optimizer's and the metrics' variables from one batch, before model.fit.

    Without a strategy Keras makes them while it traces the first training
    step, and must then trace that step a second time; made here, it is traced
    once. model.fit sets the metrics back to zero before its first epoch.
    """
    network_input, targets, *weights = batch
    if not model.optimizer.built:  # a resumed optimizer comes with its variables
        model.optimizer.build(model.trainable_variables)
    model.compute_metrics(network_input, targets, model(network_input, training=False), *weights)


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
