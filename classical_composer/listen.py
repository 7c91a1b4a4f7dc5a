"""What predict.py does around `generate`: start from your own MIDI, then look, listen and measure.

In:  a bundle, a primer MIDI file (--prime), and the MIDI files predict.py wrote.
Out: the start window from the end of the primer (`primed_window`), and for
     each written song its report (printed, and as JSON with --report), its
     piano-roll PNG (--plot) and its WAV rendering (--wav).

Priming. The primer is read like a training file, with the bundle's own
encoding settings (so a note-token bundle trained with --transpose hears the
primer in C major / A minor too), and its LAST `sequence_length` tokens become the start
window: the music continues where the primer stops. A primer token the
vocabulary lacks is replaced by the nearest known token (the representation's
`nearest_known` says how). A primer shorter than the window is padded at the front with a
random stretch of the training data, so that its own notes are the last the
network reads before it composes.

Listening. --wav renders with the FluidSynth program and a General MIDI sound
font (Debian packages fluidsynth and timgm6mb-soundfont). Without them,
predict.py stops before generating, with one sentence on how to install them:
a user who asked to hear the piece would rather know at once than find a
warning after the wait.
"""

import json
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from classical_composer.cli import UserError
from classical_composer.corpus import UnreadableMidi, parse_midi_file
from classical_composer.report import TrainingReference, format_report, generation_report

# --- Checks before generating ----------------------------------------------------

# Where Debian's fluid-soundfont-gm and timgm6mb-soundfont put their General MIDI sound fonts, first choice first.
SOUND_FONTS = ("/usr/share/sounds/sf2/FluidR3_GM.sf2", "/usr/share/sounds/sf2/default-GM.sf2")
SAMPLE_RATE = 44100  # samples per second of the WAV file, CD quality
INSTALL_SENTENCE = ("--wav needs FluidSynth and a General MIDI sound font; install them with "
                    "'sudo apt-get install fluidsynth timgm6mb-soundfont', or leave out --wav")


def wav_renderer() -> tuple[str, Path] | None:
    """(fluidsynth program, sound font) when both are installed, else None."""
    program = shutil.which("fluidsynth")
    sound_font = next((Path(path) for path in SOUND_FONTS if Path(path).is_file()), None)
    return (program, sound_font) if program and sound_font else None


def check_listening_flags(prime: str | None, wav: bool, report: str | None) -> None:
    """Refuse --prime, --wav and --report before the slow part when they cannot work."""
    if prime is not None and not Path(prime).is_file():
        raise UserError(f"there is no MIDI file {prime} to prime with; give the path of a .mid file")
    if wav and wav_renderer() is None:
        raise UserError(INSTALL_SENTENCE)
    if report is not None and not Path(report).parent.is_dir():
        raise UserError(f"the folder for --report {report} does not exist; create it or choose another path")


# --- Priming ------------------------------------------------------------------------

@dataclass
class PrimedWindow:
    indices: np.ndarray  # (sequence_length,) token indices the network reads first
    primer_tokens: int  # tokens read from the primer file
    replaced: int  # primer tokens the vocabulary lacks, replaced by the nearest known token
    padded: int  # tokens of training data put in front because the primer is short


def primed_window(midi_path: Path, bundle, random: np.random.Generator) -> PrimedWindow:
    """The start window from the end of a MIDI file, encoded and mapped to the bundle's vocabulary."""
    from classical_composer.predict import seed_windows  # loads Keras, so not at import time

    length = bundle.settings.sequence_length
    try:
        primer = parse_midi_file(Path(midi_path), bundle.settings.encoding())[-length:]
    except UnreadableMidi as error:
        raise UserError(f"cannot prime with {midi_path}: {error}") from None
    known = bundle.vocabulary.tokens
    nearest_known = bundle.representation.nearest_known
    mapped = [token if token in bundle.vocabulary.index_of else nearest_known(token, known) for token in primer]
    replaced = sum(token != kept for token, kept in zip(primer, mapped))
    padding = np.zeros(0, dtype=np.int32)
    if len(primer) < length:
        try:
            padding = seed_windows(bundle.training_pieces, length - len(primer), 1, random)[0]
        except ValueError as error:
            raise UserError(f"{midi_path} is too short to prime with and the training data cannot pad it: {error}") from None
    indices = np.concatenate([padding, bundle.vocabulary.encode(mapped)]).astype(np.int32)
    return PrimedWindow(indices, len(primer), replaced, len(padding))


def primed_start_windows(midi_path: Path, bundle, num_songs: int, random: np.random.Generator) -> np.ndarray:
    """The primed window once per song, (songs, time): every song starts from it, the sampling differs."""
    primed = primed_window(midi_path, bundle, random)
    print(describe_primer(midi_path, primed))
    return np.repeat(primed.indices[np.newaxis], num_songs, axis=0)


def describe_primer(midi_path: Path, primed: PrimedWindow) -> str:
    """What priming did, in a sentence or two for the terminal."""
    lines = [f"seed window: the last {primed.primer_tokens} tokens of {midi_path}; "
             f"{primed.replaced} of them were not in the vocabulary and were replaced by the nearest known token"]
    if primed.padded:
        lines.append(f"{midi_path} is shorter than the {len(primed.indices)}-token window, so the window starts "
                     f"with {primed.padded} tokens from the training data")
    return "\n".join(lines)


# --- After each song is written ------------------------------------------------------


def render_wav(midi_path: Path, wav_path: Path | None = None) -> Path:
    """Render a MIDI file to WAV with FluidSynth; by default beside it, same name, .wav."""
    renderer = wav_renderer()
    if renderer is None:
        raise UserError(INSTALL_SENTENCE)
    program, sound_font = renderer
    wav_path = Path(midi_path).with_suffix(".wav") if wav_path is None else Path(wav_path)
    # -n: no MIDI input device, -i: no interactive shell, -q: quiet, -F: render to this file.
    command = [program, "-n", "-i", "-q", "-F", str(wav_path), "-r", str(SAMPLE_RATE), str(sound_font), str(midi_path)]
    finished = subprocess.run(command, capture_output=True, text=True)
    if finished.returncode != 0 or not wav_path.is_file():
        reason = (finished.stderr or finished.stdout).strip().splitlines()[-1:] or ["no message"]
        raise UserError(f"{midi_path} was written, but FluidSynth could not render it to {wav_path} ({reason[0]})")
    return wav_path


def after_writing(midi_path: Path, start_window: np.ndarray, composed: np.ndarray, bundle,
                  reference: TrainingReference, plot: bool = False, wav: bool = False) -> dict:
    """Report on one written song (printed), draw it and render it as asked; return its report.

    reference: report.training_reference of the bundle, worked out once for all its songs.
    """
    report = generation_report(composed, reference)
    print(format_report(report))
    report = {"midi": str(midi_path), **report, "seed_window": bundle.vocabulary.decode(start_window)}
    if plot:
        from classical_composer.plot import plot_midi  # matplotlib, only when a picture is wanted

        report["png"] = str(plot_midi(midi_path))
        print(f"  drew {report['png']}")
    if wav:
        report["wav"] = str(render_wav(midi_path))
        print(f"  rendered {report['wav']}")
    return report


def write_report_json(path: Path, flags: dict, song_reports: list[dict]) -> None:
    """Write the flags predict.py ran with and every song's report as one JSON file."""
    Path(path).write_text(json.dumps({"flags": flags, "songs": song_reports}, indent=1) + "\n")
    print(f"wrote the report to {path}")
