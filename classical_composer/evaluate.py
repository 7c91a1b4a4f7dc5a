"""How much a bundle has learned: its held-out score beside the count models'.

    python -m classical_composer.evaluate --weights weights
    python -m classical_composer.evaluate --weights my_weights --json figures.json
    python -m classical_composer.evaluate --weights my_weights --midi-dir midi_songs
    python -m classical_composer.evaluate --weights weights/events --first-target 32

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

The targets are the ones val_loss scores: for windows slid one token at a
time, the token after every held-out window; for a bundle trained on chunks,
every token after a piece's first, each read after the whole piece before it
(the LSTM reads each piece whole, as it composes; the transformer as much of
it as it was trained on). --first-target N scores the tokens from position N
on instead, so that two bundles can be compared on the same targets. The
count models are always scored on exactly the network's targets. A network
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
WHOLE_PIECE_TOKENS = 32768  # tokens per forward pass when reading whole pieces: bounds the memory of the probabilities


def count_model_figures(training_pieces: list, validation_pieces: list, vocabulary_size: int,
                        first_target: int) -> dict:
    """{model name: figures} for every count model, and the unseen share."""
    results = {}
    for name, order in COUNT_MODELS.items():
        model = CountModel(order, vocabulary_size).fit(training_pieces)
        results[name] = score(model.probabilities, validation_pieces, first_target=first_target)
    results["unseen_share"] = unseen_share(training_pieces, validation_pieces, first_target)
    return results


def default_first_target(settings) -> int:
    """The first position scored in each held-out piece: what val_loss scores.

    Windows slid one token at a time are scored on the token after each
    window, from position sequence_length on; a network trained on chunks on
    every token after a piece's first.
    """
    return 1 if settings.chunks else settings.sequence_length


def network_scorer(model, settings):
    """The network as evaluate reads it, made once by the caller.

    A network trained on chunks reads windows of any length and gives every
    step's probabilities; one trained on windows, the last step's (the same
    function, faster: see network.inference_copy).
    """
    from classical_composer.network import any_length_copy, inference_copy  # import Keras

    return any_length_copy(model) if settings.chunks else inference_copy(model)


def network_losses(scorer, settings, validation_pieces: list, vocabulary_size: int,
                   piece_composers: np.ndarray | None = None, first_target: int | None = None,
                   ) -> tuple[np.ndarray, np.ndarray]:
    """The network's loss on every held-out target, and whether it ranks it first.

    scorer:          network_scorer of the bundle's model, made once by the caller.
    piece_composers: (pieces,) the composer number the network is told for each piece, with --composers.
    first_target:    the first position scored in each piece; default_first_target by default.
    Returns ((targets,) nats, (targets,) bool), piece by piece, position by position.
    """
    from classical_composer.prepare_sequences import NetworkInput  # imports Keras

    first_target = default_first_target(settings) if first_target is None else first_target
    network_input = NetworkInput.of(settings, vocabulary_size)
    if settings.carries_state:
        losses = whole_piece_losses(scorer, network_input, validation_pieces, piece_composers)
    elif settings.chunks:
        losses = stretch_losses(scorer, network_input, settings.sequence_length, validation_pieces, piece_composers)
    elif first_target >= settings.sequence_length:
        return window_losses(scorer, settings, network_input, validation_pieces, piece_composers, first_target)
    else:
        raise UserError(f"this bundle reads windows of {settings.sequence_length} tokens, so it can score targets "
                        f"from position {settings.sequence_length} on only; choose a larger --first-target")
    # losses: one (targets of the piece, 2) array per piece, position 1 first: nats and ranked first.
    kept = [piece_losses[first_target - 1 :] for piece_losses in losses]
    if not sum(len(piece_losses) for piece_losses in kept):
        raise UserError(nothing_to_score(settings, first_target))
    every_target = np.concatenate(kept)
    return every_target[:, 0], every_target[:, 1].astype(bool)


def nothing_to_score(settings, first_target: int) -> str:
    """The sentence for held-out pieces that hold no target from first_target on."""
    if first_target == settings.sequence_length and not settings.chunks:
        return (f"no held-out piece is longer than the {settings.sequence_length}-token window, "
                f"so there is nothing to score")
    return f"no held-out piece is longer than {first_target} tokens, so there is nothing to score"


def window_losses(scorer, settings, network_input, validation_pieces: list, piece_composers: np.ndarray | None,
                  first_target: int) -> tuple[np.ndarray, np.ndarray]:
    """network_losses for a network that reads windows of sequence_length: the token after every window."""
    from classical_composer.prepare_sequences import WindowBatches, windows_of_indices

    skipped = first_target - settings.sequence_length  # targets before first_target, in every piece
    windows = windows_of_indices(validation_pieces, settings.sequence_length, piece_composers)
    if skipped:
        windows = windows.subset(np.flatnonzero(
            np.concatenate([np.arange(max(len(piece) - settings.sequence_length, 0)) >= skipped
                            for piece in validation_pieces])))
    if len(windows) == 0:
        raise UserError(nothing_to_score(settings, first_target))
    batches = WindowBatches(windows, network_input, BATCH_SIZE, shuffle=False)
    scored = []
    for batch_number in range(len(batches)):
        batch_input, targets = batches[batch_number]
        # predict_on_batch runs one compiled graph; calling the model runs it layer by layer, several times slower.
        probabilities = np.asarray(scorer.predict_on_batch(batch_input), dtype=np.float64)  # (batch, vocabulary)
        scored.append(losses_and_ranks(probabilities, targets))
    scored = np.concatenate(scored)  # (targets, 2)
    return scored[:, 0], scored[:, 1].astype(bool)


def losses_and_ranks(probabilities: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """(steps, vocabulary) probabilities and (steps,) targets -> (steps, 2): nats, and 1 where ranked first."""
    picked = probabilities[np.arange(len(targets)), targets].astype(np.float64)
    return np.stack([-np.log(np.maximum(picked, 1e-30)), np.argmax(probabilities, axis=1) == targets], axis=1)


def compiled_reader(scorer):
    """The scorer as one compiled graph for windows of any length (see network.compiled_function)."""
    from classical_composer.network import compiled_function  # imports Keras

    return compiled_function(scorer, jit_compile=False)  # XLA would compile again for every piece length


def whole_piece_losses(scorer, network_input, pieces: list, piece_composers: np.ndarray | None) -> list[np.ndarray]:
    """For an LSTM trained on chunks: each piece read whole, every target after all the tokens before it.

    This is what carrying the state while composing computes. Pieces of
    similar length are read together, padded at the end; the LSTM reads
    forwards only, so the padding changes no real target.
    """
    read = compiled_reader(scorer)
    losses = [np.zeros((0, 2))] * len(pieces)
    order = np.argsort([len(piece) for piece in pieces], kind="stable")
    batch = []
    for number in [*order, None]:  # None: read what is left
        if number is not None:
            longest = max([len(pieces[other]) for other in batch] + [len(pieces[number])])
            if not batch or longest * (len(batch) + 1) <= WHOLE_PIECE_TOKENS:
                batch.append(number)
                continue
        longest = max(len(pieces[other]) for other in batch)
        rows = np.zeros((len(batch), longest), np.int32)
        for row, other in enumerate(batch):
            rows[row, : len(pieces[other])] = pieces[other]
        composers = None if piece_composers is None else np.asarray(piece_composers)[batch]
        probabilities = read(network_input.encode(rows[:, :-1], composers))
        for row, other in enumerate(batch):
            targets = len(pieces[other]) - 1
            losses[other] = losses_and_ranks(probabilities[row, :targets], rows[row, 1 : targets + 1])
        batch = [number] if number is not None else []
    return losses


def stretch_losses(scorer, network_input, length: int, pieces: list,
                   piece_composers: np.ndarray | None) -> list[np.ndarray]:
    """For a transformer trained on chunks: every target read after as much of the piece as it was trained on, or more than half.

    Windows of `length` tokens (the sequence length) start every half window; each scores
    the targets of its second half (the first window all of its own), so
    every target is scored once, after at least half a window of the piece.
    """
    half = max(length // 2, 1)
    read = compiled_reader(scorer)
    losses = []
    for number, piece in enumerate(pieces):
        targets = len(piece) - 1
        starts = [0] + list(range(half, max(targets - length, 0) + half, half))
        rows = np.zeros((len(starts), length), np.int32)
        for row, start in enumerate(starts):
            window = piece[start : start + length]
            rows[row, : len(window)] = window
        composers = None if piece_composers is None else np.full(len(starts), piece_composers[number], np.int32)
        probabilities = read(network_input.encode(rows, composers))  # (windows, time, vocabulary)
        piece_losses, scored = [], 0  # scored: targets 1 .. scored are done
        for row, start in enumerate(starts):
            first = scored + 1 - start  # the step of this window whose target is the next unscored one
            last = min(length, targets - start)  # steps whose target lies inside the piece
            if last > first - 1:
                steps = np.arange(first - 1, last)
                piece_losses.append(losses_and_ranks(probabilities[row, steps], piece[start + steps + 1]))
                scored = start + last
        losses.append(np.concatenate(piece_losses) if piece_losses else np.zeros((0, 2)))
    return losses


def losses_told_each_composer(scorer, settings, validation_pieces: list, vocabulary_size: int,
                              composer_count: int, first_target: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """network_losses with every piece attributed to each composer in turn: ((composers, targets), same)."""
    told_each = [network_losses(scorer, settings, validation_pieces, vocabulary_size,
                                np.full(len(validation_pieces), composer, np.int32), first_target)
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
    lasting = [bundle.representation.quarters_of_tokens(bundle.vocabulary.decode(piece)) for piece in validation_pieces]
    if None in lasting:  # tokens that keep no time
        return None
    return float(sum(lasting)) or None


def network_figures(bundle, validation_pieces: list, first_target: int) -> tuple[dict, dict | None]:
    """The network's figures on the held-out targets, and with --composers composer_figures' too (else None)."""
    settings, vocabulary_size = bundle.settings, len(bundle.vocabulary)
    scorer = network_scorer(bundle.model, settings)
    if not settings.composers:
        losses, ranked_first = network_losses(scorer, settings, validation_pieces, vocabulary_size,
                                              first_target=first_target)
        return figures(losses, int(ranked_first.sum())), None
    # The network is told each composer in turn; the bundle's own figures are those of the true one.
    nats_told_each, first_told_each = losses_told_each_composer(scorer, settings, validation_pieces,
                                                                vocabulary_size, len(bundle.composers), first_target)
    targets_per_piece = [max(len(piece) - first_target, 0) for piece in validation_pieces]
    true_composers = np.repeat(np.asarray(bundle.validation_composers, np.int32), targets_per_piece)  # (targets,)
    every_target = np.arange(len(true_composers))
    losses, ranked_first = nats_told_each[true_composers, every_target], first_told_each[true_composers, every_target]
    return figures(losses, int(ranked_first.sum())), composer_figures(nats_told_each, true_composers)


def evaluate(bundle, validation_pieces: list | None = None, count_figures: dict | None = None,
             first_target: int | None = None) -> dict:
    """The bundle's network figures and the count models', on the same held-out targets.

    validation_pieces: the held-out pieces to score; the bundle's own by default.
    count_figures:     count_model_figures' result, when it has been computed already (for the same targets).
    first_target:      score the tokens from this position of each piece on; default_first_target by default.
    With --composers the figures also hold "composers": the true composer's nats against a wrong one's.
    """
    settings, vocabulary_size = bundle.settings, len(bundle.vocabulary)
    validation_pieces = bundle.validation_pieces if validation_pieces is None else validation_pieces
    first_target = default_first_target(settings) if first_target is None else first_target
    if not any(len(piece) > first_target for piece in validation_pieces):
        raise UserError(nothing_to_score(settings, first_target))
    if count_figures is None:
        count_figures = count_model_figures(bundle.training_pieces, validation_pieces, vocabulary_size, first_target)
    network_results, composer_results = network_figures(bundle, validation_pieces, first_target)
    results = {"bundle": network_results, "first_target": first_target,
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
    scored = (f"every token from position {results['first_target']} of each held-out piece"
              if "first_target" in results else "the token after every held-out window")
    lines = [f"held-out targets: {targets:,} ({scored}); "
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
    """The bundle's held-out files read again from midi_dir, as token indices of its vocabulary.

    So the files are scored as they are now, and a bundle that stores no
    held-out tokens can be scored on the files it names. How long they last
    is measured again too, for the figures per quarter note.
    """
    from classical_composer.corpus import Piece, UnreadableMidi, check_midi_folder, parse_midi_file

    midi_dir = Path(midi_dir)
    check_midi_folder(midi_dir)
    read = []
    for name in bundle.training["validation_files"]:
        if not (midi_dir / name).is_file():
            raise UserError(f"the held-out file {name} is not in {midi_dir}; point --midi-dir at the folder "
                            f"the bundle was trained on")
        try:
            token_list = parse_midi_file(midi_dir / name, bundle.settings.encoding())
        except UnreadableMidi as reason:
            raise UserError(f"the held-out file {name} in {midi_dir} cannot be read ({reason}); "
                            f"evaluate without --midi-dir") from None
        read.append(Piece(name, token_list))
    bundle.training["validation_quarters"] = bundle.representation.quarters_of_pieces(midi_dir, read)
    return [bundle.vocabulary.encode(known_tokens(bundle, piece, midi_dir)) for piece in read]


def known_tokens(bundle, piece, midi_dir: Path) -> list[str]:
    """A held-out piece read from midi_dir: its tokens, each a class of the bundle's network, or UserError.

    With --min-count the tokens heard too seldom are replaced as they were in training.
    """
    unknown = sorted(set(piece.tokens) - set(bundle.vocabulary.tokens))
    if unknown and bundle.settings.min_count > 1:
        nearest = dict(zip(unknown, bundle.representation.nearest_known_of_each(unknown, bundle.vocabulary.tokens)))
        return [nearest.get(token, token) for token in piece.tokens]
    if unknown:  # the network has no class for them, so they cannot be scored
        raise UserError(f"the held-out file {piece.name} in {midi_dir} gives {len(unknown)} tokens the bundle does "
                        f"not know, such as '{unknown[0]}'; evaluate without --midi-dir, or retrain")
    return piece.tokens


def held_out_pieces(bundle, weights: Path, midi_dir: Path | None) -> list:
    """The held-out pieces to score: read again from midi_dir when given, else the bundle's stored tokens."""
    names = bundle.training.get("validation_files")
    if not isinstance(names, list) or (bundle.validation_pieces is None and not midi_dir):
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
                        help="read the held-out files again from this folder and score their tokens as they are "
                        "now, instead of the bundle's stored tokens")
    parser.add_argument("--first-target", metavar="N", type=int, default=None,
                        help="score the tokens from position N of each held-out piece on (0 is a piece's first "
                        "token), e.g. to compare bundles on the same targets (default: what val_loss scores: N = "
                        "--sequence-length for windows, 1 for --chunks)")
    arguments = parser.parse_args(argv)
    if arguments.first_target is not None and arguments.first_target < 1:
        raise UserError("--first-target must be at least 1: the first token of a piece follows nothing")
    quiet_tensorflow()
    from classical_composer.bundle import load_bundle, write_json_atomically

    bundle = load_bundle(Path(arguments.weights))
    pieces = held_out_pieces(bundle, Path(arguments.weights), arguments.midi_dir)
    results = evaluate(bundle, pieces, first_target=arguments.first_target)
    print(format_comparison(results))
    if arguments.json:
        try:
            write_json_atomically(Path(arguments.json), results)
        except OSError as error:
            raise UserError(f"cannot write {arguments.json} ({error.strerror or error}); choose another --json") from None


if __name__ == "__main__":
    run(lambda: main(sys.argv[1:]))
