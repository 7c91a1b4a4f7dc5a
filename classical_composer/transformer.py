"""The other network: settings -> a small decoder-only transformer, as a Keras model.

In:  the settings (preset, sequence length, mixed precision, token parts), the
     vocabulary size, with --token-parts the token-to-parts matrix's width, and
     with --composers the number of composers.
Out: an uncompiled `keras.Model` from a window of token indices, (batch, time),
     to the next token's probabilities after every step, (batch, time, vocabulary).
     network.build_network compiles it like the LSTM.

The shape is GPT's, made small (see docs/transformer.md for the sizes):

    token embedding + position embedding
    -> N x [LayerNorm -> causal self-attention -> + residual
            -> LayerNorm -> Dense(feed_forward, gelu) -> Dense(width) -> + residual]
    -> LayerNorm -> Dense(vocabulary) -> softmax

Where the LSTM carries a summary of the window from step to step, the
transformer lets every step look back at all the steps before it at once.
The causal mask keeps it from looking ahead: the probabilities at step t
depend on the tokens up to t only, so one window trains t predictions.

Every layer is a stock Keras layer, and the positions are computed from the
input with keras.ops, so the saved model loads with keras.saving.load_model
in any Keras 3, without this project's code.
"""

import keras
from keras import layers

from classical_composer.network_parts import (
    PROBABILITIES, composer_vectors, network_inputs, token_scores, token_vectors,
)
from classical_composer.prepare_sequences import NetworkInput
from classical_composer.settings import Settings


def decoder_block(x, settings: Settings, block_number: int, dtype_policy: str):
    """(batch, time, width) -> (batch, time, width): attention to earlier steps, then a per-step layer."""
    size = settings.transformer_size
    name = f"block_{block_number + 1}"
    # Pre-normalisation (as GPT-2): the residual path stays a plain sum, which trains steadily.
    normalised = layers.LayerNormalization(dtype=dtype_policy, name=f"{name}_attention_norm")(x)
    attended = layers.MultiHeadAttention(size.heads, key_dim=size.width // size.heads, dtype=dtype_policy,
                                         name=f"{name}_attention")(normalised, normalised, use_causal_mask=True)
    attended = layers.Dropout(size.dropout, dtype=dtype_policy, name=f"{name}_attention_dropout")(attended)
    x = layers.Add(dtype=dtype_policy, name=f"{name}_attention_residual")([x, attended])

    normalised = layers.LayerNormalization(dtype=dtype_policy, name=f"{name}_feed_forward_norm")(x)
    hidden = layers.Dense(size.feed_forward_units, activation="gelu", dtype=dtype_policy,
                          name=f"{name}_feed_forward_hidden")(normalised)
    hidden = layers.Dense(size.width, dtype=dtype_policy, name=f"{name}_feed_forward_out")(hidden)
    hidden = layers.Dropout(size.dropout, dtype=dtype_policy, name=f"{name}_feed_forward_dropout")(hidden)
    return layers.Add(dtype=dtype_policy, name=f"{name}_feed_forward_residual")([x, hidden])


def build_transformer(settings: Settings, vocabulary_size: int, part_count: int = 0,
                      composer_count: int = 0) -> keras.Model:
    """The decoder-only transformer, sized by settings.transformer_size; not compiled.

    part_count:     the number of token parts (columns of the token-to-parts matrix); 0 without --token-parts.
    composer_count: the number of composers, with --composers; 0 without.
    """
    size = settings.transformer_size
    dtype_policy = "mixed_bfloat16" if settings.mixed_precision else "float32"

    # The token's vector, as the embedding LSTM reads it (with its parts' vectors under --token-parts).
    inputs, composer_indices = network_inputs(settings, vocabulary_size)  # (batch, time) each
    x = token_vectors(inputs, settings, vocabulary_size, part_count, dtype_policy, width=size.width)  # (batch, time, width)
    # Each step's position, 0 .. time - 1, computed from the input itself so that
    # the saved model holds no constant and no custom layer.
    positions = keras.ops.cumsum(keras.ops.ones_like(inputs), axis=1) - 1  # (batch, time) int32
    position_vectors = layers.Embedding(settings.sequence_length, size.width, dtype=dtype_policy,
                                        name="position_embedding")(positions)  # (batch, time, width)
    x = layers.Add(dtype=dtype_policy, name="token_and_position")([x, position_vectors])
    if composer_indices is not None:  # the composer's vector is added like the position's: the residual stream keeps its width
        x = layers.Add(dtype=dtype_policy, name="token_and_composer")(
            [x, composer_vectors(composer_indices, composer_count, size.width, dtype_policy)])
    x = layers.Dropout(size.dropout, dtype=dtype_policy, name="embedding_dropout")(x)

    for block_number in range(size.blocks):
        x = decoder_block(x, settings, block_number, dtype_policy)  # (batch, time, width)
    x = layers.LayerNormalization(dtype=dtype_policy, name="final_norm")(x)
    x = token_scores(x, settings, vocabulary_size, part_count, dtype_policy)  # (batch, time, vocabulary)
    # The softmax in float32 also under mixed precision, so that small probabilities do not round to zero.
    outputs = layers.Activation("softmax", dtype="float32", name=PROBABILITIES)(x)
    return keras.Model(NetworkInput.model_inputs(inputs, composer_indices), outputs, name=f"transformer_{settings.preset}")
