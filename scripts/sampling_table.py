"""The evidence for sampling: argmax, top-7 and the whole distribution, side by side.

In:  a bundle folder written by train.py (default weights/).
Out: a Markdown table on standard output: for each way of sampling, the report
     figures (classical_composer/report.py) of the events it generated.

    python scripts/sampling_table.py
    python scripts/sampling_table.py --weights my_bundle --num-notes 500 --seed 0

Every row starts from the same seed window, drawn from the training data with
--seed, and samples with its own generator seeded with --seed, so the table is
the same on every run with the same bundle.
"""

import argparse
import sys
from pathlib import Path

import numpy as np

# So that `python scripts/sampling_table.py` finds the package from the project root.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from classical_composer.cli import UserError, quiet_tensorflow, run  # noqa: E402
from classical_composer.report import generation_report, training_reference  # noqa: E402

# (row label, --top-k): the original's argmax, the write-up's top-7, and no cut-off at all.
SAMPLINGS = (("argmax (--top-k 1)", 1), ("top-7 (--top-k 7)", 7), ("whole distribution (--top-k 0)", 0))
EVENTS = 500  # as many as predict.py writes by default


def parse_arguments(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Generate with argmax, top-7 and the whole distribution "
                                     "from one bundle and print the report figures as a Markdown table.")
    parser.add_argument("--weights", default="weights", help="bundle folder written by train.py")
    parser.add_argument("--num-notes", type=int, default=EVENTS, help="events to generate for each row")
    parser.add_argument("--seed", type=int, default=0, help="seeds the shared seed window and each row's sampling")
    return parser.parse_args(argv)


def sampling_reports(bundle, num_notes: int, seed: int) -> list[tuple[str, dict]]:
    """(label, report) for every way of sampling in SAMPLINGS, all from one seed window."""
    from classical_composer.predict import compose_for_bundle, seed_windows

    try:
        start = seed_windows(bundle.training_pieces, bundle.settings.sequence_length, 1, np.random.default_rng(seed))
    except ValueError as error:
        raise UserError(f"the bundle cannot seed generation: {error}") from None
    reference = training_reference(bundle.vocabulary.tokens, bundle.training_pieces, bundle.representation)
    rows = []
    for label, top_k in SAMPLINGS:
        composed = compose_for_bundle(bundle, start, num_notes, top_k=top_k,
                                      random=np.random.default_rng(seed))[0]  # (num_notes,)
        rows.append((label, generation_report(composed, reference)))
    return rows


def markdown_table(rows: list[tuple[str, dict]]) -> str:
    lines = ["| sampling | distinct tokens | longest run | rests | pitch range | pitch-class distance "
             "| longest copied stretch |",
             "|---|---:|---:|---:|---|---:|---:|"]
    for label, report in rows:
        pitches = (f"{report['lowest_pitch']['name']} to {report['highest_pitch']['name']}"
                   if report["lowest_pitch"] else "none")
        distance = "n/a" if report["pitch_class_distance"] is None else f"{report['pitch_class_distance']:.3f}"
        lines.append(f"| {label} | {report['distinct_tokens']} | {report['longest_run']} | "
                     f"{report['rest_share']:.1%} | {pitches} | {distance} | {report['longest_copied_stretch']} |")
    return "\n".join(lines)


def main(argv=None) -> None:
    arguments = parse_arguments(argv)
    if arguments.num_notes < 1:
        raise UserError("--num-notes must be at least 1")
    quiet_tensorflow()
    from classical_composer.bundle import load_bundle

    bundle = load_bundle(arguments.weights)
    rows = sampling_reports(bundle, arguments.num_notes, arguments.seed)
    print(f"{arguments.num_notes} events per row from {arguments.weights}, seed {arguments.seed}; "
          f"pitch-class distance = total variation to the training data (0 = same, 1 = disjoint)\n")
    print(markdown_table(rows))


if __name__ == "__main__":
    run(main)
