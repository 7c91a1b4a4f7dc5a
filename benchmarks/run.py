"""Time the project's fast paths against the original's way of doing the same work.

    python benchmarks/run.py                  # every comparison, full size
    python benchmarks/run.py --quick          # fewer notes, files and steps: under 5 minutes on 2 cores
    python benchmarks/run.py --json out.json  # also write the figures as JSON

In:  the MIDI files in --midi-dir (for parsing); everything else is made up:
     random weights and random tokens, since how fast a network runs does
     not depend on what it has learnt.
Out: one table per comparison, each figure the median over repeats, with the
     ratio and the goal it is held to; with --json the same figures as
     {"generation": ..., "batch": ..., "parse": ..., "prepare": ..., "train": ...}.

The comparisons, in the order they run:
  generation  the original loop (model.predict on the full window for every
              note) against predict.py's compiled path; same seed window, argmax
  batch       8 songs in one batch (predict.py --num-songs 8) against 1 song
  parse       one process, no cache, against the cold cache with a process pool,
              and against the warm cache
  prepare     the bytes of the original's float64 windows and one-hot targets
              against the peak extra memory of our windows and one epoch of batches
  train       windows a second, fed the original way against ours; and
              --mixed-precision against float32

Everything runs in this one process, one comparison after another. This file
reads the command line; comparisons.py times and prints; original.py is the
original's way of doing things. How far the batch and mixed-precision goals
can go on this CPU at all is measured apart, by ceilings.py.
"""

import argparse
import contextlib
import json
import os
import platform
import sys
import time
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_ROOT))  # run as a script from anywhere: find classical_composer and benchmarks

from classical_composer.cli import UserError, quiet_tensorflow, run  # noqa: E402  (needs the path above)

BF16_CPU_FLAGS = ("avx512_bf16", "amx_bf16")  # /proc/cpuinfo flags of CPUs with bfloat16 arithmetic


def machine() -> dict:
    """What the figures were measured on."""
    import keras
    import tensorflow

    cpu, flags = platform.processor() or platform.machine(), None
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            name, _, value = line.partition(":")
            if name.strip() == "model name":
                cpu = value.strip()
            elif name.strip() == "flags" and flags is None:
                flags = set(value.split())
    return {
        "cpu": cpu,
        "cores": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "bf16": None if flags is None else any(flag in flags for flag in BF16_CPU_FLAGS),  # None: cannot tell
        "python": platform.python_version(),
        "tensorflow": tensorflow.__version__,
        "keras": keras.__version__,
        # Other work on the machine slows every figure: runnable processes, averaged over a minute.
        "load_average": round(os.getloadavg()[0], 1) if hasattr(os, "getloadavg") else None,
    }


def finish(results: dict, started: float, json_path: str | None) -> None:
    """Add how long the comparisons took and how busy the machine was at the end; print it; write the JSON."""
    results["seconds"] = time.perf_counter() - started
    results["load_average_at_end"] = round(os.getloadavg()[0], 1) if hasattr(os, "getloadavg") else None
    print(f"\nthe comparisons took {results['seconds'] / 60:.1f} minutes; "
          f"load average at the end {results['load_average_at_end']}")
    if json_path:
        Path(json_path).write_text(json.dumps(results, indent=1) + "\n")
        print(f"wrote {json_path}")


def parse_arguments(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--quick", action="store_true",
                        help="fewer notes, every 32nd file, fewer training steps: under 5 minutes on 2 cores")
    parser.add_argument("--json", metavar="PATH", default=None, help="also write the figures to this JSON file")
    parser.add_argument("--midi-dir", default=str(PROJECT_ROOT / "midi_songs"), help="MIDI files for the parse comparison")
    parser.add_argument("--seed", type=int, default=0, help="seeds the random weights, windows and tokens")
    return parser.parse_args(argv)


def main() -> None:
    arguments = parse_arguments()
    midi_dir = Path(arguments.midi_dir)
    if not midi_dir.is_dir():
        raise UserError(f"the MIDI folder {midi_dir} does not exist; point --midi-dir at a folder of .mid files")
    from classical_composer.corpus import midi_files_in

    if not midi_files_in(midi_dir):  # found out now, not after the generation comparisons
        raise UserError(f"there are no MIDI files in {midi_dir}; point --midi-dir at a folder of .mid files")

    # TensorFlow is loaded here, not at the top: the parse comparison starts a
    # pool of processes, and each of them imports this file again.
    quiet_tensorflow()
    import keras
    import numpy as np

    from benchmarks import comparisons
    from benchmarks.original import original_network
    from classical_composer.settings import Settings

    plan = comparisons.QUICK if arguments.quick else comparisons.FULL
    keras.utils.set_random_seed(arguments.seed)
    random = np.random.default_rng(arguments.seed)
    started = time.perf_counter()

    about = machine()
    print(f"machine: {about['cpu']}, {about['cores']} cores, bfloat16 instructions: {about['bf16']}, "
          f"load average {about['load_average']}; "
          f"Python {about['python']}, TensorFlow {about['tensorflow']}, Keras {about['keras']}")
    print(f"plan: {'--quick' if arguments.quick else 'full'}; every figure is the median of its repeats")

    settings = Settings()  # the faithful network: 3 x LSTM(512), windows of 100 tokens
    # The original's network; our generation path makes its inference copy from these weights.
    model = original_network(settings, comparisons.GENERATION_VOCABULARY)
    start_windows = random.integers(comparisons.GENERATION_VOCABULARY,
                                    size=(comparisons.BATCH_SONGS, settings.sequence_length))
    results = {"machine": about, "plan": "quick" if arguments.quick else "full"}
    results["generation"] = comparisons.compare_generation(model, settings, start_windows[0], plan)
    results["batch"] = comparisons.compare_batch(model, settings, start_windows, plan)
    results["parse"] = comparisons.compare_parse(midi_dir, plan)
    results["prepare"] = comparisons.compare_prepare(random)
    results["train"] = comparisons.compare_train(plan, random, about["bf16"])
    finish(results, started, arguments.json)


if __name__ == "__main__":
    run(main)
