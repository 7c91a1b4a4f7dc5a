"""Reproduce the write-up's feature table on our data: classes and losses per token encoding.

In:  a folder of MIDI files (default midi_songs/), one network preset, sequence
     length and number of epochs shared by every row.
Out: a Markdown table on standard output (and, with --json, the same figures
     as JSON): for each feature combination, the number of classes, training
     tokens and windows, the final training and validation loss and accuracy,
     and minutes per epoch.

Each row is a real `python train.py` run into a temporary folder, so the table
measures exactly what users run. Rerun it with:

    python scripts/feature_table.py --preset small --sequence-length 16 --epochs 8
"""

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent

# The rows of the table: a name and the train.py flags that turn the features on.
COMBINATIONS = (
    ("faithful (notes + chords)", []),
    ("+ rests", ["--rests"]),
    ("+ octave chords", ["--octave-chords"]),
    ("+ durations", ["--durations"]),
    ("+ velocities", ["--velocities"]),
    ("all four", ["--rests", "--octave-chords", "--durations", "--velocities"]),
)


def run_row(flags: list[str], arguments: argparse.Namespace, out: Path) -> dict:
    """Train one combination and read its figures back from the bundle and resume state."""
    command = [sys.executable, "train.py", *flags, "--midi-dir", arguments.midi_dir, "--out", str(out),
               "--preset", arguments.preset, "--sequence-length", str(arguments.sequence_length),
               "--epochs", str(arguments.epochs), "--seed", str(arguments.seed)]
    subprocess.run(command, cwd=PROJECT_ROOT, check=True, stdout=subprocess.DEVNULL)
    summary = json.loads((out / "bundle.json").read_text())["training"]
    history = json.loads((out / "resume.json").read_text())["history"]
    # The first epoch also builds the graph; later epochs show the steady pace.
    steady_seconds = history["seconds"][1:] or history["seconds"]
    return {
        "classes": summary["classes"],
        "training_tokens": summary["training_tokens"],
        "training_windows": summary["training_windows"],
        "loss": history["loss"][-1],
        "val_loss": history["val_loss"][-1],
        "accuracy": history["accuracy"][-1],
        "val_accuracy": history["val_accuracy"][-1],
        "minutes_per_epoch": sum(steady_seconds) / len(steady_seconds) / 60,
    }


def markdown_table(rows: dict) -> str:
    lines = [
        "| encoding | classes | training tokens | windows | loss | val loss | accuracy | val accuracy | min/epoch |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, row in rows.items():
        lines.append(
            f"| {name} | {row['classes']} | {row['training_tokens']:,} | {row['training_windows']:,} | "
            f"{row['loss']:.2f} | {row['val_loss']:.2f} | {row['accuracy']:.3f} | {row['val_accuracy']:.3f} | "
            f"{row['minutes_per_epoch']:.2f} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--midi-dir", default="midi_songs", help="folder of MIDI files")
    parser.add_argument("--preset", default="small", help="network preset for every row")
    parser.add_argument("--sequence-length", type=int, default=16, help="window length for every row")
    parser.add_argument("--epochs", type=int, default=8, help="epochs for every row")
    parser.add_argument("--seed", type=int, default=0, help="seed for every row")
    parser.add_argument("--json", help="also write the figures to this JSON file")
    arguments = parser.parse_args()

    rows = {}
    with tempfile.TemporaryDirectory() as scratch:
        for number, (name, flags) in enumerate(COMBINATIONS):
            rows[name] = run_row(flags, arguments, Path(scratch) / f"row{number}")
            print(f"done: {name}", file=sys.stderr, flush=True)
    print(f"preset {arguments.preset}, sequence length {arguments.sequence_length}, "
          f"{arguments.epochs} epochs, seed {arguments.seed}, {arguments.midi_dir}\n")
    print(markdown_table(rows))
    if arguments.json:
        Path(arguments.json).write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
