"""Does --mixed-precision learn the same? The losses of the first epochs, side by side.

    python benchmarks/mixed_precision_losses.py                 # every 4th file of midi_songs/, 3 epochs
    python benchmarks/mixed_precision_losses.py --every 1       # all of midi_songs/ (much longer)

In:  a folder of MIDI files; every n-th of them (sorted by name) is used.
Out: a table with one row per epoch: training and validation loss in float32
     and with --mixed-precision (bfloat16 compute, float32 weights and softmax).

Both runs are train.py's own training (same seed, so the same file split,
the same initial weights and the same shuffling); only the precision differs.
The bundles go to a temporary folder and are thrown away.
"""

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_ROOT))  # run as a script from anywhere: find classical_composer

from classical_composer.cli import UserError, quiet_tensorflow, run  # noqa: E402  (needs the path above)
from classical_composer.settings import PRESETS, Settings  # noqa: E402


def parse_arguments(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--midi-dir", default=str(PROJECT_ROOT / "midi_songs"), help="folder of MIDI files")
    parser.add_argument("--every", type=int, default=4,
                        help="use every n-th file (sorted by name); 4 keeps both runs to a few minutes on 2 cores")
    parser.add_argument("--preset", choices=sorted(PRESETS), default="small", help="network size")
    parser.add_argument("--epochs", type=int, default=3, help="epochs of each run")
    parser.add_argument("--sequence-length", type=int, default=Settings().sequence_length,
                        help="tokens the network reads to predict the next one")
    parser.add_argument("--seed", type=int, default=0, help="seeds the file split, shuffling and initial weights")
    return parser.parse_args(argv)


def main() -> None:
    arguments = parse_arguments()
    if arguments.every < 1 or arguments.epochs < 1:
        raise UserError("--every and --epochs must be at least 1")

    # TensorFlow is loaded here, not at the top: parsing starts a pool of
    # processes, and each of them imports this file again.
    quiet_tensorflow()
    from classical_composer.corpus import midi_files_in
    from classical_composer.training import train

    histories, seconds = {}, {}
    with tempfile.TemporaryDirectory() as scratch:
        subset = Path(scratch) / "midi"
        subset.mkdir()
        chosen = midi_files_in(Path(arguments.midi_dir))[:: arguments.every]
        for path in chosen:
            shutil.copy(path, subset / path.name)
        print(f"{len(chosen)} files: 1 in {arguments.every} of {arguments.midi_dir}, in order of name")

        # float32 first: train() sets Keras' global dtype policy for mixed precision and leaves it set.
        for mixed_precision in (False, True):
            settings = Settings(preset=arguments.preset, epochs=arguments.epochs, seed=arguments.seed,
                                sequence_length=arguments.sequence_length, mixed_precision=mixed_precision)
            label = "mixed" if mixed_precision else "float32"
            print(f"\n--- {label} ---")
            started = time.perf_counter()
            histories[label] = train(settings, subset, Path(scratch) / f"bundle-{label}")
            seconds[label] = time.perf_counter() - started

    print(f"\nlosses, preset {arguments.preset}, {len(chosen)} files, seed {arguments.seed}")
    columns = [(name, label) for name in ("loss", "val_loss") for label in ("float32", "mixed")
               if name in histories[label]]
    print("epoch  " + "  ".join(f"{name + ' ' + label:>16}" for name, label in columns))
    for epoch in range(arguments.epochs):
        values = [histories[label][name][epoch] for name, label in columns]
        print(f"{epoch + 1:>5}  " + "  ".join(f"{value:>16.4f}" for value in values))
    print(f"seconds: float32 {seconds['float32']:.0f}, mixed {seconds['mixed']:.0f} "
          f"(parsing included; the second run finds the files in the parse cache)")


if __name__ == "__main__":
    run(main)
