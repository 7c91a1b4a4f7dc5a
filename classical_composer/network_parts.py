"""The parts both networks are built of: what they read at each step, and how they score every token.

In:  the settings, the vocabulary size, with --token-parts the number of token
     parts, and a width (numbers per token vector).
Out: Keras layers, applied: the token input and its vectors, the composer
     input and its vectors (--composers), the inputs a keras.Model takes, and
     the scores of every token before the softmax.

network.py builds the LSTM of these parts and transformer.py the decoder;
both import them from here, so neither network module imports the other's.
The input names are prepare_sequences' (`token_input_name`, COMPOSER_INPUT),
so that encode_window's output always fits the inputs built here.
"""

import keras
from keras import layers

from classical_composer.prepare_sequences import COMPOSER_INPUT, token_input_name
from classical_composer.settings import Settings

# --- Input: what the network reads at each step ------------------------------------


def token_input(settings: Settings, vocabulary_size: int, part_count: int, dtype_policy: str,
                width: int | None = None):
    """The network's input layer and the vectors it hands to the first LSTM (or transformer block).

    width: numbers per token vector; settings.embedding unless given (the transformer gives its own).
    """
    width = width or settings.embedding
    if not settings.reads_token_indices:
        # The original: the token's index divided by the vocabulary size.
        inputs = keras.Input(shape=(settings.sequence_length, 1), name=token_input_name(False))  # (batch, time, 1)
        return inputs, inputs

    inputs = keras.Input(shape=(settings.sequence_length,), dtype="int32", name=token_input_name(True))  # (batch, time)
    vectors = layers.Embedding(vocabulary_size, width, dtype=dtype_policy,
                               name="token_embedding")(inputs)  # (batch, time, embedding)
    if settings.token_parts:
        # Each token's parts, looked up in the fixed matrix (see token_parts.py)...
        parts = layers.Embedding(vocabulary_size, part_count, trainable=False, dtype=dtype_policy,
                                 name="token_parts")(inputs)  # (batch, time, parts)
        # ...and the sum of one learned vector per part, weighted by the matrix.
        part_vectors = layers.Dense(width, use_bias=False, dtype=dtype_policy,
                                    name="part_embedding")(parts)  # (batch, time, embedding)
        vectors = layers.Add(dtype=dtype_policy, name="token_and_parts")([vectors, part_vectors])
    return inputs, vectors


def composer_input(settings: Settings, composer_count: int, width: int, dtype_policy: str):
    """With --composers: the composer input, (batch, time) indices, and its learned vectors, (batch, time, width).

    The composer is given at every step, like the token, so that the window
    and its composer line up step by step and every layer is a stock one.
    """
    indices = keras.Input(shape=(settings.sequence_length,), dtype="int32", name=COMPOSER_INPUT)  # (batch, time)
    vectors = layers.Embedding(composer_count, width, dtype=dtype_policy, name="composer_embedding")(indices)
    return indices, vectors  # vectors: (batch, time, width)


def model_inputs(token_inputs, composer_indices=None):
    """What keras.Model takes as inputs: the token input alone, or both inputs by name (encode_window's keys)."""
    if composer_indices is None:
        return token_inputs
    return {token_inputs.name: token_inputs, COMPOSER_INPUT: composer_indices}


# --- Output: a score for every token ------------------------------------------------


def token_scores(x, settings: Settings, vocabulary_size: int, part_count: int, dtype_policy: str):
    """(batch, [time,] features) -> (batch, [time,] vocabulary) scores, before the softmax.

    With --token-parts a token's score is its own score plus the sum of its
    parts' scores: the network scores each part once ("is a long event likely
    now? is C3 likely?"), and the fixed matrix adds them up for every token.
    A token never seen in training still gets the scores of its parts.
    """
    scores = layers.Dense(vocabulary_size, dtype=dtype_policy, name="token_logits")(x)
    if settings.token_parts:
        part_scores = layers.Dense(part_count, use_bias=False, dtype=dtype_policy, name="part_scores")(x)
        summed = layers.Dense(vocabulary_size, use_bias=False, trainable=False, dtype=dtype_policy,
                              name="parts_to_tokens")(part_scores)  # (batch, vocabulary)
        scores = layers.Add(dtype=dtype_policy, name="token_and_part_logits")([scores, summed])
    return scores
