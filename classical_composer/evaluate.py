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

plus the share of held-out targets never seen in training. Two more figures
where the bundle allows them:
- nats per quarter note of held-out music: the nats of a token times the
  held-out tokens per quarter note (train.py records how long the held-out
  files last). Note tokens and performance events share this unit, so the two
  representations can be compared.
- with --composers, the nats a token when the network is told each held-out
  piece's true composer, against a wrong one.

The targets are the ones val_loss scores: the token after every held-out
window. A network that scores worse than the trigram has learned less than
counting does. train.py prints the same table at the end of training.
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


def network_losses(scorer, settings, validation_pieces: list, vocabulary_size: int,
                   piece_composers: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The network's loss on every target (the token after every held-out window), and whether it ranks it first.

    scorer:          network.inference_copy of the bundle's model, made once by the caller.
    piece_composers: (pieces,) the composer number the network is told for each piece, with --composers.
    Returns ((targets,) nats, (targets,) bool).
    """
    from classical_composer.prepare_sequences import WindowBatches, windows_of_indices

    windows = windows_of_indices(validation_pieces, settings.sequence_length, piece_composers)
    if len(windows) == 0:
        raise UserError(f"no held-out piece is longer than the {settings.sequence_length}-token window, "
                        f"so there is nothing to score")
    batches = WindowBatches(windows, vocabulary_size, BATCH_SIZE, shuffle=False,
                            reads_token_indices=settings.reads_token_indices)
    log_losses, ranked_first = [], []
    for batch_number in range(len(batches)):
        network_input, targets = batches[batch_number]
        # predict_on_batch runs one compiled graph; calling the model runs it layer by layer, several times slower.
        probabilities = np.asarray(scorer.predict_on_batch(network_input), dtype=np.float64)  # (batch, vocabulary)
        picked = probabilities[np.arange(len(targets)), targets]
        log_losses.append(-np.log(np.maximum(picked, 1e-30)))
        ranked_first.append(np.argmax(probabilities, axis=1) == targets)
    return np.concatenate(log_losses), np.concatenate(ranked_first)


def losses_told_each_composer(scorer, settings, validation_pieces: list, vocabulary_size: int,
                              composer_count: int) -> tuple[np.ndarray, np.ndarray]:
    """network_losses with every piece attributed to each composer in turn: ((composers, targets), same)."""
    told_each = [network_losses(scorer, settings, validation_pieces, vocabulary_size,
                                np.full(len(validation_pieces), composer, np.int32))
                 for composer in range(composer_count)]
    return np.stack([nats for nats, _ in told_each]), np.stack([first for _, first in told_each])


def composer_figures(nats_told_each: np.ndarray, true_composers: np.ndarray) -> dict:
    """Held-out nats a token with each target's true composer, and with a wrong one (every other, averaged).

    nats_told_each: (composers, targets); true_composers: (targets,).
    If the network has learned the composers' styles, the true composer
    predicts each piece better than the others do.
    """
    composer_count, target_count = nats_told_each.shape
    true_nats = nats_told_each[true_composers, np.arange(target_count)]
    wrong_nats = (nats_told_each.sum(axis=0) - true_nats) / (composer_count - 1)
    return {"true_nats": float(true_nats.mean()), "wrong_nats": float(wrong_nats.mean()),
            "composers": composer_count, "targets": int(target_count)}


def held_out_quarters(bundle, validation_pieces: list) -> float | None:
    """How many quarter notes the held-out music lasts: as train.py recorded it, or from the events themselves.

    None for a bundle of note tokens trained before train.py recorded it: note tokens do not keep time.
    """
    recorded = bundle.training.get("validation_quarters")
    if recorded:
        return recorded
    if bundle.settings.representation == "events":
        from classical_composer.performance import beats

        return float(sum(beats(bundle.vocabulary.decode(piece)) for piece in validation_pieces)) or None
    return None


def network_figures(bundle, validation_pieces: list) -> tuple[dict, dict | None]:
    """The network's figures on the held-out targets, and with --composers composer_figures' too (else None)."""
    from classical_composer.network import inference_copy  # imports Keras
    from classical_composer.prepare_sequences import windows_of_indices

    settings, vocabulary_size = bundle.settings, len(bundle.vocabulary)
    scorer = inference_copy(bundle.model)  # the same function, faster (see network.inference_copy)
    if not settings.composers:
        losses, ranked_first = network_losses(scorer, settings, validation_pieces, vocabulary_size)
        return figures(losses, int(ranked_first.sum())), None
    # The network is told each composer in turn; the bundle's own figures are those of the true one.
    nats_told_each, first_told_each = losses_told_each_composer(scorer, settings, validation_pieces,
                                                                vocabulary_size, len(bundle.composers))
    true_composers = windows_of_indices(validation_pieces, settings.sequence_length,
                                        bundle.validation_composers).composers  # (targets,): one per window
    every_target = np.arange(len(true_composers))
    losses, ranked_first = nats_told_each[true_composers, every_target], first_told_each[true_composers, every_target]
    return figures(losses, int(ranked_first.sum())), composer_figures(nats_told_each, true_composers)


def evaluate(bundle, validation_pieces: list | None = None, count_figures: dict | None = None) -> dict:
    """The bundle's network figures and the count models', on the same held-out targets.

    validation_pieces: the held-out pieces to score; the bundle's own by default.
    count_figures:     count_model_figures' result, when it has been computed already.
    With --composers the figures also hold "composers": the true composer's nats against a wrong one's.
    """
    settings, vocabulary_size = bundle.settings, len(bundle.vocabulary)
    validation_pieces = bundle.validation_pieces if validation_pieces is None else validation_pieces
    if count_figures is None:
        count_figures = count_model_figures(bundle.training_pieces, validation_pieces, vocabulary_size,
                                            settings.sequence_length)
    network_results, composer_results = network_figures(bundle, validation_pieces)
    results = {"bundle": network_results,
               **{name: dict(value) if isinstance(value, dict) else value for name, value in count_figures.items()}}
    quarters = held_out_quarters(bundle, validation_pieces)
    if quarters:
        tokens_per_quarter = sum(len(piece) for piece in validation_pieces) / quarters
        for name in (*COUNT_MODELS, "bundle"):
            results[name]["nats_per_quarter"] = results[name]["nats"] * tokens_per_quarter
    if composer_results:
        results["composers"] = composer_results
    return results


def format_comparison(results: dict) -> str:
    """The figures as a small table, the network last."""
    targets = results["bundle"]["targets"]
    lines = [f"held-out targets: {targets:,} (the token after every held-out window); "
             f"{results['unseen_share']:.1%} of them never occur in training",
             f"{'model':<10} {'nats/token':>10} {'perplexity':>11} {'top-1':>7} {'nats/quarter':>13}"]
    for name in (*COUNT_MODELS, "bundle"):
        row = results[name]
        label = "network" if name == "bundle" else name
        per_quarter = f"{row['nats_per_quarter']:>13.2f}" if "nats_per_quarter" in row else f"{'n/a':>13}"
        lines.append(f"{label:<10} {row['nats']:>10.3f} {row['perplexity']:>11.1f} {row['accuracy']:>7.1%} {per_quarter}")
    margin = results["trigram"]["nats"] - results["bundle"]["nats"]
    verdict = "better" if margin > 0 else "worse"
    lines.append(f"the network is {abs(margin):.3f} nats a token {verdict} than the trigram")
    if "composers" in results:
        composers = results["composers"]
        lines.append(f"told each piece's true composer: {composers['true_nats']:.3f} nats a token; told a wrong one "
                     f"(each of the other {composers['composers'] - 1}, averaged): {composers['wrong_nats']:.3f}")
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
    results = evaluate(bundle, pieces)
    print(format_comparison(results))
    if arguments.json:
        try:
            write_json_atomically(Path(arguments.json), results)
        except OSError as error:
            raise UserError(f"cannot write {arguments.json} ({error.strerror or error}); choose another --json") from None


if __name__ == "__main__":
    run(lambda: main(sys.argv[1:]))
