"""Chunks against sliding windows in training, and a carried state against a re-read window in generation.

    python benchmarks/chunks.py                  # full size: about 10 minutes on 2 busy cores
    python benchmarks/chunks.py --quick          # fewer batches and notes: about 7 (tracing takes the rest)
    python benchmarks/chunks.py --json out.json  # also write the figures as JSON
    python benchmarks/chunks.py --only generation  # one of the two comparisons

In:  nothing but the sizes below: random weights and random tokens, since how
     fast a network runs does not depend on what it has learnt.
Out: two tables, each figure the median over repeats, with the ratio and the
     goal it is held to; with --json the same figures as
     {"training": {"32": ..., "256": ...}, "generation": ...}.

The comparisons:
  training    new targets learned a second by the same network (small preset,
              --embedding 96, a target after every step) with the same batch
              size, fed windows slid one token at a time (each window adds one
              target the windows before it have not taught) against
              consecutive chunks (every target of every piece once an epoch),
              at sequence lengths 32 and 256. Each timed run is one
              model.fit epoch; the first batch of every fit is not timed.
  generation  seconds a note for one song, argmax, after a 256-token seed:
              the LSTM's state carried from note to note (predict.StateCarrier)
              against re-reading the whole 256-token window at every note
              (predict.WindowRereader), after checking that the carried state
              gives the probabilities of reading the whole song at once.

Nothing here assumes a CPU: network.fast_lstm_pays() picks the LSTM layer, as
train.py does. Results are in docs/benchmark.md.
"""

import argparse
import dataclasses
import sys
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a script from anywhere

from classical_composer.cli import quiet_tensorflow, run  # noqa: E402  (needs the path above)

quiet_tensorflow()  # before keras loads TensorFlow

import keras  # noqa: E402
import numpy as np  # noqa: E402

from benchmarks.comparisons import StepTimer, median, print_table, timed, timed_fits  # noqa: E402
from benchmarks.run import finish, machine  # noqa: E402
from classical_composer.network import any_length_copy, build_network, fast_lstm_pays  # noqa: E402
from classical_composer.predict import StateCarrier, WindowRereader, compose, probability_function  # noqa: E402
from classical_composer.prepare_sequences import NetworkInput, windows_of_indices  # noqa: E402
from classical_composer.settings import Settings  # noqa: E402
from classical_composer.training import training_batches  # noqa: E402

# --- What is compared, and how big ------------------------------------------------

GOAL_LENGTH = 32  # the sequence length the training goal is set at; other lengths are reported
TRAINING_GOAL = 16  # chunks must learn new targets at least this many times as fast as sliding windows
GENERATION_GOAL = 10  # the carried state must compose a note at least this many times as fast
CHECK_TOLERANCE = 1e-5  # the largest difference allowed between carried and whole-prefix probabilities


@dataclass(frozen=True)
class Plan:
    """The network, the made-up data and how much of each comparison is timed."""

    train_lengths: tuple = (32, 256)  # sequence lengths of the training comparison
    train_steps: int = 8  # batches of an epoch of sliding windows; the chunks get about as many
    train_rounds: int = 3  # timed epochs of each way of feeding, taken in turns
    notes: int = 500  # notes composed in each timed generation: as many as predict.py composes by default
    repeats: int = 3  # timed generations of each way of reading, taken in turns
    check_steps: int = 20  # notes over which the carried state is checked against reading the whole song
    seed_length: int = 256  # tokens of the seed window, and the window the re-reader reads
    preset: str = "small"
    embedding: int = 96
    batch_size: int = 32  # rows a gradient step
    # 223 is the number of distinct performance events in midi_songs/, and its 676 files
    # hold 1,036,961 events, about 1,530 a piece (docs/performance.md): the made-up
    # pieces are as long, so that chunks are cut and padded as they would be there.
    vocabulary: int = 223
    piece_tokens: tuple = (500, 2_500)  # shortest and longest made-up piece, in tokens


FULL = Plan()
QUICK = Plan(train_steps=4, train_rounds=2, notes=50, repeats=2)


def goal_words(met: bool, words: str) -> str:
    return f"goal {words}: {'met' if met else 'MISSED'}"


def accelerator() -> str:
    """The GPUs TensorFlow sees, by name, or that there are none."""
    import tensorflow as tf  # Keras runs on TensorFlow here

    gpus = tf.config.list_physical_devices("GPU")
    if not gpus:
        return "none (CPU only)"
    return ", ".join(tf.config.experimental.get_device_details(gpu).get("device_name", gpu.name) for gpu in gpus)


# --- Training: new targets learned a second ---------------------------------------


def made_up_pieces(token_count: int, plan: Plan, random) -> list[np.ndarray]:
    """Pieces of random token indices, each between the plan's shortest and longest, at least token_count in all."""
    pieces, total = [], 0
    while total < token_count:
        length = int(random.integers(plan.piece_tokens[0], plan.piece_tokens[1] + 1))
        pieces.append(random.integers(plan.vocabulary, size=length).astype(np.int32))
        total += length
    return pieces


def epoch_contents(batches) -> tuple[int, int]:
    """(rows, new targets) of one epoch of batches.

    A chunk's new targets are its real ones (weight 1; the padding has weight 0).
    A sliding window predicts every step too, but its neighbour, one token
    earlier, predicted all those targets but its last: one target a window is new.
    """
    rows = new_targets = 0
    for batch_number in range(len(batches)):
        batch = batches[batch_number]
        rows += len(batch[1])
        new_targets += int(batch[2].sum()) if len(batch) == 3 else len(batch[1])
    return rows, new_targets


def training_at(sequence_length: int, plan: Plan, random) -> dict:
    """Rows and new targets a second, fed sliding windows and fed chunks, at one sequence length."""
    chunk_settings = Settings(preset=plan.preset, embedding=plan.embedding, sequence_length=sequence_length,
                              batch_size=plan.batch_size, chunks=True)
    window_settings = dataclasses.replace(chunk_settings, chunks=False, every_step=True)
    # One network for both: with --chunks as with --every-step it predicts every step, (batch, time, vocabulary).
    model = build_network(chunk_settings, plan.vocabulary, fast_lstm=fast_lstm_pays())

    # Each way of feeding gets its own made-up data, sized so that an epoch is about train_steps batches.
    window_piece = random.integers(plan.vocabulary, size=plan.train_steps * plan.batch_size + sequence_length)
    windows = training_batches(windows_of_indices([window_piece], sequence_length), [window_piece], None,
                               plan.vocabulary, window_settings)
    chunk_pieces = made_up_pieces(plan.train_steps * plan.batch_size * sequence_length, plan, random)
    chunks = training_batches(None, chunk_pieces, None, plan.vocabulary, chunk_settings)

    feeds = {"sliding windows": windows, "chunks": chunks}
    contents = {name: epoch_contents(batches) for name, batches in feeds.items()}
    if contents["chunks"][1] != chunks.target_count:
        raise RuntimeError(f"an epoch of chunks taught {contents['chunks'][1]} targets, not every target of "
                           f"the pieces once ({chunks.target_count}): the speed would be counted wrongly")
    timers = timed_fits({name: (model, lambda batches=batches: {"x": batches}) for name, batches in feeds.items()},
                        plan.train_rounds)

    figures = {"sequence_length": sequence_length}
    for name, batches in feeds.items():
        rows, new_targets = contents[name]
        timer: StepTimer = timers[name]
        seconds, cpu_seconds = median(timer.seconds), median(timer.cpu_seconds)
        key = name.replace(" ", "_")
        figures[key] = {
            "batches_an_epoch": len(batches),
            # Chunks: a little under batch_size, since the cuts move each epoch and the number of batches stays.
            "rows_a_batch": rows / len(batches),
            "new_targets_a_batch": new_targets / len(batches),
            "s_a_batch": seconds,
            "rows_per_s": rows / len(batches) / seconds,
            "new_targets_per_s": new_targets / len(batches) / seconds,
            "new_targets_per_cpu_s": new_targets / len(batches) / cpu_seconds,
        }
    figures["ratio"] = figures["chunks"]["new_targets_per_s"] / figures["sliding_windows"]["new_targets_per_s"]
    figures["cpu_ratio"] = (figures["chunks"]["new_targets_per_cpu_s"]
                            / figures["sliding_windows"]["new_targets_per_cpu_s"])
    if sequence_length == GOAL_LENGTH:
        figures["ratio_goal_met"] = bool(figures["ratio"] >= TRAINING_GOAL)
    return figures


def compare_training(plan: Plan, random) -> dict:
    """Training figures at each of the plan's sequence lengths, keyed by the length; and their table."""
    results, rows = {}, []
    for sequence_length in plan.train_lengths:
        figures = training_at(sequence_length, plan, random)
        results[str(sequence_length)] = figures
        windows, chunks = figures["sliding_windows"], figures["chunks"]
        rows += [
            (f"length {sequence_length}, sliding windows", f"{windows['new_targets_per_s']:,.0f} /s",
             f"{windows['rows_per_s']:,.0f} rows/s ({windows['rows_a_batch']:.1f} a batch), 1 new target a row; "
             f"{1000 * windows['s_a_batch']:,.0f} ms a batch"),
            (f"length {sequence_length}, chunks", f"{chunks['new_targets_per_s']:,.0f} /s",
             f"{chunks['rows_per_s']:,.0f} rows/s ({chunks['rows_a_batch']:.1f} a batch), "
             f"{chunks['new_targets_a_batch'] / chunks['rows_a_batch']:.1f} real targets a row; "
             f"{1000 * chunks['s_a_batch']:,.0f} ms a batch"),
            (f"length {sequence_length}, chunks / windows", f"{figures['ratio']:,.1f}x",
             (goal_words(figures["ratio_goal_met"], f">= {TRAINING_GOAL}x") if "ratio_goal_met" in figures
              else "(no goal at this length)") + f" ({figures['cpu_ratio']:,.1f}x in CPU)"),
        ]
    print_table(f"training: new targets learned a second, {plan.preset} preset, --embedding {plan.embedding}, "
                f"batches of {plan.batch_size}, vocabulary {plan.vocabulary}", rows)
    return results


# --- Generation: seconds a note ---------------------------------------------------


def carried_state_difference(carrier: StateCarrier, model: keras.Model, seed_window: np.ndarray, steps: int) -> float:
    """The largest difference, over `steps` argmax notes, between the carried state's probabilities and
    those of the whole song (seed and notes so far) read at once by any_length_copy."""
    carried = [carrier.start(seed_window)]  # each (1, vocabulary)
    chosen = []
    for _ in range(steps - 1):
        chosen.append(np.argmax(carried[-1], axis=-1).astype(np.int32))  # (1,)
        carried.append(carrier.after(chosen[-1]))
    song = np.concatenate([seed_window, np.stack(chosen, axis=1)], axis=1)  # (1, seed + steps - 1)
    read_at_once = keras.ops.convert_to_numpy(any_length_copy(model)(song, training=False))  # (1, time, vocabulary)
    after_the_seed = read_at_once[:, seed_window.shape[1] - 1 :]  # (1, steps, vocabulary)
    return float(np.max(np.abs(np.stack(carried, axis=1) - after_the_seed)))


def compare_generation(plan: Plan, random) -> dict:
    """Seconds a note, carrying the state against re-reading the window, after checking the carried state."""
    settings = Settings(preset=plan.preset, embedding=plan.embedding, sequence_length=plan.seed_length,
                        batch_size=plan.batch_size, chunks=True)
    model = build_network(settings, plan.vocabulary, fast_lstm=fast_lstm_pays())
    seed_window = random.integers(plan.vocabulary, size=(1, plan.seed_length)).astype(np.int32)  # (songs, time)
    readers = {
        "carried state": StateCarrier(model, NetworkInput.of(settings, plan.vocabulary), songs=1),
        "re-reading the window": WindowRereader(probability_function(model), NetworkInput.of(settings, plan.vocabulary)),
    }

    # Two notes compile both shapes each reader is called with: the seed's and one note's
    # (before the check below, which would otherwise hide the carried state's compile time).
    first_call = {name: timed(compose, reader, seed_window, 2)[0] for name, reader in readers.items()}

    difference = carried_state_difference(readers["carried state"], model, seed_window, plan.check_steps)
    if not difference <= CHECK_TOLERANCE:
        raise RuntimeError(f"the carried state's probabilities differ from reading the whole song at once by "
                           f"{difference:.2e}, more than {CHECK_TOLERANCE:g}: the two readers compute different "
                           f"things, so their speeds cannot be compared")
    per_note = {name: [] for name in readers}
    cpu_per_note = {name: [] for name in readers}
    names = list(readers)
    for repeat in range(plan.repeats):
        for name in names if repeat % 2 == 0 else reversed(names):  # no reader always goes first
            seconds, cpu_seconds, _ = timed(compose, readers[name], seed_window, plan.notes)
            per_note[name].append(seconds / plan.notes)
            cpu_per_note[name].append(cpu_seconds / plan.notes)

    carried, reread = median(per_note["carried state"]), median(per_note["re-reading the window"])
    figures = {
        "notes": plan.notes,
        "seed_length": plan.seed_length,
        "carried_s_per_note": carried,
        "reread_s_per_note": reread,
        "carried_cpu_s_per_note": median(cpu_per_note["carried state"]),
        "reread_cpu_s_per_note": median(cpu_per_note["re-reading the window"]),
        "carried_first_call_s": first_call["carried state"],
        "reread_first_call_s": first_call["re-reading the window"],
        "check_steps": plan.check_steps,
        "check_max_difference": difference,
        "ratio": reread / carried,
    }
    figures["cpu_ratio"] = figures["reread_cpu_s_per_note"] / figures["carried_cpu_s_per_note"]
    figures["ratio_goal_met"] = bool(figures["ratio"] >= GENERATION_GOAL)
    print_table(
        f"generation: {plan.preset} preset, --embedding {plan.embedding}, vocabulary {plan.vocabulary}, "
        f"1 song of {plan.notes} notes after a {plan.seed_length}-token seed, argmax",
        [
            ("carried state = whole song read at once", f"{difference:.1e}",
             f"largest difference over {plan.check_steps} notes (must be <= {CHECK_TOLERANCE:g})"),
            (f"re-reading the {plan.seed_length}-token window", f"{reread * 1000:.2f} ms/note",
             f"{figures['reread_cpu_s_per_note'] * 1000:.2f} ms CPU a note "
             f"(+ {figures['reread_first_call_s']:.1f} s to compile, once)"),
            ("carrying the state (seed read once, counted in)", f"{carried * 1000:.2f} ms/note",
             f"{figures['carried_cpu_s_per_note'] * 1000:.2f} ms CPU a note "
             f"(+ {figures['carried_first_call_s']:.1f} s to compile, once)"),
            ("speed-up", f"{figures['ratio']:.1f}x",
             goal_words(figures["ratio_goal_met"], f">= {GENERATION_GOAL}x")
             + f" ({figures['cpu_ratio']:.1f}x in CPU)"),
        ],
    )
    return figures


# --- Command line -------------------------------------------------------------------


def parse_arguments(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="fewer training batches and notes")
    parser.add_argument("--json", metavar="PATH", default=None, help="also write the figures to this JSON file")
    parser.add_argument("--seed", type=int, default=0, help="seeds the random weights and tokens")
    parser.add_argument("--only", choices=("training", "generation"), default=None,
                        help="run one of the two comparisons alone")
    return parser.parse_args(argv)


def main() -> None:
    arguments = parse_arguments()
    plan = QUICK if arguments.quick else FULL
    keras.utils.set_random_seed(arguments.seed)
    random = np.random.default_rng(arguments.seed)
    started = time.perf_counter()

    about = machine()
    about["accelerator"] = accelerator()
    about["lstm_layer"] = "FastLSTM" if fast_lstm_pays() else "keras.layers.LSTM"
    print(f"machine: {about['cpu']}, {about['cores']} cores, accelerator: {about['accelerator']}, "
          f"load average {about['load_average']}; Python {about['python']}, TensorFlow {about['tensorflow']}, "
          f"Keras {about['keras']}; training on {about['lstm_layer']}")
    print(f"plan: {'--quick' if arguments.quick else 'full'}; every figure is the median of its repeats")

    results = {"machine": about, "plan": dataclasses.asdict(plan) | {"name": "quick" if arguments.quick else "full"}}
    if arguments.only in (None, "training"):
        results["training"] = compare_training(plan, random)
    if arguments.only in (None, "generation"):
        results["generation"] = compare_generation(plan, random)
    finish(results, started, arguments.json)


if __name__ == "__main__":
    run(main)
