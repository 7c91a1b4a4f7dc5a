"""The parts both networks are built of: what they read at each step, and how they score every token.

In:  the settings, the vocabulary size, with --token-parts the number of token
     parts, and a width (numbers per token vector).
Out: Keras layers, applied: the inputs (prepare_sequences.NetworkInput's), the
     token vectors, the composer vectors (--composers), and the scores of
     every token before the softmax; and the names of the layers that other
     modules look up.

network.py builds the LSTM of these parts and transformer.py the decoder;
both import them from here, so neither network module imports the other's.
The inputs are NetworkInput's, so that what it encodes always fits them.
"""

from keras import layers

from classical_composer.prepare_sequences import NetworkInput
from classical_composer.settings import Settings

# The layers other modules find by name (to load the fixed token-parts matrix,
# to score only a window's last step, to count the composers a network reads).
TOKEN_PARTS = "token_parts"
COMPOSER_EMBEDDING = "composer_embedding"
TOKEN_LOGITS = "token_logits"
PART_SCORES = "part_scores"
PARTS_TO_TOKENS = "parts_to_tokens"
TOKEN_AND_PART_LOGITS = "token_and_part_logits"
PROBABILITIES = "next_token_probabilities"

# --- Input: what the network reads at each step ------------------------------------


def network_inputs(settings: Settings, vocabulary_size: int) -> tuple:
    """The network's keras.Input layers for a window of settings.sequence_length steps: (tokens, composers or None)."""
    return NetworkInput.of(settings, vocabulary_size).keras_inputs(settings.sequence_length)


def token_vectors(token_inputs, settings: Settings, vocabulary_size: int, part_count: int, dtype_policy: str,
                  width: int | None = None):
    """The vectors the token input hands to the first LSTM (or transformer block).

    width: numbers per token vector; settings.embedding unless given (the transformer gives its own).
    """
    width = width or settings.embedding
    if not settings.reads_token_indices:
        return token_inputs  # the original: the token's index divided by the vocabulary size, (batch, time, 1)
    vectors = layers.Embedding(vocabulary_size, width, dtype=dtype_policy,
                               name="token_embedding")(token_inputs)  # (batch, time, embedding)
    if settings.token_parts:
        # Each token's parts, looked up in the fixed matrix (see token_parts.py)...
        parts = layers.Embedding(vocabulary_size, part_count, trainable=False, dtype=dtype_policy,
                                 name=TOKEN_PARTS)(token_inputs)  # (batch, time, parts)
        # ...and the sum of one learned vector per part, weighted by the matrix.
        part_vectors = layers.Dense(width, use_bias=False, dtype=dtype_policy,
                                    name="part_embedding")(parts)  # (batch, time, embedding)
        vectors = layers.Add(dtype=dtype_policy, name="token_and_parts")([vectors, part_vectors])
    return vectors


def composer_vectors(composer_inputs, composer_count: int, width: int, dtype_policy: str):
    """With --composers: the learned vector of the composer at every step, (batch, time, width).

    The composer is given at every step, like the token, so that the window
    and its composer line up step by step and every layer is a stock one.
    """
    return layers.Embedding(composer_count, width, dtype=dtype_policy, name=COMPOSER_EMBEDDING)(composer_inputs)


# --- Output: a score for every token ------------------------------------------------


def token_scores(x, settings: Settings, vocabulary_size: int, part_count: int, dtype_policy: str):
    """(batch, [time,] features) -> (batch, [time,] vocabulary) scores, before the softmax.

    With --token-parts a token's score is its own score plus the sum of its
    parts' scores: the network scores each part once ("is a long event likely
    now? is C3 likely?"), and the fixed matrix adds them up for every token.
    A token never seen in training still gets the scores of its parts.
    """
    scores = layers.Dense(vocabulary_size, dtype=dtype_policy, name=TOKEN_LOGITS)(x)
    if settings.token_parts:
        part_scores = layers.Dense(part_count, use_bias=False, dtype=dtype_policy, name=PART_SCORES)(x)
        summed = layers.Dense(vocabulary_size, use_bias=False, trainable=False, dtype=dtype_policy,
                              name=PARTS_TO_TOKENS)(part_scores)  # (batch, vocabulary)
        scores = layers.Add(dtype=dtype_policy, name=TOKEN_AND_PART_LOGITS)([scores, summed])
    return scores
