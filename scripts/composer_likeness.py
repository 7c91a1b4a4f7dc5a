"""Does a bundle trained with --composers write like the composer it is asked for?

In:  a bundle trained with --representation events --composers (default weights/events).
Out: a table (printed, and as JSON with --json): for each composer A, songs generated
     with --composer A, and the distances of their pitch classes and of their rhythm
     (report.py: total variation of the histograms) to each composer's training pieces.
     If the network writes like A, A's own pieces are the nearest.

    python scripts/composer_likeness.py --weights weights/events --songs 4 --num-notes 1000

Only composers with at least --min-pieces training pieces are asked for and compared
with: a style learned from one or two pieces is that piece, not a composer.
"""

import argparse
import json
import sys
from collections import Counter
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the project root, for classical_composer

from classical_composer.cli import UserError, quiet_tensorflow, run  # noqa: E402
from classical_composer.report import style_histograms, total_variation  # noqa: E402


def likeness_table(bundle, songs: int, num_notes: int, min_pieces: int, seed: int) -> list[dict]:
    """One row per composer asked for: distances of their songs to every composer's training pieces."""
    from classical_composer.predict import compose_for_bundle, pieces_of_composer, seed_windows

    files = np.bincount(bundle.training_composers, minlength=len(bundle.composers))
    compared = [number for number in range(len(bundle.composers)) if files[number] >= min_pieces]
    if len(compared) < 2:
        raise UserError(f"fewer than two composers have {min_pieces} training pieces; lower --min-pieces")
    training_styles = {
        number: style_histograms([bundle.vocabulary.decode(piece) for piece in pieces_of_composer(bundle, number)],
                                 bundle.representation)
        for number in compared}
    rows = []
    for asked in compared:
        random = np.random.default_rng(seed)
        starts = seed_windows(pieces_of_composer(bundle, asked), bundle.settings.sequence_length, songs, random)
        composed = compose_for_bundle(bundle, starts, num_notes, top_k=7, random=random, composer=asked)  # one per song
        written = style_histograms([bundle.vocabulary.decode(song) for song in composed], bundle.representation)
        distances = {figure: {bundle.composers[number]: total_variation(written[figure], style[figure])
                              for number, style in training_styles.items()}
                     for figure in ("pitch_classes", "rhythm")}
        rows.append({"composer": bundle.composers[asked], **distances})
    return rows


def format_table(rows: list[dict]) -> str:
    """The rows as a Markdown table: the distance to the composer's own pieces, and the nearest other's."""
    lines = ["| asked for | pitch classes: own | nearest other | rhythm: own | nearest other |",
             "| --- | ---: | --- | ---: | --- |"]
    nearest_own = Counter()
    for row in rows:
        cells = []
        for figure in ("pitch_classes", "rhythm"):
            own = row[figure][row["composer"]]
            other, other_distance = min(((name, value) for name, value in row[figure].items()
                                         if name != row["composer"]), key=lambda pair: pair[1])
            nearest_own[figure] += own < other_distance
            cells += [f"{own:.3f}", f"{other} {other_distance:.3f}"]
        lines.append(f"| {row['composer']} | " + " | ".join(cells) + " |")
    lines.append(f"\nown pieces nearest: pitch classes for {nearest_own['pitch_classes']} of {len(rows)} composers, "
                 f"rhythm for {nearest_own['rhythm']} of {len(rows)}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--weights", default="weights/events", help="a bundle trained with --representation events --composers")
    parser.add_argument("--songs", type=int, default=4, help="songs generated per composer, top-7 sampling")
    parser.add_argument("--num-notes", type=int, default=1000, help="events per song")
    parser.add_argument("--min-pieces", type=int, default=5, help="training pieces a composer needs to be compared")
    parser.add_argument("--seed", type=int, default=1, help="seed of the seed windows and the sampling")
    parser.add_argument("--json", default=None, help="also write the rows to this JSON file")
    arguments = parser.parse_args()
    quiet_tensorflow()
    from classical_composer.bundle import load_bundle

    bundle = load_bundle(Path(arguments.weights))
    if not (bundle.settings.composers and bundle.settings.representation == "events"):
        raise UserError(f"{arguments.weights} was not trained with --representation events --composers")
    rows = likeness_table(bundle, arguments.songs, arguments.num_notes, arguments.min_pieces, arguments.seed)
    print(format_table(rows))
    if arguments.json:
        Path(arguments.json).write_text(json.dumps(rows, indent=1) + "\n")


if __name__ == "__main__":
    run(main)
