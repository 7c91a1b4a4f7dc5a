"""Stage 2: tokens -> vocabulary, windows inside one piece, targets, and the one network-input encoding."""

import numpy as np
import pytest

from classical_composer.corpus import Piece
from classical_composer.note_tokens import NoteTokens
from classical_composer.prepare_sequences import (
    NetworkInput, Vocabulary, WindowBatches, keep_common_tokens, make_windows, split_by_file,
)

# Two pieces whose tokens never repeat across them, so a window that crossed
# from one into the other would show up as a row with tokens of both.
FIRST = Piece("first.mid", ["C4", "D4", "E4", "F4", "G4", "A4", "B4"])
SECOND = Piece("second.mid", ["0.4.7", "2.5.9", "rest", "C2.G2", "E-4 short 81", "F#2"])
SHORT = Piece("short.mid", ["C2", "G2", "E2"])  # exactly a window of 3: nothing left for a target
TINY = Piece("tiny.mid", ["D2"])


def test_vocabulary_is_the_sorted_set_of_tokens():
    vocabulary = Vocabulary.of_pieces([SECOND, FIRST, FIRST])
    assert vocabulary.tokens == sorted(set(FIRST.tokens) | set(SECOND.tokens))
    assert len(vocabulary) == len(FIRST.tokens) + len(SECOND.tokens)
    assert [vocabulary.index_of[token] for token in vocabulary.tokens] == list(range(len(vocabulary)))
    assert vocabulary.decode(vocabulary.encode(SECOND.tokens)) == SECOND.tokens
    assert vocabulary.encode(["C4"]).dtype == np.int32


def test_windows_never_span_two_pieces_and_targets_are_the_next_token():
    sequence_length = 3
    vocabulary = Vocabulary.of_pieces([FIRST, SECOND])
    windows = make_windows([FIRST, SECOND], vocabulary, sequence_length)

    # Every window of 3 inside each piece, with the token after it as the target; nothing else.
    expected = []
    for piece in (FIRST, SECOND):
        for start in range(len(piece.tokens) - sequence_length):
            expected.append((piece.tokens[start : start + sequence_length], piece.tokens[start + sequence_length]))
    inputs, targets = windows.rows(np.arange(len(windows)))
    assert inputs.shape == (len(expected), sequence_length)
    assert targets.shape == (len(expected),)
    got = [(vocabulary.decode(row), vocabulary.decode([target])[0]) for row, target in zip(inputs, targets)]
    assert got == expected
    assert windows.short_pieces == 0


def test_no_window_holds_tokens_of_two_pieces():
    vocabulary = Vocabulary.of_pieces([FIRST, SECOND])
    windows = make_windows([FIRST, SECOND], vocabulary, 4)
    inputs, targets = windows.rows(np.arange(len(windows)))
    first_classes = set(vocabulary.encode(FIRST.tokens).tolist())
    for row, target in zip(inputs, targets):
        owners = {int(index) in first_classes for index in [*row, target]}
        assert len(owners) == 1, "a window ran from one piece into the next"


@pytest.mark.parametrize("sequence_length", [3, 5])
def test_a_piece_not_longer_than_the_window_gives_none_and_is_counted(sequence_length):
    pieces = [FIRST, SHORT, TINY]
    vocabulary = Vocabulary.of_pieces(pieces)
    windows = make_windows(pieces, vocabulary, sequence_length)
    assert len(windows) == len(FIRST.tokens) - sequence_length
    assert windows.short_pieces == 2
    inputs, targets = windows.rows(np.arange(len(windows)))
    seen = set(inputs.ravel().tolist()) | set(targets.tolist())
    assert seen == set(vocabulary.encode(FIRST.tokens).tolist()), "only the long piece gives windows"


def test_no_pieces_gives_no_windows():
    windows = make_windows([], Vocabulary([]), 3)
    assert len(windows) == 0 and windows.short_pieces == 0


# --- Split by file (bug 5) ------------------------------------------------------------


def pieces_named(count: int) -> list:
    return [Piece(f"piece_{number}.mid", ["C4", "D4"]) for number in range(count)]


@pytest.mark.parametrize("count", [2, 3, 5, 10, 40])
def test_split_holds_out_whole_files_at_least_one(count):
    pieces = pieces_named(count)
    training, validation = split_by_file(pieces, 0.1, seed=0)
    assert len(validation) >= 1 and len(training) >= 1
    assert sorted(piece.name for piece in training + validation) == sorted(piece.name for piece in pieces)
    assert not {piece.name for piece in training} & {piece.name for piece in validation}


def test_split_share_of_files():
    training, validation = split_by_file(pieces_named(40), 0.25, seed=0)
    assert (len(training), len(validation)) == (30, 10)


def test_one_file_is_never_held_out():
    assert split_by_file(pieces_named(1), 0.5, seed=0) == (pieces_named(1), [])


def test_no_split_when_asked_for_none():
    assert split_by_file(pieces_named(5), 0.0, seed=0) == (pieces_named(5), [])


def test_split_is_deterministic_for_a_seed():
    pieces = pieces_named(20)
    assert split_by_file(pieces, 0.2, seed=3) == split_by_file(pieces, 0.2, seed=3)
    held_out_by_seed = {tuple(piece.name for piece in split_by_file(pieces, 0.2, seed=seed)[1]) for seed in range(5)}
    assert len(held_out_by_seed) > 1, "the seed should choose which files are held out"


# --- The one network-input encoding -----------------------------------------------------


def test_the_original_network_input_is_index_over_vocabulary_size():
    index_windows = np.array([[0, 1, 2], [3, 4, 0]])  # (batch, time)
    network_input = NetworkInput(vocabulary_size=5).encode(index_windows)
    assert network_input.shape == (2, 3, 1)  # (batch, time, 1)
    assert network_input.dtype == np.float32
    np.testing.assert_array_equal(network_input[..., 0], np.array([[0, 0.2, 0.4], [0.6, 0.8, 0]], dtype=np.float32))


def test_window_batches_feed_the_encoded_rows_with_sparse_targets():
    sequence_length, batch_size = 3, 4
    vocabulary = Vocabulary.of_pieces([FIRST, SECOND])
    windows = make_windows([FIRST, SECOND], vocabulary, sequence_length)
    batches = WindowBatches(windows, NetworkInput(len(vocabulary)), batch_size, shuffle=False)
    assert len(batches) == -(-len(windows) // batch_size)

    seen_inputs, seen_targets = [], []
    for batch_number in range(len(batches)):
        network_input, targets = batches[batch_number]
        assert network_input.shape[1:] == (sequence_length, 1) and network_input.dtype == np.float32
        assert targets.ndim == 1 and np.issubdtype(targets.dtype, np.integer)  # class numbers, not one-hot rows
        seen_inputs.append(network_input)
        seen_targets.append(targets)

    all_rows, all_targets = windows.rows(np.arange(len(windows)))
    np.testing.assert_array_equal(np.concatenate(seen_inputs), NetworkInput(len(vocabulary)).encode(all_rows))
    np.testing.assert_array_equal(np.concatenate(seen_targets), all_targets)


def window_pairs_in_batch_order(batches) -> list:
    """Every (network input row, target) the batches hold, in the order model.fit would see them."""
    pairs = []
    for batch_number in range(len(batches)):
        network_input, targets = batches[batch_number]
        pairs += [(tuple(row.ravel().tolist()), int(target)) for row, target in zip(network_input, targets)]
    return pairs


def test_shuffled_batches_hold_the_same_windows_in_a_new_order_each_epoch():
    vocabulary = Vocabulary.of_pieces([FIRST, SECOND])
    windows = make_windows([FIRST, SECOND], vocabulary, 2)  # 9 windows: 9! orders
    in_order = window_pairs_in_batch_order(WindowBatches(windows, NetworkInput(len(vocabulary)), 3, shuffle=False))
    batches = WindowBatches(windows, NetworkInput(len(vocabulary)), 3, shuffle=True, seed=1)
    first_epoch = window_pairs_in_batch_order(batches)
    batches.on_epoch_end()  # what model.fit calls between epochs
    second_epoch = window_pairs_in_batch_order(batches)

    rows, targets = windows.rows(np.arange(len(windows)))
    expected = [(tuple(row.ravel().tolist()), int(target)) for row, target in zip(NetworkInput(len(vocabulary)).encode(rows), targets)]
    assert in_order == expected
    assert sorted(first_epoch) == sorted(second_epoch) == sorted(expected)  # the same windows, each once
    assert first_epoch != in_order and second_epoch != first_epoch


def test_with_composers_each_window_carries_its_pieces_composer_into_every_batch():
    vocabulary = Vocabulary.of_pieces([FIRST, SHORT, SECOND])
    sequence_length = 3
    windows = make_windows([FIRST, SHORT, SECOND], vocabulary, sequence_length, piece_composers=np.array([1, 0, 2]))
    # FIRST gives 4 windows, SHORT none, SECOND 3.
    assert windows.composers.tolist() == [1, 1, 1, 1, 2, 2, 2]
    batches = WindowBatches(windows, NetworkInput(len(vocabulary), reads_composer=True), batch_size=5, shuffle=True,
                            seed=3)
    for batch_number in range(len(batches)):
        network_input, targets = batches[batch_number]
        picked = batches.order[batch_number * 5 : (batch_number + 1) * 5]
        rows, expected_targets = windows.rows(picked)
        np.testing.assert_array_equal(network_input["scaled_token_indices"], NetworkInput(len(vocabulary)).encode(rows))
        # The composer at every step of a window is its piece's.
        assert network_input["composer_indices"].tolist() == [[number] * sequence_length
                                                              for number in windows.composers[picked]]
        np.testing.assert_array_equal(targets, expected_targets)
    assert windows.subset([6, 0]).composers.tolist() == [2, 1]


def test_tokens_heard_fewer_than_min_count_times_become_the_nearest_common_token():
    pieces = [Piece("a.mid", ["C4", "E4", "C4", "G4 short", "0.4.7"], "bach"),
              Piece("b.mid", ["E4", "C#4", "0.4.7", "0.4.8"], "haydn")]
    nearest = NoteTokens({}).nearest_known_of_each
    # Heard twice: C4, E4, 0.4.7. Heard once, each two pitch classes from C4 and from E4 (note_tokens.token_distance):
    # G4 short and 0.4.8 (mean pitch 64) become E4, C#4 becomes C4, the nearest in pitch.
    kept, replaced = keep_common_tokens(pieces, 2, nearest)
    assert [piece.tokens for piece in kept] == [["C4", "E4", "C4", "E4", "0.4.7"],
                                                ["E4", "C4", "0.4.7", "E4"]]
    assert replaced == 3
    assert [(piece.name, piece.composer) for piece in kept] == [("a.mid", "bach"), ("b.mid", "haydn")]
    assert keep_common_tokens(pieces, 1, nearest) == (pieces, 0)  # the original keeps every token
    with pytest.raises(ValueError, match="no token is heard 3 times or more"):
        keep_common_tokens(pieces, 3, nearest)
