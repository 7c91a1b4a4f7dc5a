"""What makes it learn: the network's input against the count models, for two encodings.

In:  a folder of MIDI files (default midi_songs/), and the preset, sequence
     length, epochs and extra train.py flags shared by every row.
Out: a Markdown table on standard output (and, with --json, the same figures
     as JSON). For the faithful encoding and for every feature on (rests,
     octave chords, durations, velocities, transposed), one row per input:
     the original scalar, --embedding, --embedding with --token-parts; and
     beside them the count models fit on the same training files. Every
     figure is on the same held-out targets (see classical_composer/evaluate.py):
     nats per token and top-1 accuracy of the best epoch, and the minutes trained.

Each row is a real `python train.py` run into a temporary folder. Rerun it with:

    python scripts/learning_table.py --epochs 6
"""

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent

ENCODINGS = (
    ("faithful", []),
    ("every feature", ["--rests", "--octave-chords", "--durations", "--velocities", "--transpose"]),
)
INPUTS = (
    ("original scalar", []),
    ("--embedding 96", ["--embedding", "96"]),
    ("--embedding 96 --token-parts", ["--embedding", "96", "--token-parts"]),
)
COUNT_MODELS = ("unigram", "bigram", "trigram")


def run_row(flags: list[str], arguments: argparse.Namespace, out: Path) -> dict:
    """Train one row and read its evaluation back from the bundle."""
    command = [sys.executable, "train.py", *flags, *arguments.extra.split(), "--midi-dir", arguments.midi_dir,
               "--out", str(out), "--preset", arguments.preset, "--sequence-length", str(arguments.sequence_length),
               "--epochs", str(arguments.epochs), "--seed", str(arguments.seed)]
    subprocess.run(command, cwd=PROJECT_ROOT, check=True, stdout=subprocess.DEVNULL)
    training = json.loads((out / "bundle.json").read_text())["training"]
    history = json.loads((out / "resume.json").read_text())["history"]
    return {"classes": training["classes"], "best_epoch": training["best_epoch"],
            "minutes": sum(history["seconds"]) / 60, **training["evaluation"]}


def markdown_table(rows: dict) -> str:
    lines = ["| encoding | model | classes | held-out nats per token | top-1 accuracy | minutes (best epoch) |",
             "|---|---|---:|---:|---:|---:|"]
    for encoding, by_input in rows.items():
        first = next(iter(by_input.values()))
        for name in COUNT_MODELS:
            lines.append(f"| {encoding} | {name} (counting) | {first['classes']:,} | {first[name]['nats']:.2f} | "
                         f"{first[name]['accuracy']:.1%} | |")
        for name, row in by_input.items():
            lines.append(f"| {encoding} | {name} | {row['classes']:,} | {row['bundle']['nats']:.2f} | "
                         f"{row['bundle']['accuracy']:.1%} | {row['minutes']:.1f} ({row['best_epoch']}) |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--midi-dir", default="midi_songs", help="folder of MIDI files")
    parser.add_argument("--preset", default="small", help="network preset for every row")
    parser.add_argument("--sequence-length", type=int, default=16, help="window length for every row")
    parser.add_argument("--epochs", type=int, default=6, help="epochs for every row")
    parser.add_argument("--seed", type=int, default=0, help="seed for every row")
    parser.add_argument("--extra", default="", help="more train.py flags for every row, e.g. '--optimizer adam'")
    parser.add_argument("--json", help="also write the figures to this JSON file")
    arguments = parser.parse_args()

    rows: dict = {}
    with tempfile.TemporaryDirectory() as scratch:
        for encoding, encoding_flags in ENCODINGS:
            for name, input_flags in INPUTS:
                out = Path(scratch) / f"row{len(rows)}{len(rows.get(encoding, {}))}"
                rows.setdefault(encoding, {})[name] = run_row(encoding_flags + input_flags, arguments, out)
                print(f"done: {encoding}, {name}", file=sys.stderr, flush=True)
    print(f"preset {arguments.preset}, sequence length {arguments.sequence_length}, {arguments.epochs} epochs, "
          f"seed {arguments.seed}, {arguments.extra or 'no other flags'}, {arguments.midi_dir}\n")
    print(markdown_table(rows))
    if arguments.json:
        Path(arguments.json).write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
