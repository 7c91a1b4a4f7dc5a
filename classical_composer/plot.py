"""Pictures: a MIDI file as a piano roll, and a training run as loss curves.

In:  a MIDI file (any, not only one this project wrote); or the losses per
     epoch of a training run and the count models' held-out figures.
Out: a piano-roll PNG of FIGURE_SIZE_INCHES x PICTURE_DPI pixels per file: time in
     quarter notes across, pitch up, one bar per note, its shade the note's
     velocity (darker is louder); silence is left blank, so rests show as gaps.
     Or training.png: training and validation loss per epoch, with the count
     models drawn as horizontal lines (see evaluate.py).

    python -m classical_composer.plot output.mid                   # writes output.png
    python -m classical_composer.plot song.mid --output roll.png
    python -m classical_composer.plot bach.mid palestrina.mid --output both.png   # one above the other

The notes are read with parse.onsets_of, the same reading that training uses,
so the picture shows what the model would see of the file.
"""

import argparse
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # draw into files only: never open a window, works without a display

import matplotlib.pyplot as plt  # noqa: E402  (must follow the backend choice)
from matplotlib.collections import PatchCollection  # noqa: E402
from matplotlib.patches import Rectangle  # noqa: E402

from classical_composer.atomic import replaced_atomically  # noqa: E402
from classical_composer.cli import UserError, run  # noqa: E402

FIGURE_SIZE_INCHES = (12, 4)  # wide, since pieces are long and the pitch range is narrow
PICTURE_DPI = 100  # so the PNG is 1200 x 400 pixels
MAX_VELOCITY = 127  # MIDI's loudest
VELOCITY_COLOURS = "Blues"  # a matplotlib colour map running from pale to dark
NOTE_HEIGHT = 0.8  # semitones: a little gap between neighbouring pitches
NOTE_OUTLINE = 0.5  # points
PITCH_MARGIN = 2  # semitones of space above the highest and below the lowest note
OCTAVE = 12


def read_notes(midi_path: Path) -> list[tuple[float, float, int, int]]:
    """A MIDI file -> (start, length, MIDI pitch, velocity) of every pitched note, in quarters."""
    from music21 import converter

    from classical_composer.midi_files import UnreadableMidi, music21_reading
    from classical_composer.parse import onsets_of

    try:
        with music21_reading("music21 could not read it"):  # a bug of this project surfaces; a bad file is one sentence
            score = converter.parse(midi_path, format="midi", forceSource=True)
    except UnreadableMidi as error:
        raise UserError(f"{midi_path} is not a readable MIDI file ({type(error.__cause__).__name__})") from None
    return [
        (float(start), length, int(played_pitch.midi), int(velocity))
        for start, played in onsets_of(score).items()
        for played_pitch, length, velocity in played
    ]


def draw_piano_roll(figure, axes, notes: list[tuple[float, float, int, int]], title: str = "") -> None:
    """Draw (start, length, MIDI pitch, velocity) notes as a piano roll onto matplotlib axes."""
    colour_map = plt.get_cmap(VELOCITY_COLOURS)
    norm = matplotlib.colors.Normalize(vmin=0, vmax=MAX_VELOCITY)
    bars = [Rectangle((start, number - NOTE_HEIGHT / 2), length, NOTE_HEIGHT) for start, length, number, _ in notes]
    # A thin white outline, so that one pitch struck again and again shows as separate notes.
    collection = PatchCollection(bars, cmap=colour_map, norm=norm, edgecolor="white", linewidth=NOTE_OUTLINE)
    collection.set_array([velocity for *_, velocity in notes])
    axes.add_collection(collection)
    figure.colorbar(collection, ax=axes, label="velocity", pad=0.01)

    if notes:
        numbers = [number for _, _, number, _ in notes]
        lowest, highest = min(numbers) - PITCH_MARGIN, max(numbers) + PITCH_MARGIN
        # A labelled tick at every C in view, as on a keyboard (MIDI 60 is C4).
        c_numbers = range(-(-lowest // OCTAVE) * OCTAVE, highest + 1, OCTAVE)
        axes.set_yticks(list(c_numbers), [f"C{number // OCTAVE - 1}" for number in c_numbers])
        axes.set_xlim(0, max(start + length for start, length, _, _ in notes))
        axes.set_ylim(lowest, highest)  # after the ticks, which would otherwise widen the view
    axes.set_xlabel("time (quarter notes)")
    axes.set_ylabel("pitch")
    axes.set_title(title)
    axes.grid(axis="y", alpha=0.3)


def plot_piano_rolls(rolls: list[tuple[list, str]], png_path: Path) -> None:
    """Draw one piano roll per (notes, title), one above the other, into a PNG file.

    Each roll is FIGURE_SIZE_INCHES x PICTURE_DPI pixels; the picture is as tall as all of them.
    """
    width, height = FIGURE_SIZE_INCHES
    figure, all_axes = plt.subplots(len(rolls), 1, figsize=(width, height * len(rolls)), dpi=PICTURE_DPI,
                                    layout="constrained", squeeze=False)
    for axes, (notes, title) in zip(all_axes[:, 0], rolls):
        draw_piano_roll(figure, axes, notes, title)
    # No bbox_inches="tight": the picture keeps exactly the size asked for.
    figure.savefig(png_path, dpi=PICTURE_DPI)
    plt.close(figure)


def plot_piano_roll(notes: list[tuple[float, float, int, int]], png_path: Path, title: str = "") -> None:
    """Draw (start, length, MIDI pitch, velocity) notes as a piano roll into a PNG file."""
    plot_piano_rolls([(notes, title)], png_path)


def plot_midi(midi_path: Path, png_path: Path | None = None) -> Path:
    """Draw a MIDI file's piano roll; by default beside it, same name, .png. Returns the PNG path."""
    midi_path = Path(midi_path)
    png_path = midi_path.with_suffix(".png") if png_path is None else Path(png_path)
    plot_piano_roll(read_notes(midi_path), png_path, title=midi_path.name)
    return png_path


COUNT_MODEL_LINES = {"unigram": ":", "bigram": "-.", "trigram": "--"}  # name -> line style


def plot_training(history: dict, count_figures: dict, png_path: Path, kept_epoch: int | None = None) -> None:
    """Training and validation loss per epoch, beside the count models' held-out nats per token.

    kept_epoch: the epoch (from 1) the bundle keeps, ringed; by default the one of lowest validation loss.
    """
    figure, axes = plt.subplots(figsize=(8, 4.5), dpi=PICTURE_DPI, layout="constrained")
    for key, label in (("loss", "training loss"), ("val_loss", "validation loss")):
        if history.get(key):
            epochs = range(1, len(history[key]) + 1)
            axes.plot(epochs, history[key], marker="." if len(history[key]) < 30 else None, label=label)
    if history.get("val_loss"):
        losses = history["val_loss"]
        kept = kept_epoch or 1 + min(range(len(losses)), key=losses.__getitem__)
        axes.plot(kept, losses[kept - 1], "o", markersize=9, fillstyle="none", color="black",
                  label=f"kept in the bundle: epoch {kept}, {losses[kept - 1]:.2f}")
    axes.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))  # epochs are whole
    for name, style in COUNT_MODEL_LINES.items():
        if name in count_figures:
            nats = count_figures[name]["nats"]
            axes.axhline(nats, color="grey", linestyle=style, label=f"{name} (counting): {nats:.2f}")
    axes.set_xlabel("epoch")
    axes.set_ylabel("nats per token (held-out for the lines)")
    axes.set_title("Has it learned more than counting? Below the trigram line, yes.")
    axes.grid(alpha=0.3)
    axes.legend()
    with replaced_atomically(png_path) as temporary:
        figure.savefig(temporary, dpi=PICTURE_DPI, format="png")
    plt.close(figure)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description="Draw MIDI files as piano rolls (PNG), one above the other.")
    parser.add_argument("midi", nargs="+", help="MIDI files to draw")
    parser.add_argument("--output", default=None, help="PNG file to write (default: beside the first MIDI file, .png)")
    arguments = parser.parse_args(argv)
    for path in arguments.midi:
        if not Path(path).is_file():
            raise UserError(f"there is no file {path}; give the path of a .mid file")
    if arguments.output and not Path(arguments.output).parent.is_dir():
        raise UserError(f"the folder for --output {arguments.output} does not exist; create it first")
    png_path = Path(arguments.output or Path(arguments.midi[0]).with_suffix(".png"))
    plot_piano_rolls([(read_notes(Path(path)), Path(path).name) for path in arguments.midi], png_path)
    print(f"wrote {png_path}")


if __name__ == "__main__":
    run(main)
