"""The comparisons benchmarks/run.py makes, each timed and printed as a table.

In:  a Plan (how many notes, files, steps and repeats) and what each
     comparison needs: the faithful network, seed windows, a MIDI folder.
Out: for each comparison a dict of figures (medians over repeats), their
     ratio and whether its goal was met; and the table printed on the way.

The original's way of doing each thing lives in original.py; this module
only times it against the project's own functions.
"""

import contextlib
import dataclasses
import io
import os
import shutil
import statistics
import tempfile
import time
import tracemalloc
from dataclasses import dataclass
from pathlib import Path

import keras
import numpy as np

from benchmarks.original import (
    compile_original_way, generate_original, original_array_bytes, original_arrays, original_network, parse_one_by_one,
)
from classical_composer.network import build_network
from classical_composer.corpus import Piece, midi_files_in, parse_folder
from classical_composer.predict import generate, probability_function
from classical_composer.prepare_sequences import NetworkInput, Vocabulary, WindowBatches, make_windows
from classical_composer.settings import Settings
from classical_composer.training import make_training_variables

# --- What is compared, and how big ------------------------------------------------

GENERATION_VOCABULARY = 350  # about the faithful vocabulary of midi_songs/
BATCH_SONGS = 8  # songs in the batched run
PREPARE_TOKENS = 200_000  # the prepare comparison: tokens, vocabulary and window as in the issue
PREPARE_VOCABULARY = 2_000
PREPARE_PIECE_TOKENS = 2_000  # tokens per made-up piece (100 pieces)
TRAIN_VOCABULARY = GENERATION_VOCABULARY

# The goals each ratio is held to: (comparison, figure) -> (test, words).
GOALS = {
    ("generation", "ratio"): (lambda ratio: ratio >= 10, ">= 10x"),
    ("generation", "identical"): (lambda same: same, "identical"),
    ("batch", "ratio"): (lambda ratio: ratio <= 2, "<= 2x (aim 1.5x)"),
    ("parse", "ratio"): (lambda ratio: ratio >= 1.6, ">= 1.6x on 2 cores"),
    ("parse", "warm_ratio"): (lambda ratio: ratio >= 20, ">= 20x"),
    ("prepare", "ratio"): (lambda ratio: ratio <= 1 / 50, "<= 1/50"),
    ("train", "ratio"): (lambda ratio: ratio >= 1.0, ">= 1.0x"),
    ("train", "mixed_precision_ratio"): (lambda ratio: ratio >= 1.6, ">= 1.6x where the CPU has bfloat16"),
}


@dataclass(frozen=True)
class Plan:
    """How many notes, files, steps and repeats each comparison uses."""

    original_chunks: int  # the original loop is timed in this many chunks, each going on where the last stopped
    notes_per_chunk: int  # notes in one chunk; chunks x notes = the notes compared for identity
    repeats: int  # repeats of every cheap measurement (our generation, batches)
    batch_notes: int  # notes per song in the batch comparison
    parse_every: int  # parse every n-th file of --midi-dir (1 = all of them; all of midi_songs/ take minutes)
    parse_repeats: int
    train_steps: dict  # preset -> gradient steps per timed fit (the first one is not counted)
    train_rounds: int  # timed fits of each kind, taken in turns


FULL = Plan(original_chunks=5, notes_per_chunk=20, repeats=5, batch_notes=100, parse_every=8, parse_repeats=2,
            train_steps={"original": 6, "small": 12}, train_rounds=4)
QUICK = Plan(original_chunks=4, notes_per_chunk=5, repeats=3, batch_notes=30, parse_every=32, parse_repeats=1,
             train_steps={"original": 3, "small": 8}, train_rounds=2)


# --- Helpers ---------------------------------------------------------------------------


def timed(function, *arguments, **keywords) -> tuple[float, float, object]:
    """(wall seconds, CPU seconds of this process, result) of one call."""
    start, cpu_start = time.perf_counter(), time.process_time()
    result = function(*arguments, **keywords)
    return time.perf_counter() - start, time.process_time() - cpu_start, result


def median(values) -> float:
    return float(statistics.median(values))


def verdict(comparison: str, figure: str, value) -> str:
    test, words = GOALS[(comparison, figure)]
    return f"goal {words}: {'met' if test(value) else 'MISSED'}"


def print_table(title: str, rows: list[tuple[str, str, str]]) -> None:
    """rows: (what, measured, goal or remark)."""
    print(f"\n{title}")
    width = max(len(what) for what, _, _ in rows)
    for what, measured, remark in rows:
        print(f"  {what:<{width}}  {measured:>14}  {remark}")


def add_goals(comparison: str, figures: dict) -> dict:
    """Record, beside each figure that has a goal, whether it was met."""
    for (name, figure), (test, _) in GOALS.items():
        if name == comparison and figure in figures:
            figures[f"{figure}_goal_met"] = bool(test(figures[figure]))
    return figures


# --- Generation: the original loop against the compiled path -------------------------


def compare_generation(model, settings: Settings, start_window: np.ndarray, plan: Plan) -> dict:
    """s/note of the original loop and of predict.py's path, from the same window, and whether they agree."""
    vocabulary_size = GENERATION_VOCABULARY
    model.predict(start_window[np.newaxis, :, np.newaxis] / vocabulary_size, verbose=0)  # build predict once

    original_tokens, original_per_note, original_cpu_per_note = [], [], []
    window = start_window
    for _ in range(plan.original_chunks):
        seconds, cpu_seconds, chunk = timed(generate_original, model, window, plan.notes_per_chunk, vocabulary_size)
        original_per_note.append(seconds / plan.notes_per_chunk)
        original_cpu_per_note.append(cpu_seconds / plan.notes_per_chunk)
        original_tokens.extend(chunk)
        window = np.concatenate([window, chunk])[-settings.sequence_length :]  # go on where this chunk stopped

    num_notes = len(original_tokens)
    probabilities_of = probability_function(model)
    first_call_seconds, _, _ = timed(generate, probabilities_of, NetworkInput(vocabulary_size),
                                     start_window[np.newaxis], 1)
    ours_per_note, ours_cpu_per_note = [], []
    for _ in range(plan.repeats):
        seconds, cpu_seconds, composed = timed(generate, probabilities_of, NetworkInput(vocabulary_size),
                                               start_window[np.newaxis], num_notes)
        ours_per_note.append(seconds / num_notes)
        ours_cpu_per_note.append(cpu_seconds / num_notes)

    figures = {
        "notes": num_notes,
        "original_s_per_note": median(original_per_note),
        "ours_s_per_note": median(ours_per_note),
        "original_cpu_s_per_note": median(original_cpu_per_note),
        "ours_cpu_s_per_note": median(ours_cpu_per_note),
        "ours_first_call_s": first_call_seconds,
        "identical": bool(np.array_equal(composed[0], original_tokens)),
    }
    figures["ratio"] = figures["original_s_per_note"] / figures["ours_s_per_note"]
    figures["cpu_ratio"] = figures["original_cpu_s_per_note"] / figures["ours_cpu_s_per_note"]
    print_table(
        f"generation: faithful network, vocabulary {vocabulary_size}, {num_notes} notes from one seed window, argmax",
        [
            ("original: model.predict every note", f"{figures['original_s_per_note']:.3f} s/note",
             f"{figures['original_cpu_s_per_note']:.3f} s CPU a note"),
            ("ours: compiled inference copy", f"{figures['ours_s_per_note']:.4f} s/note",
             f"{figures['ours_cpu_s_per_note']:.4f} s CPU a note (+ {first_call_seconds:.1f} s to compile, once)"),
            ("speed-up", f"{figures['ratio']:.1f}x",
             verdict("generation", "ratio", figures["ratio"]) + f" ({figures['cpu_ratio']:.1f}x in CPU)"),
            ("same tokens", "yes" if figures["identical"] else "NO",
             verdict("generation", "identical", figures["identical"])),
        ],
    )
    return add_goals("generation", figures)


def compare_batch(model, settings: Settings, start_windows: np.ndarray, plan: Plan) -> dict:
    """Seconds for `batch_notes` notes of 8 songs at once against 1 song, in alternating repeats.

    The CPU time of this process is recorded too: a batch is spread over the
    cores, so on a machine whose cores are busy with other work the batch's
    wall time climbs towards its CPU time.
    """
    vocabulary_size = GENERATION_VOCABULARY
    probabilities_of = probability_function(model)
    one_song = start_windows[:1]
    for windows in (one_song, start_windows):  # compile for both batch sizes before timing
        generate(probabilities_of, NetworkInput(vocabulary_size), windows, 1)
    seconds = {"one_song": [], "batch": []}
    cpu_seconds = {"one_song": [], "batch": []}
    for _ in range(plan.repeats):
        for name, windows in (("one_song", one_song), ("batch", start_windows)):
            wall, cpu, _ = timed(generate, probabilities_of, NetworkInput(vocabulary_size), windows, plan.batch_notes)
            seconds[name].append(wall)
            cpu_seconds[name].append(cpu)
    figures = {
        "notes": plan.batch_notes,
        "songs": len(start_windows),
        "one_song_s": median(seconds["one_song"]),
        "batch_s": median(seconds["batch"]),
        "one_song_cpu_s": median(cpu_seconds["one_song"]),
        "batch_cpu_s": median(cpu_seconds["batch"]),
    }
    figures["ratio"] = figures["batch_s"] / figures["one_song_s"]
    figures["cpu_ratio"] = figures["batch_cpu_s"] / figures["one_song_cpu_s"]
    per_step = {name: 1000 * figures[f"{name}_s"] / plan.batch_notes for name in ("one_song", "batch")}
    print_table(
        f"batch: {plan.batch_notes} notes, {len(start_windows)} songs in one batch against 1 song",
        [
            ("1 song", f"{figures['one_song_s']:.2f} s", f"{per_step['one_song']:.0f} ms a step"),
            (f"{len(start_windows)} songs (--num-songs {len(start_windows)})", f"{figures['batch_s']:.2f} s",
             f"{per_step['batch']:.0f} ms a step"),
            ("cost of the batch", f"{figures['ratio']:.2f}x", verdict("batch", "ratio", figures["ratio"])),
            ("cost of the batch in CPU time", f"{figures['cpu_ratio']:.2f}x", "(the work, whatever the cores)"),
        ],
    )
    return add_goals("batch", figures)


# --- Parsing: one process without cache, cold cache with a pool, warm cache ------------


def compare_parse(midi_dir: Path, plan: Plan) -> dict:
    """Seconds to parse the same files: in one process without a cache, then with our cold and warm cache."""
    encoding = Settings().encoding()
    paths = midi_files_in(midi_dir)[:: plan.parse_every]
    one_process, cold, warm = [], [], []
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch) / "midi"
        folder.mkdir()
        for path in paths:  # parse_folder reads a folder, so the chosen files get one of their own
            copy = folder / path.relative_to(midi_dir)  # in their composer's subfolder, where names may repeat
            copy.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(path, copy)
        for repeat in range(plan.parse_repeats):
            one_process.append(timed(parse_one_by_one, paths, encoding)[0])
            cache = Path(scratch) / f"cache-{repeat}"  # a fresh, empty cache: every file is parsed
            with contextlib.redirect_stdout(io.StringIO()):  # the progress bar would break the table
                cold.append(timed(parse_folder, folder, encoding, cache_dir=cache)[0])
                warm.append(timed(parse_folder, folder, encoding, cache_dir=cache)[0])
    figures = {
        "files": len(paths),
        "workers": os.cpu_count(),
        "one_process_s": median(one_process),
        "cold_s": median(cold),
        "warm_s": median(warm),
    }
    figures["ratio"] = figures["one_process_s"] / figures["cold_s"]
    figures["warm_ratio"] = figures["one_process_s"] / figures["warm_s"]
    print_table(
        f"parse: {len(paths)} files of {midi_dir}" + (f" (1 in {plan.parse_every})" if plan.parse_every > 1 else ""),
        [
            ("one process, no cache (original way)", f"{figures['one_process_s']:.1f} s", ""),
            (f"cold cache, pool of {figures['workers']} processes", f"{figures['cold_s']:.1f} s",
             verdict("parse", "ratio", figures["ratio"]) + f" (is {figures['ratio']:.2f}x)"),
            ("warm cache", f"{figures['warm_s']:.2f} s",
             verdict("parse", "warm_ratio", figures["warm_ratio"]) + f" (is {figures['warm_ratio']:.0f}x)"),
        ],
    )
    return add_goals("parse", figures)


# --- Preparing training data: memory ----------------------------------------------------


def made_up_pieces(token_count: int, vocabulary_size: int, piece_tokens: int, random) -> list[Piece]:
    """Pieces of random tokens in which every one of `vocabulary_size` tokens occurs."""
    names = np.array([f"token{number}" for number in range(vocabulary_size)])
    indices = random.integers(vocabulary_size, size=token_count)
    indices[:vocabulary_size] = np.arange(vocabulary_size)
    return [Piece(f"piece{start // piece_tokens}", names[indices[start : start + piece_tokens]].tolist())
            for start in range(0, token_count, piece_tokens)]


def compare_prepare(random) -> dict:
    """The original's array bytes (computed) against our measured peak while windowing and batching one epoch."""
    sequence_length = Settings().sequence_length
    pieces = made_up_pieces(PREPARE_TOKENS, PREPARE_VOCABULARY, PREPARE_PIECE_TOKENS, random)
    vocabulary = Vocabulary.of_pieces(pieces)

    # numpy reports its allocations to tracemalloc, so the peak covers the arrays too.
    tracemalloc.start()
    windows = make_windows(pieces, vocabulary, sequence_length)
    batches = WindowBatches(windows, NetworkInput(len(vocabulary)), Settings().batch_size, shuffle=True)
    for batch_number in range(len(batches)):
        batches[batch_number]
    batches.on_epoch_end()
    _, peak_bytes = tracemalloc.get_traced_memory()
    tracemalloc.stop()

    figures = {
        "tokens": PREPARE_TOKENS,
        "vocabulary": len(vocabulary),
        "sequence_length": sequence_length,
        "original_bytes": original_array_bytes(PREPARE_TOKENS, sequence_length, len(vocabulary)),
        "ours_peak_bytes": peak_bytes,
    }
    figures["ratio"] = figures["ours_peak_bytes"] / figures["original_bytes"]
    print_table(
        f"prepare: {PREPARE_TOKENS:,} tokens, vocabulary {len(vocabulary):,}, windows of {sequence_length}",
        [
            ("original: float64 windows + one-hot targets", f"{figures['original_bytes'] / 2**20:,.0f} MiB",
             "(computed, not allocated)"),
            ("ours: peak of windows + one epoch of batches", f"{figures['ours_peak_bytes'] / 2**20:,.1f} MiB",
             "(measured with tracemalloc)"),
            ("ours / original", f"1/{1 / figures['ratio']:,.0f}", verdict("prepare", "ratio", figures["ratio"])),
        ],
    )
    return add_goals("prepare", figures)


# --- Training: windows a second ------------------------------------------------------------


class StepTimer(keras.callbacks.Callback):
    """Wall and CPU seconds between the ends of consecutive gradient steps.

    The first step of every fit is left out: it waits for the data pipeline
    to start (and, the first time, for the graph to be traced).
    """

    def __init__(self):
        super().__init__()
        self.seconds, self.cpu_seconds, self.last_end = [], [], None

    def on_train_begin(self, logs=None):
        self.last_end = None

    def on_train_batch_end(self, batch, logs=None):
        now = (time.perf_counter(), time.process_time())
        if self.last_end is not None:
            self.seconds.append(now[0] - self.last_end[0])
            self.cpu_seconds.append(now[1] - self.last_end[1])
        self.last_end = now


def random_training_windows(settings: Settings, steps: int, random) -> tuple[np.ndarray, np.ndarray]:
    """Random token indices for `steps` batches, and our windows over them."""
    token_indices = random.integers(TRAIN_VOCABULARY, size=settings.batch_size * steps + settings.sequence_length)
    vocabulary = Vocabulary([f"token{number}" for number in range(TRAIN_VOCABULARY)])
    windows = make_windows([Piece("random", vocabulary.decode(token_indices))], vocabulary, settings.sequence_length)
    return token_indices, windows


def mixed_precision_network(settings: Settings) -> keras.Model:
    """The network with --mixed-precision, built as train.py builds it (each layer is given its dtype policy)."""
    return build_network(dataclasses.replace(settings, mixed_precision=True), TRAIN_VOCABULARY, fast_lstm=True)


def training_contenders(preset: str, steps: int, random, with_mixed_precision: bool) -> dict:
    """name -> (model, fit arguments) for the ways of training one preset on random tokens."""
    settings = Settings(preset=preset)
    batch_size = settings.batch_size
    token_indices, windows = random_training_windows(settings, steps, random)
    windows_original, targets_one_hot = original_arrays(token_indices, settings.sequence_length, TRAIN_VOCABULARY)

    def our_batches():
        return {"x": WindowBatches(windows, NetworkInput(TRAIN_VOCABULARY), batch_size, shuffle=True)}

    def original_batches():
        return {"x": windows_original, "y": targets_one_hot, "batch_size": batch_size}

    contenders = {
        "original way": (compile_original_way(original_network(settings, TRAIN_VOCABULARY)), original_batches),
        "ours": (build_network(settings, TRAIN_VOCABULARY, fast_lstm=True), our_batches),
        # Our network fed the original way: what the feeding alone changes.
        "our network, original feeding": (
            compile_original_way(build_network(settings, TRAIN_VOCABULARY, fast_lstm=True)), original_batches),
    }
    if with_mixed_precision:
        contenders["ours, --mixed-precision"] = (mixed_precision_network(settings), our_batches)
    return contenders


def timed_fits(contenders: dict, rounds: int) -> dict:
    """name -> StepTimer of `rounds` timed fits of each contender, taken in turns.

    contenders: name -> (model, a function giving model.fit's data arguments).
    """
    timers = {name: StepTimer() for name in contenders}
    for name, (model, fit_arguments) in contenders.items():  # trace and compile before timing
        arguments = fit_arguments()
        if isinstance(arguments["x"], keras.utils.PyDataset):  # the project's batches: made ready as train.py does
            make_training_variables(model, arguments["x"][0])
        model.fit(**arguments, epochs=1, steps_per_epoch=1, verbose=0)
    names = list(contenders)
    for round_number in range(rounds):
        # Every other round in reverse, so that no way of training always runs first or last.
        for name in names if round_number % 2 == 0 else reversed(names):
            model, fit_arguments = contenders[name]
            model.fit(**fit_arguments(), epochs=1, callbacks=[timers[name]], verbose=0)
    return timers


def training_speed(preset: str, plan: Plan, random, with_mixed_precision: bool) -> dict:
    """name -> (windows a second, CPU milliseconds a window), medians, each way timed in turns."""
    contenders = training_contenders(preset, plan.train_steps[preset], random, with_mixed_precision)
    timers = timed_fits(contenders, plan.train_rounds)
    batch_size = Settings(preset=preset).batch_size
    return {name: (batch_size / median(timer.seconds), 1000 * median(timer.cpu_seconds) / batch_size)
            for name, timer in timers.items()}


def speed_figures(speeds: dict, name: str, reference: str, prefix: str) -> dict:
    """The figures of one way of training against another: windows a second, CPU per window, and their ratios."""
    (windows_per_s, cpu_ms), (reference_windows_per_s, reference_cpu_ms) = speeds[name], speeds[reference]
    return {
        f"{prefix}windows_per_s": windows_per_s,
        f"{prefix}cpu_ms_per_window": cpu_ms,
        f"{prefix}ratio": windows_per_s / reference_windows_per_s,
        f"{prefix}cpu_ratio": reference_cpu_ms / cpu_ms,  # above 1: less work a window
    }


def compare_train(plan: Plan, random, cpu_has_bf16) -> dict:
    """Windows a second of the faithful and small networks, fed the original way and ours; and bfloat16."""
    faithful = training_speed("original", plan, random, with_mixed_precision=True)
    small = training_speed("small", plan, random, with_mixed_precision=False)
    original_way = {"original_way_windows_per_s": faithful["original way"][0],
                    "original_way_cpu_ms_per_window": faithful["original way"][1]}
    figures = {
        **original_way,
        **speed_figures(faithful, "ours", "original way", prefix="ours_"),
        **speed_figures(faithful, "ours", "our network, original feeding", prefix="feeding_"),
        **speed_figures(faithful, "ours, --mixed-precision", "ours", prefix="mixed_precision_"),
        "cpu_has_bf16": cpu_has_bf16,
        "small": {
            "original_way_windows_per_s": small["original way"][0],
            "original_way_cpu_ms_per_window": small["original way"][1],
            **speed_figures(small, "ours", "original way", prefix="ours_"),
            **speed_figures(small, "ours", "our network, original feeding", prefix="feeding_"),
        },
    }
    # The goals are named as in the issue: train.ratio and train.mixed_precision_ratio.
    figures["ratio"] = figures.pop("ours_ratio")
    figures["small"]["ratio"] = figures["small"].pop("ours_ratio")

    def row(label, speeds, name, remark=""):
        windows_per_s, cpu_ms = speeds[name]
        return (label, f"{windows_per_s:.1f} /s", f"{cpu_ms:5.1f} ms CPU a window  {remark}")

    mixed_goal = (verdict("train", "mixed_precision_ratio", figures["mixed_precision_ratio"]) if cpu_has_bf16
                  else "(no goal: the CPU has no bfloat16 instructions)")
    bf16_words = {True: "yes", False: "no", None: "unknown"}[cpu_has_bf16]
    print_table(
        f"train: windows a second, batches of {Settings().batch_size}, vocabulary {TRAIN_VOCABULARY}; "
        f"CPU has bfloat16 instructions: {bf16_words}",
        [
            row("faithful, original way (keras LSTM, float64 + one-hot)", faithful, "original way"),
            row("faithful, ours (FastLSTM, int windows, sparse)", faithful, "ours",
                verdict("train", "ratio", figures["ratio"]) + f" (is {figures['ratio']:.2f}x; "
                f"{figures['ours_cpu_ratio']:.2f}x in CPU)"),
            row("faithful, our network fed the original way", faithful, "our network, original feeding",
                f"(our feeding is {figures['feeding_ratio']:.2f}x this: the feeding alone; no goal)"),
            row("faithful, ours --mixed-precision", faithful, "ours, --mixed-precision",
                mixed_goal + f" (is {figures['mixed_precision_ratio']:.2f}x float32; "
                f"{figures['mixed_precision_cpu_ratio']:.2f}x in CPU)"),
            row("small, original way", small, "original way"),
            row("small, ours", small, "ours",
                f"(is {figures['small']['ratio']:.2f}x; {figures['small']['ours_cpu_ratio']:.2f}x in CPU; no goal)"),
            row("small, our network fed the original way", small, "our network, original feeding",
                f"(our feeding is {figures['small']['feeding_ratio']:.2f}x this; no goal)"),
        ],
    )
    add_goals("train", figures)
    if not cpu_has_bf16:
        figures.pop("mixed_precision_ratio_goal_met")  # the goal only holds where bfloat16 is in hardware
    return figures
