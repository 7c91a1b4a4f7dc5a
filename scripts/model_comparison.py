"""LSTM against transformer: the same tokens, the same split, the same minutes of this machine.

In:  a folder of MIDI files (default midi_songs/), the minutes each network
     may train, and the train.py flags both share (the encoding and window).
Out: a Markdown table on standard output (and, with --json, the figures as
     JSON), one row per network: parameters, epochs finished, training
     windows a second, held-out nats per token and top-1 accuracy of the kept
     epoch, generation seconds a note, and the report figures of --top-k 7
     over seeds 1 to 8 (means, and the worst seed's longest run).

    python scripts/model_comparison.py --minutes 12

Each network is a real `python train.py` run into a temporary folder, stopped
with Ctrl-C (SIGINT) when its minutes are up: train.py keeps the bundle
complete at every moment, so what is left is the best epoch finished in that
time. Both runs train at the same time, so that they share the machine alike
whatever else it is doing.
"""

import argparse
import json
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

# So that `python scripts/model_comparison.py` finds the package from the project root.
PROJECT_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_ROOT))

from classical_composer.cli import UserError, quiet_tensorflow, run  # noqa: E402

# The earlier note bundle's encoding and window (docs/transformer.md); each network reads tokens as vectors
# built also from their parts.
SHARED_FLAGS = ["--rests", "--octave-chords", "--durations", "--velocities", "--transpose",
                "--sequence-length", "16", "--preset", "small", "--token-parts", "--epochs", "1000"]
NETWORKS = (
    ("LSTM (small: 2 x LSTM(192))", ["--model", "lstm", "--embedding", "96"]),
    ("transformer (small: 3 blocks of width 128)", ["--model", "transformer"]),
)
SEEDS = range(1, 9)  # the songs each network composes with --top-k 7
EVENTS = 500  # events per song, as predict.py writes by default


def parse_arguments(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Train the LSTM and the transformer for the same minutes on "
                                     "the same tokens and compare what each learned and composes.")
    parser.add_argument("--midi-dir", default="midi_songs", help="folder of MIDI files to train on")
    parser.add_argument("--minutes", type=float, default=12, help="wall-clock minutes each network trains")
    parser.add_argument("--json", default=None, help="also write the figures to this JSON file")
    return parser.parse_args(argv)


def train_for(flags: list[str], midi_dir: str, out: Path, log: Path) -> subprocess.Popen:
    """Start train.py in the background; its output goes to `log`."""
    command = [sys.executable, "train.py", *SHARED_FLAGS, *flags, "--midi-dir", midi_dir, "--out", str(out)]
    return subprocess.Popen(command, cwd=PROJECT_ROOT, stdout=log.open("w"), stderr=subprocess.STDOUT)


def stop_after(runs: list[subprocess.Popen], started: float, seconds: float) -> None:
    """Ctrl-C every run still going once `seconds` have passed since `started`."""
    for process in runs:
        left = seconds - (time.monotonic() - started)
        try:
            process.wait(timeout=max(left, 0))
        except subprocess.TimeoutExpired:
            process.send_signal(signal.SIGINT)
            process.wait()


def figures_of(out: Path) -> dict:
    """Everything the table shows about one trained bundle."""
    from classical_composer.bundle import load_bundle
    from classical_composer.evaluate import evaluate
    from classical_composer.predict import compose_for_bundle, seed_windows
    from classical_composer.report import generation_report, training_reference

    bundle = load_bundle(out)
    training = json.loads((out / "bundle.json").read_text())["training"]
    history = json.loads((out / "resume.json").read_text())["history"]
    results = evaluate(bundle)
    reference = training_reference(bundle.vocabulary.tokens, bundle.training_pieces, bundle.representation)
    reports, generation_seconds = [], []
    for seed in SEEDS:
        random = np.random.default_rng(seed)
        start = seed_windows(bundle.training_pieces, bundle.settings.sequence_length, 1, random)
        began = time.perf_counter()
        song = compose_for_bundle(bundle, start, EVENTS, top_k=7, random=random)[0]
        generation_seconds.append(time.perf_counter() - began)
        reports.append(generation_report(song, reference))
    return {
        "parameters": bundle.model.count_params(),
        "epochs": len(history["seconds"]), "best_epoch": training["best_epoch"],
        "windows_per_second": training["training_windows"] * len(history["seconds"]) / sum(history["seconds"]),
        "nats": results["bundle"]["nats"], "accuracy": results["bundle"]["accuracy"],
        "trigram_nats": results["trigram"]["nats"], "trigram_accuracy": results["trigram"]["accuracy"],
        # The first song pays for compiling the generation graph: the median is the steady pace.
        "seconds_per_note": float(np.median(generation_seconds)) / EVENTS,
        "distinct_tokens": float(np.mean([report["distinct_tokens"] for report in reports])),
        "longest_run": max(report["longest_run"] for report in reports),
        "pitch_class_distance": float(np.mean([report["pitch_class_distance"] for report in reports])),
        "longest_copied_stretch": max(report["longest_copied_stretch"] for report in reports),
    }


def markdown_table(rows: dict) -> str:
    lines = ["| network | parameters | epochs (kept) | training windows/s | held-out nats per token | top-1 "
             "| generation ms/note | top-7: distinct tokens (mean) | longest run (max) | pitch-class distance "
             "(mean) | longest copied stretch (max) |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for name, row in rows.items():
        lines.append(f"| {name} | {row['parameters']:,} | {row['epochs']} ({row['best_epoch']}) | "
                     f"{row['windows_per_second']:,.0f} | {row['nats']:.3f} | {row['accuracy']:.1%} | "
                     f"{row['seconds_per_note'] * 1000:.1f} | {row['distinct_tokens']:.0f} | {row['longest_run']} | "
                     f"{row['pitch_class_distance']:.3f} | {row['longest_copied_stretch']} |")
    first = next(iter(rows.values()))
    lines.append(f"| trigram (counting) | | | | {first['trigram_nats']:.3f} | {first['trigram_accuracy']:.1%} "
                 f"| | | | | |")
    return "\n".join(lines)


def main(argv=None) -> None:
    arguments = parse_arguments(argv)
    if arguments.minutes <= 0:
        raise UserError("--minutes must be above 0")
    if not Path(arguments.midi_dir).is_dir():
        raise UserError(f"the MIDI folder {arguments.midi_dir} does not exist; point --midi-dir at one")
    with tempfile.TemporaryDirectory() as temporary:
        folder = Path(temporary)
        runs, outs = [], []
        started = time.monotonic()
        for number, (_, flags) in enumerate(NETWORKS):
            outs.append(folder / f"bundle-{number}")
            runs.append(train_for(flags, arguments.midi_dir, outs[-1], folder / f"train-{number}.log"))
        stop_after(runs, started, arguments.minutes * 60)
        for number, out in enumerate(outs):
            if not (out / "bundle.json").is_file():
                log = (folder / f"train-{number}.log").read_text()
                raise UserError(f"{NETWORKS[number][0]} finished no epoch in {arguments.minutes:g} minutes; "
                                f"give it more --minutes (its log ends: {log[-300:]!r})")
        quiet_tensorflow()
        rows = {name: figures_of(out) for (name, _), out in zip(NETWORKS, outs)}
    print(f"{arguments.minutes:g} minutes of training each, both at once, on {arguments.midi_dir}; "
          f"flags: {' '.join(SHARED_FLAGS[:-2])}\n")
    print(markdown_table(rows))
    if arguments.json:
        Path(arguments.json).write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    run(main)
