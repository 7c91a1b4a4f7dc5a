"""Train the composer on a folder of MIDI files and save a bundle for predict.py.

    python train.py                                   # the original: 3 x LSTM(512), 200 epochs
    python train.py --preset small --epochs 30        # fits a 2-core CPU
    python train.py --rests --octave-chords --durations --velocities --sequence-length 32
    python train.py --model transformer --preset small --epochs 30 --sequence-length 64

Every default reproduces the original; every improvement is a flag.
"""

import argparse
import dataclasses
import shlex
import sys

from classical_composer import tokens
from classical_composer.cli import HelpWithDefaults, UserError, quiet_tensorflow, run
from classical_composer.settings import KEEP_BEST, MODELS, OPTIMIZERS, PRESETS, REPRESENTATIONS, Settings

DEFAULTS = Settings()
LENGTHS_IN_WORDS = ", ".join(f"{name} (< {bound:g} quarter)" if bound != float("inf") else f"or {name}"
                             for name, bound, _ in tokens.LENGTH_BINS)
VELOCITIES_IN_WORDS = ", ".join(str(level) for level in tokens.VELOCITY_LEVELS)


def parse_arguments(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Train an LSTM (or with --model transformer, a transformer) on MIDI files and save a bundle "
        "(model, vocabulary, settings) for predict.py. "
        "With no flags this is the original Classical-Piano-Composer: notes and chords only, "
        "windows of 100 tokens, 3 x LSTM(512), 200 epochs.",
        formatter_class=HelpWithDefaults,
    )
    data = parser.add_argument_group("data")
    data.add_argument("--midi-dir", metavar="FOLDER", default="midi_songs", help="folder of .mid/.midi files to learn from, also in subfolders (one per composer)")
    data.add_argument("--out", metavar="FOLDER", default="weights", help="bundle folder to write (kept complete at every moment)")
    data.add_argument("--validation-split", metavar="SHARE", type=float, default=DEFAULTS.validation_split,
                      help="share of the files (not windows) held out to judge the model; "
                      "at least one file when there are two or more")

    encoding = parser.add_argument_group("encoding (what a token holds; see docs/tokens.md)")
    encoding.add_argument("--representation", choices=REPRESENTATIONS, default=DEFAULTS.representation,
                          help="notes = one token per onset, as the original; events = performance events: note "
                               "on and off, waits of 1/12 beat to 4 beats, volume, tempo, pedal (docs/performance.md)")
    encoding.add_argument("--rests", action="store_true", help="add a 'rest' token for time in which nothing sounds")
    encoding.add_argument("--octave-chords", action="store_true",
                          help="spell chords with each pitch's octave (C2.G2.E-4) instead of pitch classes (0.4.7)")
    encoding.add_argument("--durations", action="store_true", help=f"add each event's length: {LENGTHS_IN_WORDS}")
    encoding.add_argument("--velocities", action="store_true",
                          help=f"add each event's loudness as one of the velocities {VELOCITIES_IN_WORDS}")
    encoding.add_argument("--transpose", action="store_true",
                          help="transpose every piece to C major or A minor before encoding (fewer classes); with "
                          "--representation events and --chunks, shift each piece by up to 3 semitones each epoch")
    encoding.add_argument("--min-count", metavar="N", type=int, default=DEFAULTS.min_count,
                          help="replace every token heard fewer than N times in all the files by the nearest token "
                          "heard N times or more (fewer classes, a smaller network); 1 keeps every token")
    encoding.add_argument("--sequence-length", metavar="N", type=int, default=DEFAULTS.sequence_length,
                          help="tokens the network reads to predict the next one")

    network = parser.add_argument_group("network")
    network.add_argument("--model", choices=MODELS, default=DEFAULTS.model,
                         help="lstm = the original LSTM network; transformer = a small decoder-only transformer "
                         "that reads token indices and learns the next token after every step "
                         "(see docs/transformer.md)")
    network.add_argument("--preset", choices=sorted(PRESETS), default=DEFAULTS.preset,
                         help="network size: original = 3 x LSTM(512) as published; small = trains on a 2-core CPU "
                         "in well under an hour; tiny = seconds, for tests (the transformer's sizes are of about "
                         "as many parameters)")
    network.add_argument("--embedding", metavar="N", type=int, default=DEFAULTS.embedding,
                         help="read each token as a learned vector of N numbers instead of the original's one "
                         "scalar (index / vocabulary size); 0 = the original (docs/experiments.md); "
                         "LSTM only: the transformer's vectors are as wide as its preset")
    network.add_argument("--token-parts", action="store_true",
                         help="build each token's vector and output score also from its parts (pitches, pitch "
                         "classes, rest, length, velocity), so rare tokens share what common ones teach; needs --embedding")
    network.add_argument("--composers", action="store_true",
                         help="learn one style per composer: each file's composer is its subfolder of --midi-dir, "
                         "which the network reads at every step beside the token (predict.py --composer NAME)")
    network.add_argument("--dropout", metavar="SHARE", type=float, default=DEFAULTS.dropout,
                         help="share of numbers dropped by every dropout of the network while training, recurrent "
                         "dropout included (default: the preset's, 0.3 for original and small as in the original)")
    network.add_argument("--mixed-precision", action="store_true",
                         help="compute in bfloat16 (weights, softmax and the LSTM cell state stay float32); learns the "
                         "same, and trains about 1.2 to 1.5 times faster on CPUs with bfloat16 instructions "
                         "(docs/benchmark.md)")

    training = parser.add_argument_group("training")
    training.add_argument("--epochs", metavar="N", type=int, default=DEFAULTS.epochs, help="passes over the training windows (in total, also with --resume)")
    training.add_argument("--batch-size", metavar="N", type=int, default=DEFAULTS.batch_size, help="windows per gradient step")
    training.add_argument("--patience", metavar="N", type=int, default=DEFAULTS.patience,
                          help="stop when the validation loss has not improved for this many epochs (0 = never)")
    training.add_argument("--every-step", action="store_true",
                          help="learn the next token after every step of each window, as char-rnn does, not only "
                          "after its last; the validation loss still scores the token after each window")
    training.add_argument("--chunks", action="store_true",
                          help="learn from consecutive chunks of --sequence-length tokens of each piece, every "
                          "target once an epoch (as char-rnn does), instead of windows slid one token at a time; "
                          "learns every step; an LSTM then composes carrying its state, one token a step")
    training.add_argument("--optimizer", choices=sorted(OPTIMIZERS), default=DEFAULTS.optimizer,
                          help="how the weights follow the gradient; the original used RMSprop")
    training.add_argument("--learning-rate", metavar="RATE", type=float, default=DEFAULTS.learning_rate,
                          help="the optimizer's step size")
    training.add_argument("--learning-rate-decay", metavar="FACTOR", type=float,
                          default=DEFAULTS.learning_rate_decay,
                          help="multiply the step size by FACTOR after every epoch, as char-rnn does, so that "
                          "late epochs fine-tune what early ones found (1 = keep it)")
    training.add_argument("--keep-best", choices=list(KEEP_BEST), default=DEFAULTS.keep_best,
                          help="which epoch the bundle keeps: loss = the lowest validation loss; accuracy = the "
                          "highest validation top-1 accuracy (--patience watches the same figure)")
    training.add_argument("--seed", metavar="N", type=int, default=DEFAULTS.seed, help="seeds the file split, shuffling and initial weights")
    training.add_argument("--distribute", action="store_true",
                          help="train data-parallel on every GPU (tf.distribute.MirroredStrategy): each batch of "
                          "--batch-size windows is split between the GPUs; without a GPU, trains on one device")
    training.add_argument("--tensorboard", metavar="DIR", default=None,
                          help="also log the losses and accuracy of every epoch for TensorBoard into DIR "
                          "(watch with: tensorboard --logdir DIR)")
    training.add_argument("--resume", action="store_true",
                          help="continue the interrupted run in --out from its last finished epoch (same data and flags)")
    return parser.parse_args(argv)


def settings_from(arguments: argparse.Namespace) -> Settings:
    """Gather the flags into Settings, which check themselves; a bad number is one UserError sentence."""
    try:
        return Settings(**{field.name: getattr(arguments, field.name) for field in dataclasses.fields(Settings)})
    except ValueError as error:
        raise UserError(str(error)) from None


def main() -> None:
    arguments = parse_arguments()
    settings = settings_from(arguments)
    from classical_composer.corpus import check_midi_folder

    check_midi_folder(arguments.midi_dir)  # before TensorFlow takes seconds to load
    quiet_tensorflow()
    from classical_composer.training import distribution_strategy, train  # imports Keras: after the flags are known to be good

    # --distribute is how to train, not what: it is not a setting, and the bundle does not change with it.
    strategy = distribution_strategy() if arguments.distribute else None
    command = "python train.py " + shlex.join(sys.argv[1:])
    train(settings, arguments.midi_dir, arguments.out, resume=arguments.resume, command=command.strip(),
          strategy=strategy, tensorboard=arguments.tensorboard)


if __name__ == "__main__":
    run(main)
