"""Compose new music with a trained bundle and write it as MIDI.

    python predict.py                         # the original: argmax, 500 notes, output.mid
    python predict.py --top-k 7 --seed 1      # sample among the 7 most likely tokens
    python predict.py --num-songs 4           # output-1.mid ... output-4.mid in one batched pass
    python predict.py --prime tune.mid --plot # continue your own tune; draw a piano roll beside it
    python predict.py --weights weights/events --composer palestrina   # a bundle trained with --composers

Needs only the bundle folder (--weights): never the training MIDI files.
"""

import argparse
import os
from pathlib import Path

import numpy as np

from classical_composer.cli import HelpWithDefaults, UserError, check_bundle_folder, quiet_tensorflow, run


def parse_arguments(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Generate music note by note from a bundle written by train.py. With no flags this is the "
        "original: a random training window as seed, argmax at every step, 500 events, 0.5 quarter apart.",
        formatter_class=HelpWithDefaults,
    )
    files = parser.add_argument_group("files")
    files.add_argument("--weights", metavar="FOLDER", default="weights", help="bundle folder written by train.py")
    files.add_argument("--output", metavar="FILE.mid", default="output.mid",
                       help="MIDI file to write; with --num-songs N, NAME-1.mid ... NAME-N.mid")

    music = parser.add_argument_group("music")
    music.add_argument("--num-notes", metavar="N", type=int, default=500,
                       help="events (notes, chords, rests) to generate per song; performance events stop "
                       "earlier at End")
    music.add_argument("--num-songs", metavar="N", type=int, default=1, help="songs to generate in one batched pass, each from its own random seed window (all from the primer with --prime)")
    music.add_argument("--instrument", metavar="NAME", default="Piano", help="music21 instrument name for the output, e.g. Harpsichord, Violin")
    music.add_argument("--bpm", metavar="BPM", type=float, default=None,
                       help="tempo of the output, in quarter notes per minute (default: 120, or the tempo events "
                            "of a bundle trained on performance events)")
    music.add_argument("--composer", metavar="NAME", default=None,
                       help="for a bundle trained with --composers: write like this composer (a subfolder name "
                       "of its MIDI folder), seeded from their pieces (default: the composer with most files)")
    music.add_argument("--prime", metavar="FILE.mid", default=None,
                       help="start from the end of this MIDI file instead of a random training window; unknown "
                       "tokens become the nearest known token, a short file is padded with training data; "
                       "with --num-songs, every song starts from it")

    sampling = parser.add_argument_group("sampling")
    sampling.add_argument("--top-k", metavar="K", type=int, default=1,
                          help="1 = always the most likely token (the original); K = sample among the K most likely "
                          "(7 in the write-up); 0 = sample from the whole distribution")
    sampling.add_argument("--temperature", metavar="T", type=float, default=1.0,
                          help="below 1 sharpens the distribution before sampling, above 1 flattens it")
    sampling.add_argument("--free-note-lengths", action="store_true",
                          help="performance events: hold a note as long as sampled (by default no note sounds longer "
                          "than 999 in 1000 of the composer's training notes)")
    sampling.add_argument("--seed", metavar="N", type=int, default=None,
                          help="random seed for the seed window and sampling; the same seed and bundle give a "
                          "byte-identical MIDI file (default: different every run)")

    look = parser.add_argument_group("look, listen, measure (a report is always printed)")
    look.add_argument("--plot", action="store_true", help="draw a piano-roll PNG beside each MIDI file (same name, .png)")
    look.add_argument("--wav", action="store_true",
                      help="render each MIDI file to WAV beside it with FluidSynth "
                      "(once: sudo apt-get install fluidsynth timgm6mb-soundfont)")
    look.add_argument("--report", metavar="PATH", default=None,
                      help="also write the report of every song (and the flags) to this JSON file")
    return parser.parse_args(argv)


def output_paths(output: str, num_songs: int) -> list[Path]:
    output = Path(output)
    if num_songs == 1:
        return [output]
    return [output.with_name(f"{output.stem}-{number}{output.suffix}") for number in range(1, num_songs + 1)]


def check_arguments(arguments: argparse.Namespace) -> None:
    if arguments.num_notes < 1:
        raise UserError("--num-notes must be at least 1")
    if arguments.num_songs < 1:
        raise UserError("--num-songs must be at least 1")
    if arguments.top_k < 0:
        raise UserError("--top-k must be 0 (whole distribution), 1 (argmax) or more")
    if not arguments.temperature > 0:
        raise UserError("--temperature must be above 0")
    if arguments.bpm is not None and not arguments.bpm > 0:
        raise UserError("--bpm must be above 0")
    folder = Path(arguments.output).parent
    if not folder.is_dir():
        raise UserError(f"the folder {folder} for --output does not exist; create it or choose another path")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise UserError(f"the folder {folder} for --output is not writable; choose another path")
    for path in output_paths(arguments.output, arguments.num_songs):
        if path.is_dir():
            raise UserError(f"--output {path} is a folder; give a file name, such as {path / 'output.mid'}")
    from music21 import instrument
    from music21.exceptions21 import InstrumentException

    try:
        instrument.fromString(arguments.instrument)
    except InstrumentException:
        raise UserError(f"music21 knows no instrument called '{arguments.instrument}'; try Piano, Harpsichord or Violin") from None
    from classical_composer.listen import check_listening_flags

    check_listening_flags(arguments.prime, arguments.wav, arguments.report)
    check_bundle_folder(arguments.weights)  # before TensorFlow takes seconds to load


def main() -> None:
    arguments = parse_arguments()
    check_arguments(arguments)
    quiet_tensorflow()
    from classical_composer.bundle import load_bundle
    from classical_composer.predict import compose_for_bundle, song_rules

    bundle = load_bundle(arguments.weights)  # load
    if arguments.top_k > len(bundle.vocabulary):
        raise UserError(f"--top-k {arguments.top_k} is more than the bundle's {len(bundle.vocabulary)} tokens")
    composer, starts, random = seed(arguments, bundle)  # seed
    ending = song_rules(bundle, composer, limit_note_lengths=not arguments.free_note_lengths)
    composed = compose_for_bundle(bundle, starts, arguments.num_notes, arguments.top_k, arguments.temperature,
                                  random, composer, ending)  # generate: one array of token indices per song
    write_and_report(arguments, bundle, starts, composed)  # write, report


def seed(arguments: argparse.Namespace, bundle) -> tuple:
    """(the composer's number or None, the start windows (songs, time), the random generator sampling goes on with)."""
    from classical_composer.listen import primed_start_windows
    from classical_composer.predict import composer_name, composer_number, pieces_of_composer, seed_windows

    composer = composer_number(bundle, arguments.composer)  # None without --composers
    if composer is not None:
        print(f"composer: {composer_name(bundle.composers[composer])}")
    random = np.random.default_rng(arguments.seed)
    if arguments.prime:
        return composer, primed_start_windows(arguments.prime, bundle, arguments.num_songs, random), random
    try:
        starts = seed_windows(pieces_of_composer(bundle, composer), bundle.settings.sequence_length,
                              arguments.num_songs, random)
    except ValueError as error:
        raise UserError(f"the bundle in {arguments.weights} cannot seed generation: {error}") from None
    return composer, starts, random


def write_and_report(arguments: argparse.Namespace, bundle, starts, composed: list) -> None:
    """Write each song as MIDI, then report on it (and draw it, render it) as asked."""
    from classical_composer.listen import after_writing, write_report_json
    from classical_composer.predict import write_midi
    from classical_composer.report import training_reference

    reference = training_reference(bundle.vocabulary.tokens, bundle.training_pieces, bundle.representation)
    song_reports = []
    for path, start, song in zip(output_paths(arguments.output, arguments.num_songs), starts, composed):
        try:
            write_midi(bundle.vocabulary.decode(song), path, bundle.representation, arguments.instrument, arguments.bpm)
        except OSError as error:  # a full disk, or a file that cannot be replaced
            raise UserError(f"cannot write {path} ({error.strerror or error}); choose another --output") from None
        print(f"wrote {path}")  # its figures follow in the report
        song_reports.append(after_writing(path, start, song, bundle, reference, plot=arguments.plot, wav=arguments.wav))
    if arguments.report:
        write_report_json(arguments.report, vars(arguments), song_reports)


if __name__ == "__main__":
    run(main)
