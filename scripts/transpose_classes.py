"""How many classes --transpose saves: the vocabulary of a MIDI folder with and without it.

In:  a folder of MIDI files (default midi_songs/) and the encoding flags of train.py.
Out: a Markdown table on standard output: files read, tokens and classes, as
     written and transposed to C major / A minor (train.py --transpose).

    python scripts/transpose_classes.py
    python scripts/transpose_classes.py --midi-dir my_midi --rests --durations --velocities

Both encodings are parsed with parse.parse_folder and cached like training
data, so train.py later reads them from the cache. The first run on
midi_songs/ is slow: music21's key analysis reads every score.
"""

import argparse
import sys
from pathlib import Path

# So that `python scripts/transpose_classes.py` finds the package from the project root.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from classical_composer.cli import UserError, quiet_tensorflow, run  # noqa: E402
from classical_composer.corpus import parse_folder  # noqa: E402
from classical_composer.prepare_sequences import Vocabulary  # noqa: E402
from classical_composer.settings import Settings  # noqa: E402


def parse_arguments(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Count the classes (distinct tokens) of a MIDI folder "
                                     "with and without transposing every piece to C major / A minor.")
    parser.add_argument("--midi-dir", default="midi_songs", help="folder of .mid/.midi files")
    parser.add_argument("--workers", type=int, default=None, help="parsing processes (default: one per CPU core)")
    for flag in ("--rests", "--octave-chords", "--durations", "--velocities"):
        parser.add_argument(flag, action="store_true", help=f"encode as train.py {flag} does")
    return parser.parse_args(argv)


def class_counts(midi_dir: Path, settings: Settings, workers: int | None = None) -> dict:
    """{'as written': ..., 'transposed': ...}, each {'files', 'tokens', 'classes'}."""
    counts = {}
    for label, transpose in (("as written", False), ("transposed", True)):
        encoding = {**settings.encoding(), "transpose": transpose}
        corpus = parse_folder(Path(midi_dir), encoding, workers=workers)
        counts[label] = {"files": len(corpus.pieces), "tokens": corpus.token_count,
                         "classes": len(Vocabulary.of_pieces(corpus.pieces))}
    return counts


def markdown_table(counts: dict) -> str:
    lines = ["| pieces | files | tokens | classes |", "|---|---:|---:|---:|"]
    lines += [f"| {label} | {row['files']} | {row['tokens']} | {row['classes']} |" for label, row in counts.items()]
    return "\n".join(lines)


def main(argv=None) -> None:
    arguments = parse_arguments(argv)
    if not Path(arguments.midi_dir).is_dir():
        raise UserError(f"the MIDI folder {arguments.midi_dir} does not exist; point --midi-dir at a folder of .mid files")
    quiet_tensorflow()  # parse_folder's progress bar comes from Keras
    settings = Settings(rests=arguments.rests, octave_chords=arguments.octave_chords,
                        durations=arguments.durations, velocities=arguments.velocities)
    counts = class_counts(arguments.midi_dir, settings, arguments.workers)
    print(markdown_table(counts))
    before, after = counts["as written"]["classes"], counts["transposed"]["classes"]
    if before:
        print(f"\n--transpose leaves {after} of {before} classes ({after / before:.0%}).")


if __name__ == "__main__":
    run(main)
