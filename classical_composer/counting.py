"""Count models: what a network must beat to have learned more than counting.

In:  training pieces as token indices, and the vocabulary size.
Out: a `CountModel` that gives the next token's probabilities after a few
     tokens of context, and `score`, which measures any such model on
     held-out pieces in nats per token and top-1 accuracy.

The orders, from the weakest yardstick to the strongest:

    0  uniform      every token equally likely: log(vocabulary size) nats
    1  unigram      how often each token occurs, ignoring the context
    2  bigram       which tokens follow the previous one
    3  trigram      which tokens follow the previous two

Orders 2 and 3 are interpolated Kneser-Ney models (Chen and Goodman, "An
empirical study of smoothing techniques for language modeling", 1998),
which is how count models are usually smoothed. In one sentence: take a
fixed `discount` off every count seen after this context, and give the
probability saved that way to the next shorter context's estimate, down to
the uniform one, so that no token ever gets probability zero. Written out,
for a context h, its shortening h' (h without its oldest token) and a token w:

    P(w | h) = max(c(h, w) - D, 0) / c(h)  +  D * N(h) / c(h) * P(w | h')

where c(h, w) counts w after h, c(h) sums them over w, and N(h) is the
number of distinct tokens seen after h. If h was never seen, P(w | h) is
P(w | h'). The longest context uses plain counts; every shorter one uses
*continuation* counts (the number of distinct tokens seen before h'w), so a
token that is frequent only inside one fixed phrase does not look likely
everywhere. The unigram (order 1) uses plain counts and the same discount,
so a token never seen in training still gets a little probability.

Contexts never reach across pieces, just as training windows do not.
"""

import numpy as np

DISCOUNT = 0.75  # the usual absolute discount for Kneser-Ney

# --- The model ------------------------------------------------------------------


class CountModel:
    """A uniform, unigram or interpolated Kneser-Ney n-gram model over token indices."""

    def __init__(self, order: int, vocabulary_size: int, discount: float = DISCOUNT):
        self.order = order
        self.vocabulary_size = vocabulary_size
        self.discount = discount
        # tables[n]: context (a tuple of n - 1 indices) -> (next token indices, their counts)
        self.tables: dict[int, dict[tuple, tuple[np.ndarray, np.ndarray]]] = {}

    def fit(self, pieces: list) -> "CountModel":
        """Count every n-gram inside each piece, up to this model's order."""
        for n in range(1, self.order + 1):
            if n < self.order:
                # Continuation count of (h', w): how many distinct tokens were seen before it,
                # that is, how many distinct (n + 1)-grams end in h'w. Dropping an (n + 1)-gram's
                # first token is dropping its leading digit.
                ngram_numbers = np.unique(self.ngram_numbers(pieces, n + 1)) % self.vocabulary_size**n
            else:
                ngram_numbers = self.ngram_numbers(pieces, n)
            distinct, counts = np.unique(ngram_numbers, return_counts=True)
            self.tables[n] = self.table_by_context(distinct, counts.astype(np.float64), n)
        return self

    def ngram_numbers(self, pieces: list, n: int) -> np.ndarray:
        """Every n-gram inside each piece, as one number: its tokens read as the digits of a base-vocabulary number."""
        place_values = self.vocabulary_size ** np.arange(n - 1, -1, -1, dtype=np.int64)
        numbers = [np.zeros(0, np.int64)]
        for piece in pieces:
            piece = np.asarray(piece, np.int64)
            if len(piece) >= n:
                numbers.append(np.lib.stride_tricks.sliding_window_view(piece, n) @ place_values)
        return np.concatenate(numbers)

    def table_by_context(self, ngram_numbers: np.ndarray, counts: np.ndarray, n: int) -> dict:
        """Sorted distinct n-gram numbers and their counts -> {context: (next token indices, their counts)}."""
        contexts, following = np.divmod(ngram_numbers, self.vocabulary_size)
        starts = np.flatnonzero(np.diff(contexts, prepend=-1))  # sorted, so each context's n-grams are adjacent
        ends = np.append(starts[1:], len(contexts))
        table = {}
        for start, end in zip(starts.tolist(), ends.tolist()):
            number, context = int(contexts[start]), []
            for _ in range(n - 1):
                number, token = divmod(number, self.vocabulary_size)
                context.append(token)
            table[tuple(reversed(context))] = (following[start:end], counts[start:end])
        return table

    def probabilities(self, context) -> np.ndarray:
        """The next token's probabilities after `context` (its last order - 1 tokens count): (vocabulary,)."""
        longest = max(self.order - 1, 0)
        context = tuple(int(index) for index in context[len(context) - longest :]) if longest else ()
        result = np.full(self.vocabulary_size, 1.0 / self.vocabulary_size)  # order 0: uniform
        for n in range(1, self.order + 1):
            if len(context) < n - 1:
                break  # the piece has not yet given this much context
            seen = self.tables[n].get(context[len(context) - (n - 1) :] if n > 1 else ())
            if seen is None:
                continue  # never seen this context: the shorter one's estimate stands
            following, counts = seen
            total = counts.sum()
            result *= self.discount * len(following) / total
            result[following] += np.maximum(counts - self.discount, 0) / total
        return result


# --- Scoring --------------------------------------------------------------------


def score(probabilities_after, pieces: list, first_target: int) -> dict:
    """Nats per token and top-1 accuracy of a model on the targets of held-out pieces.

    probabilities_after: a function from the tokens before a target to the
    next token's probabilities. The targets are the tokens at positions
    `first_target` and later in each piece: with first_target equal to the
    sequence length, exactly the targets the network's val_loss scores.
    """
    log_losses, correct = [], 0
    for piece in pieces:
        for position in range(first_target, len(piece)):
            probabilities = probabilities_after(piece[:position])
            target = int(piece[position])
            log_losses.append(-np.log(max(probabilities[target], 1e-30)))
            correct += int(np.argmax(probabilities) == target)
    if not log_losses:
        raise ValueError("the held-out pieces have no targets to score")
    return figures(np.array(log_losses), correct)


def figures(log_losses: np.ndarray, correct: int) -> dict:
    """The figures reported for every model: nats per token, perplexity, top-1 accuracy, targets."""
    nats = float(np.mean(log_losses))
    return {"nats": nats, "perplexity": float(np.exp(nats)), "accuracy": correct / len(log_losses),
            "targets": len(log_losses)}


def unseen_share(training_pieces: list, pieces: list, first_target: int) -> float:
    """The share of held-out targets that never occur in the training pieces."""
    seen = set(np.concatenate(training_pieces).tolist()) if training_pieces else set()
    targets = [int(index) for piece in pieces for index in piece[first_target:]]
    return sum(target not in seen for target in targets) / max(len(targets), 1)
