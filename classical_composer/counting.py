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

from collections import defaultdict

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
        ngrams = [set() for _ in range(self.order + 1)]  # distinct n-grams of each length, for continuation counts
        counts = defaultdict(lambda: defaultdict(float))  # longest context -> next token -> count
        for piece in pieces:
            piece = [int(index) for index in piece]
            for end in range(1, len(piece) + 1):
                for length in range(1, min(self.order, end) + 1):
                    ngrams[length].add(tuple(piece[end - length : end]))
                if self.order and end >= self.order:
                    counts[tuple(piece[end - self.order : end - 1])][piece[end - 1]] += 1

        for n in range(1, self.order + 1):
            if n < self.order:
                # Continuation count of (h', w): how many distinct tokens were seen before it.
                counts_n = defaultdict(lambda: defaultdict(float))
                for longer in ngrams[n + 1]:
                    counts_n[longer[1:-1]][longer[-1]] += 1
            else:
                counts_n = counts
            self.tables[n] = {
                context: (np.fromiter(following, np.int64), np.fromiter(following.values(), np.float64))
                for context, following in counts_n.items()
            }
        return self

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
