"""How much a bundle has learned: its held-out score beside the count models'.

    python -m classical_composer.evaluate --weights weights
    python -m classical_composer.evaluate --weights my_weights --json figures.json
    python -m classical_composer.evaluate --weights my_weights --midi-dir midi_songs

In:  a bundle (its network, vocabulary, training and held-out token indices);
     with --midi-dir, the held-out files are read again from that folder.
Out: a printed table, and with --json a file, of the nats per token,
     perplexity and top-1 accuracy on the held-out targets of:

    uniform, unigram, bigram, trigram    count models fit on the bundle's training pieces
    bundle                               the bundle's network

plus the share of held-out targets never seen in training. The targets are
the ones val_loss scores: the token after every held-out window. A network
that scores worse than the trigram has learned less than counting does.
train.py prints the same table at the end of training.
"""

import argparse
import sys
from pathlib import Path

import numpy as np

from classical_composer.cli import UserError, quiet_tensorflow, run
from classical_composer.counting import CountModel, figures, score, unseen_share

COUNT_MODELS = {"uniform": 0, "unigram": 1, "bigram": 2, "trigram": 3}  # name -> order
BATCH_SIZE = 256  # windows per forward pass when scoring the network


def count_model_figures(training_pieces: list, validation_pieces: list, vocabulary_size: int,
                        sequence_length: int) -> dict:
    """{model name: figures} for every count model, and the unseen share."""
    results = {}
    for name, order in COUNT_MODELS.items():
        model = CountModel(order, vocabulary_size).fit(training_pieces)
        results[name] = score(model.probabilities, validation_pieces, first_target=sequence_length)
    results["unseen_share"] = unseen_share(training_pieces, validation_pieces, sequence_length)
    return results


def network_figures(model, settings, validation_pieces: list, vocabulary_size: int) -> dict:
    """Figures of the network on the same targets: the token after every held-out window."""
    from classical_composer.network import last_step  # imports Keras
    from classical_composer.prepare_sequences import WindowBatches, windows_of_indices

    windows = windows_of_indices(validation_pieces, settings.sequence_length)
    if len(windows) == 0:
        raise UserError(f"no held-out piece is longer than the {settings.sequence_length}-token window, "
                        f"so there is nothing to score")
    batches = WindowBatches(windows, vocabulary_size, BATCH_SIZE, shuffle=False,
                            reads_token_indices=settings.reads_token_indices)
    model = last_step(model)
    log_losses, correct = [], 0
    for batch_number in range(len(batches)):
        network_input, targets = batches[batch_number]
        probabilities = np.asarray(model(network_input, training=False), dtype=np.float64)  # (batch, vocabulary)
        picked = probabilities[np.arange(len(targets)), targets]
        log_losses.append(-np.log(np.maximum(picked, 1e-30)))
        correct += int(np.sum(np.argmax(probabilities, axis=1) == targets))
    return figures(np.concatenate(log_losses), correct)


def evaluate(model, settings, vocabulary_size: int, training_pieces: list, validation_pieces: list,
             count_figures: dict | None = None) -> dict:
    """The network's figures and the count models', on the same held-out targets.

    count_figures: count_model_figures' result, when it has been computed already.
    """
    if count_figures is None:
        count_figures = count_model_figures(training_pieces, validation_pieces, vocabulary_size,
                                            settings.sequence_length)
    return {"bundle": network_figures(model, settings, validation_pieces, vocabulary_size), **count_figures}


def format_comparison(results: dict) -> str:
    """The figures as a small table, the network last."""
    targets = results["bundle"]["targets"]
    lines = [f"held-out targets: {targets:,} (the token after every held-out window); "
             f"{results['unseen_share']:.1%} of them never occur in training",
             f"{'model':<10} {'nats/token':>10} {'perplexity':>11} {'top-1':>7}"]
    for name in (*COUNT_MODELS, "bundle"):
        row = results[name]
        label = "network" if name == "bundle" else name
        lines.append(f"{label:<10} {row['nats']:>10.3f} {row['perplexity']:>11.1f} {row['accuracy']:>7.1%}")
    margin = results["trigram"]["nats"] - results["bundle"]["nats"]
    verdict = "better" if margin > 0 else "worse"
    lines.append(f"the network is {abs(margin):.3f} nats a token {verdict} than the trigram")
    return "\n".join(lines)


# --- The command line -------------------------------------------------------------


def held_out_pieces_from_folder(bundle, midi_dir: Path) -> list:
    """The bundle's held-out files read again from midi_dir, checked against the stored tokens."""
    from classical_composer.corpus import UnreadableMidi, parse_midi_file

    pieces = []
    for name, stored in zip(bundle.training["validation_files"], bundle.validation_pieces):
        path = Path(midi_dir) / name
        try:
            token_list = parse_midi_file(path, bundle.settings.encoding()) if path.is_file() else None
        except UnreadableMidi:
            token_list = None
        if token_list != bundle.vocabulary.decode(stored):
            raise UserError(f"the held-out file {name} in {midi_dir} is missing or no longer gives the tokens "
                            f"the bundle was trained on; evaluate without --midi-dir, or retrain")
        pieces.append(stored)
    return pieces


def held_out_pieces(bundle, weights: Path, midi_dir: Path | None) -> list:
    names = bundle.training.get("validation_files")
    if bundle.validation_pieces is None or not isinstance(names, list):
        raise UserError(f"the bundle in {weights} does not record its held-out files, so it cannot be evaluated; "
                        f"retrain it with this version of train.py")
    if not names:
        raise UserError(f"the bundle in {weights} was trained without held-out files (--validation-split 0), "
                        f"so there is nothing to evaluate it on")
    return held_out_pieces_from_folder(bundle, midi_dir) if midi_dir else bundle.validation_pieces


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m classical_composer.evaluate",
        description="Score a bundle on its held-out files, beside count models fit on its training files.")
    parser.add_argument("--weights", metavar="FOLDER", default="weights", help="bundle folder written by train.py")
    parser.add_argument("--json", metavar="PATH", default=None, help="also write the figures to this JSON file")
    parser.add_argument("--midi-dir", metavar="FOLDER", default=None,
                        help="read the held-out files again from this folder instead of the bundle's stored tokens")
    arguments = parser.parse_args(argv)
    quiet_tensorflow()
    from classical_composer.bundle import load_bundle, write_json_atomically

    bundle = load_bundle(Path(arguments.weights))
    pieces = held_out_pieces(bundle, Path(arguments.weights), arguments.midi_dir)
    results = evaluate(bundle.model, bundle.settings, len(bundle.vocabulary), bundle.training_pieces, pieces)
    print(format_comparison(results))
    if arguments.json:
        try:
            write_json_atomically(Path(arguments.json), results)
        except OSError as error:
            raise UserError(f"cannot write {arguments.json} ({error.strerror or error}); choose another --json") from None


if __name__ == "__main__":
    run(lambda: main(sys.argv[1:]))
