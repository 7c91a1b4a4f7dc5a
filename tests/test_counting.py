"""Count models: hand-counted Kneser-Ney probabilities, distributions that sum to 1, and scoring."""

import itertools

import numpy as np
import pytest

from classical_composer.counting import CountModel, score, unseen_share


def test_bigram_gives_the_hand_computed_probabilities():
    # One piece, 0 1 0 2, three tokens. Bigrams: 0->1, 1->0, 0->2.
    # Unigram level (continuation counts): 0, 1 and 2 each follow one distinct token,
    #   so P1(w) = (1 - 0.75) / 3 + 0.75 * 3 / 3 * 1/3 = 1/3 for every w.
    # After 0: counts {1: 1, 2: 1}, total 2, two types:
    #   P(1 | 0) = (1 - 0.75) / 2 + 0.75 * 2 / 2 * 1/3 = 0.375, P(2 | 0) = 0.375, P(0 | 0) = 0.25.
    # After 1: counts {0: 1}: P(0 | 1) = 0.25 + 0.75 * 1/3 = 0.5, and 0.25 for the others.
    model = CountModel(2, vocabulary_size=3).fit([[0, 1, 0, 2]])
    np.testing.assert_allclose(model.probabilities([0]), [0.25, 0.375, 0.375])
    np.testing.assert_allclose(model.probabilities([1]), [0.5, 0.25, 0.25])
    # 2 is never followed by anything: the unigram level stands.
    np.testing.assert_allclose(model.probabilities([2]), [1 / 3, 1 / 3, 1 / 3])


def test_trigram_gives_the_hand_computed_probabilities():
    # One piece, 0 1 0 1 2. Trigrams: (0,1)->0, (1,0)->1, (0,1)->2.
    # Bigram level, continuation counts of the distinct trigrams: after 1: {0: 1, 2: 1}; after 0: {1: 1}.
    #   P2(0 | 1) = 0.25 / 2 + 0.75 * 1/3 = 0.375 = P2(2 | 1); P2(1 | 1) = 0.25.
    # Trigram level after (0, 1): counts {0: 1, 2: 1}:
    #   P(0 | 0 1) = 0.25 / 2 + 0.75 * 0.375 = 0.40625 = P(2 | 0 1); P(1 | 0 1) = 0.75 * 0.25 = 0.1875.
    model = CountModel(3, vocabulary_size=3).fit([[0, 1, 0, 1, 2]])
    np.testing.assert_allclose(model.probabilities([0, 1]), [0.40625, 0.1875, 0.40625])
    # An unseen context (2, 1) backs off to the bigram after 1.
    np.testing.assert_allclose(model.probabilities([2, 1]), [0.375, 0.25, 0.375])


def test_unigram_discounts_counts_and_gives_unseen_tokens_a_share():
    # Counts {0: 3, 1: 1} in 4 tokens, vocabulary of 3: P(w) = max(c - 0.75, 0) / 4 + 0.75 * 2 / 4 * 1/3.
    model = CountModel(1, vocabulary_size=3).fit([[0, 0, 1, 0]])
    np.testing.assert_allclose(model.probabilities([]), [2.25 / 4 + 0.125, 0.25 / 4 + 0.125, 0.125])


@pytest.mark.parametrize("order", [0, 1, 2, 3])
def test_every_context_gives_a_distribution_that_sums_to_one(order):
    random = np.random.default_rng(0)
    vocabulary_size = 5
    pieces = [random.integers(0, 4, size=length) for length in (12, 7, 30)]  # token 4 never occurs
    model = CountModel(order, vocabulary_size).fit(pieces)
    for length in range(3):
        for context in itertools.product(range(vocabulary_size), repeat=length):
            probabilities = model.probabilities(list(context))
            assert probabilities.shape == (vocabulary_size,)
            assert probabilities.min() > 0
            assert probabilities.sum() == pytest.approx(1.0, abs=1e-12)


def test_uniform_model_scores_log_vocabulary_size():
    model = CountModel(0, vocabulary_size=8).fit([[1, 2, 3]])
    figures = score(model.probabilities, [np.array([1, 2, 3, 4])], first_target=1)
    assert figures["nats"] == pytest.approx(np.log(8))
    assert figures["targets"] == 3


def test_score_averages_the_log_loss_of_the_targets_after_the_window():
    model = CountModel(2, vocabulary_size=3).fit([[0, 1, 0, 2]])
    held_out = [np.array([0, 1, 0, 2])]
    figures = score(model.probabilities, held_out, first_target=2)  # targets: 0 after 1, 2 after 0
    assert figures["nats"] == pytest.approx(-(np.log(0.5) + np.log(0.375)) / 2)
    # The most likely token after 1 is 0 (right); after 0 it is 1 (the first of the tie with 2, wrong).
    assert figures["accuracy"] == pytest.approx(0.5)


def test_unseen_share_counts_held_out_targets_missing_from_training():
    assert unseen_share([np.array([0, 1, 1])], [np.array([9, 0, 2, 1, 2])], first_target=1) == pytest.approx(0.5)
