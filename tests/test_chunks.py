"""Training on chunks, generation that carries the LSTM's state, whole-piece evaluation, and songs that end.

In:  hand-made pieces of token indices, tiny networks, and conftest's composer folder for two tiny bundles.
Out: nothing; these tests fail if a target is learned twice or never in an
     epoch, if padding weighs in the loss, if carrying the state gives other
     probabilities than reading the whole song, if a song goes on after End,
     if a sounding key may be struck again or a silent one released, or if a
     chunk-trained bundle does not compose byte-identically twice.
"""

from collections import Counter

import keras
import numpy as np
import pytest

import predict as predict_script
import train as train_script
from classical_composer import evaluate as evaluate_module
from classical_composer import performance
from classical_composer.bundle import load_bundle
from classical_composer.corpus import parse_folder
from classical_composer.network import any_length_copy, build_network
from classical_composer.predict import StateCarrier, compose
from classical_composer.prepare_sequences import ChunkBatches, NetworkInput, chunk_spans
from classical_composer.settings import Settings
from midi_fixtures import write_two_composers
from script_runs import succeeds

# --- Chunks -------------------------------------------------------------------

# Three pieces whose tokens say where they are: piece p's token at position i is 10 p + i.
PIECES = [np.arange(0, 5), np.arange(10, 11), np.arange(20, 29)]  # 4, 0 and 8 targets


def learned_targets(batches: ChunkBatches) -> Counter:
    """Every target an epoch of batches teaches (weight 1), counted; and checks each is its input's next token."""
    counted = Counter()
    for number in range(len(batches)):
        inputs, targets, weights = batches[number]
        for row in range(len(inputs)):
            for step in np.flatnonzero(weights[row]):
                assert targets[row, step] == inputs[row, step] + 1  # the token after the one read
                counted[int(targets[row, step])] += 1
    return counted


def test_chunk_spans_cut_each_piece_at_the_offset_and_every_chunk_length_after():
    spans = chunk_spans([5, 1, 9], chunk_length=3, offsets=[2, 0, 1])
    # Piece 0 has inputs 0..3: cut at 0, 2; piece 1 none; piece 2 inputs 0..7: cut at 0, 1, 4, 7.
    assert spans.tolist() == [[0, 0, 2], [0, 2, 2], [2, 0, 1], [2, 1, 3], [2, 4, 3], [2, 7, 1]]


@pytest.mark.parametrize("shuffle", [False, True])
def test_an_epoch_of_chunks_teaches_every_target_exactly_once(shuffle):
    batches = ChunkBatches(PIECES, NetworkInput(30, reads_token_indices=True), chunk_length=3, batch_size=2,
                           shuffle=shuffle)
    every_target = Counter(int(token) for piece in PIECES for token in piece[1:])
    for _ in range(4):  # the cuts move each epoch; the targets stay the same
        assert learned_targets(batches) == every_target
        assert batches.target_count == sum(every_target.values()) == 12
        batches.on_epoch_end()


def test_padding_has_no_weight_and_the_number_of_batches_never_changes():
    batches = ChunkBatches(PIECES, NetworkInput(30), chunk_length=4, batch_size=2, shuffle=True, seed=3)
    counts = set()
    for _ in range(6):
        counts.add(len(batches))
        for number in range(len(batches)):
            inputs, targets, weights = batches[number]
            assert inputs.shape == (len(targets), 4, 1)  # the original's scaled input, one number a step
            assert set(np.unique(weights)) <= {0.0, 1.0}
            # A chunk's real steps come first; everything after them is padding of token 0.
            real = weights.astype(bool)
            assert np.all(real[:, :-1] >= real[:, 1:])
            assert np.all(targets[~real] == 0) and np.all(inputs[~real] == 0)
        batches.on_epoch_end()
    assert len(counts) == 1


def test_composers_follow_their_piece_into_every_chunk():
    batches = ChunkBatches(PIECES, NetworkInput(30, reads_token_indices=True, reads_composer=True), chunk_length=3,
                           batch_size=8, shuffle=True, piece_composers=np.array([1, 0, 2]))
    network_input, _, weights = batches[0]
    piece_of_row = network_input["token_indices"][:, 0] // 10  # the first token of a chunk tells its piece
    assert np.all(network_input["composer_indices"] == np.array([1, 0, 2])[piece_of_row][:, np.newaxis])


def test_transpositions_move_each_piece_by_one_shift_an_epoch_and_keep_it_in_the_vocabulary():
    vocabulary = ["End", "Note 60 Off", "Note 60 On", "Note 61 On", "Note 62 On", "Wait 1/2 beat"]
    table = performance.transposition_table(vocabulary, shifts=[-1, 0, 1, 2])
    # Events without a pitch stay; a note moves to its neighbour, or to -1 where that is not in the vocabulary.
    assert table.tolist() == [[0, -1, -1, 2, 3, 5], [0, 1, 2, 3, 4, 5], [0, -1, 3, 4, -1, 5], [0, -1, 4, -1, -1, 5]]
    # Piece 0 (60 On, 61 On) may stay or move up one; piece 1 holds "Note 60 Off", which only stays.
    pieces = [np.array([2, 5, 3, 5, 0]), np.array([2, 5, 1, 5, 0])]
    batches = ChunkBatches(pieces, NetworkInput(6, reads_token_indices=True), chunk_length=2, batch_size=4,
                           shuffle=True, seed=2, transpositions=table)
    piece_0_as_it_is, piece_0_moved_up, piece_1 = [5, 3, 5, 0], [5, 4, 5, 0], [5, 1, 5, 0]
    epochs_moved_up = []
    for _ in range(12):
        # Each epoch teaches every target once, each whole piece moved by one shift it allows.
        learned = learned_targets_as_tokens(batches)
        assert learned in (Counter(piece_0_as_it_is + piece_1), Counter(piece_0_moved_up + piece_1))
        epochs_moved_up.append(learned[4] > 0)
        batches.on_epoch_end()
    assert set(epochs_moved_up) == {True, False}  # both shifts of piece 0 come up
    # Held-out batches are read as they are.
    held_out = ChunkBatches(pieces, NetworkInput(6, reads_token_indices=True), chunk_length=2, batch_size=4,
                            shuffle=False, transpositions=table)
    assert learned_targets_as_tokens(held_out) == Counter(piece_0_as_it_is + piece_1)


def learned_targets_as_tokens(batches: ChunkBatches) -> Counter:
    """The targets of an epoch of batches with weight 1, counted, each checked to be the token after its input."""
    counted = Counter()
    for number in range(len(batches)):
        inputs, targets, weights = batches[number]
        real = weights.astype(bool)
        for row in range(len(inputs)):
            assert np.all(targets[row][real[row]][:-1] == inputs[row][real[row]][1:])
        counted.update(targets[real].tolist())
    return counted


# --- Carried state --------------------------------------------------------------


def tiny_chunk_network(composers: int = 0):
    settings = Settings(chunks=True, preset="tiny", embedding=4, sequence_length=8, composers=composers > 0)
    keras.utils.set_random_seed(5)
    return settings, build_network(settings, vocabulary_size=11, composer_count=composers)


@pytest.mark.parametrize("composers", [0, 2])
def test_carrying_the_state_gives_the_probabilities_of_reading_the_whole_song(composers):
    settings, model = tiny_chunk_network(composers)
    songs = np.random.default_rng(0).integers(11, size=(2, 30)).astype(np.int32)  # longer than the window
    composer = 1 if composers else None
    carrier = StateCarrier(model, NetworkInput.of(settings, 11), songs=2, composer=composer)
    carried = [carrier.start(songs[:, :8])] + [carrier.after(songs[:, step]) for step in range(8, 29)]
    carried = np.stack(carried, axis=1)  # (songs, steps 7..28, vocabulary)

    whole = any_length_copy(model)
    network_input = songs if not composers else {"token_indices": songs,
                                                 "composer_indices": np.full(songs.shape, 1, np.int32)}
    read_at_once = keras.ops.convert_to_numpy(whole(network_input, training=False))[:, 7:29]
    np.testing.assert_allclose(carried, read_at_once, atol=1e-5)
    # A second batch of songs starts afresh, not where the first ended.
    np.testing.assert_allclose(carrier.start(songs[:, :8]), carried[:, 0], atol=1e-6)


def test_whole_piece_evaluation_scores_every_target_after_all_before_it():
    settings, model = tiny_chunk_network()
    pieces = [np.random.default_rng(number).integers(11, size=length).astype(np.int32)
              for number, length in enumerate([3, 40, 17])]
    scorer = evaluate_module.network_scorer(model, settings)
    nats, ranked_first = evaluate_module.network_losses(scorer, settings, pieces, 11)
    assert len(nats) == sum(len(piece) - 1 for piece in pieces)
    expected = []
    for piece in pieces:  # each piece alone, read whole
        probabilities = keras.ops.convert_to_numpy(scorer(piece[np.newaxis, :-1], training=False))[0]
        expected.extend(-np.log(probabilities[np.arange(len(piece) - 1), piece[1:]]))
    np.testing.assert_allclose(nats, expected, rtol=1e-5)
    # From position 10 on: the same losses, less the first nine of each piece that has them.
    later, _ = evaluate_module.network_losses(scorer, settings, pieces, 11, first_target=10)
    np.testing.assert_allclose(later, np.concatenate([nats[2 + 9 : 2 + 39], nats[2 + 39 + 9 :]]), rtol=1e-6)


# --- Songs that end, keys that are down -------------------------------------------

EVENTS = ["Start", "End", "Note 60 On", "Note 60 Off", "Note 64 On", "Note 64 Off", "Wait 1/2 beat"]


class ScriptedReader:
    """A stand-in network: the same probabilities for every song, chosen by the step."""

    def __init__(self, probabilities_by_step):
        self.probabilities_by_step, self.step = probabilities_by_step, 0

    def start(self, windows):
        self.songs, self.step = len(windows), 0
        return self.read()

    def after(self, chosen):
        self.step += 1
        return self.read()

    def read(self):
        return np.tile(self.probabilities_by_step(self.step), (self.songs, 1))


def one_hot(index: int) -> np.ndarray:
    probabilities = np.full(len(EVENTS), 0.01)
    probabilities[index] = 1.0
    return probabilities / probabilities.sum()


def test_a_song_stops_at_end_and_num_notes_is_the_most_it_may_have():
    end, wait = EVENTS.index("End"), EVENTS.index("Wait 1/2 beat")
    reader = ScriptedReader(lambda step: one_hot(end if step == 3 else wait))
    songs = compose(reader, np.zeros((2, 4), np.int32), num_notes=10, end_index=end)
    assert [song.tolist() for song in songs] == [[wait, wait, wait, end]] * 2
    reader = ScriptedReader(lambda step: one_hot(wait))
    assert [len(song) for song in compose(reader, np.zeros((1, 4), np.int32), num_notes=10, end_index=end)] == [10]


def test_a_sounding_key_is_never_struck_again_nor_a_silent_one_released():
    rules = performance.SoundingNotes(EVENTS, key_rules=True)
    # Song 0's window leaves C4 down; song 1's presses and releases it.
    on_60, off_60, on_64 = EVENTS.index("Note 60 On"), EVENTS.index("Note 60 Off"), EVENTS.index("Note 64 On")
    rules.start(np.array([[0, on_60], [on_60, off_60]]))
    allowed = rules.allowed()
    assert not allowed[0, on_60] and allowed[0, off_60]
    assert allowed[1, on_60] and not allowed[1, off_60]
    assert allowed[:, on_64].all() and not allowed[:, EVENTS.index("Note 64 Off")].any()

    # Sampled freely from a network that would rather repeat itself, no song ever slips.
    greedy_for_keys = ScriptedReader(lambda step: np.array([0.01, 0.0, 0.3, 0.3, 0.3, 0.3, 0.09]))
    songs = compose(greedy_for_keys, np.zeros((8, 2), np.int32), num_notes=60, top_k=0,
                    random=np.random.default_rng(1), rules=performance.SoundingNotes(EVENTS, key_rules=True))
    for song in songs:
        down = set()
        for event in (performance.event_of_text(EVENTS[index]) for index in song):
            if event.kind == performance.NOTE_ON:
                assert event.value not in down
                down.add(event.value)
            elif event.kind == performance.NOTE_OFF:
                assert event.value in down
                down.remove(event.value)


def test_no_note_sounds_longer_than_the_limit_and_the_limit_leaves_out_the_longest_thousandth():
    on_60, off_60, on_64, off_64, wait = (EVENTS.index(name) for name in
                                          ("Note 60 On", "Note 60 Off", "Note 64 On", "Note 64 Off", "Wait 1/2 beat"))
    # C4 held for two waits of half a beat (12 twelfths), E4 struck anew after one (6), then released at once.
    real = [np.array([on_60, wait, on_64, wait, off_60, on_64, off_64, EVENTS.index("End")])]
    rules = performance.SoundingNotes(EVENTS)
    assert sorted(rules.note_lengths(real)) == [0, 6, 12]
    notes, _ = performance.notes_of_performance([EVENTS[index] for index in real[0]])
    assert 12 * max(end - start for start, end, _ in notes) == 12  # (it gives the E4 struck anew a moment)
    assert rules.note_length_limit(real) == 12  # with three notes, the 99.9th percentile is nearly the longest
    # 2,000 notes of half a beat and one held for ten beats: the one is left out of the limit.
    held_long = np.array([on_64, *[wait] * 20, off_64])
    assert rules.note_length_limit([np.tile([on_60, wait, off_60], 2000), held_long]) == 6

    rules.longest_steps = 12
    rules.start(np.array([[on_60, wait], [on_60, off_60]]))  # song 0: C4 has sounded 6 twelfths; song 1: nothing
    allowed = rules.allowed()
    assert allowed[0, wait] and allowed[1, wait]  # one more wait brings C4 to the limit, not past it
    rules.after(np.array([wait, wait]))
    allowed = rules.allowed()
    # Song 0's C4 has sounded its longest: its release is all that may come next (End only after it).
    assert allowed[0].tolist() == [name == "Note 60 Off" for name in EVENTS]
    assert allowed[1].all()

    # A network that would rather strike and wait than release: no note ever sounds past the limit.
    never_releases = ScriptedReader(lambda step: np.array([0.0, 0.01, 0.3, 0.01, 0.3, 0.01, 0.37]))
    rules = performance.SoundingNotes(EVENTS, longest_steps=12)
    songs = compose(never_releases, np.zeros((8, 2), np.int32), num_notes=80, top_k=0,
                    random=np.random.default_rng(2), rules=rules)
    free = compose(never_releases, np.zeros((8, 2), np.int32), num_notes=80, top_k=0, random=np.random.default_rng(2))
    for limited, song in ((True, songs), (False, free)):
        longest = max(12 * (end - start) for piece in song
                      for start, end, _ in performance.notes_of_performance([EVENTS[index] for index in piece])[0])
        assert (longest <= 12) == limited


# --- Tiny chunk-trained bundles, end to end -------------------------------------------


@pytest.fixture(scope="module")
def two_composers_folder(training_folder, tmp_path_factory):
    """alpha/ holds the three training pieces, beta/ two pieces of its own."""
    folder = write_two_composers(tmp_path_factory.mktemp("chunk_composers"), training_folder, beta_seeds=(20, 21))
    parse_folder(folder, Settings(representation="events").encoding(), workers=1)  # no pool in train.py
    return folder


@pytest.mark.parametrize("model", ["lstm", "transformer"])
def test_a_chunk_trained_bundle_trains_saves_loads_and_composes_byte_identically(model, two_composers_folder,
                                                                               tmp_path):
    # The LSTM unrolls its loop in training, so its shorter chunks trace sooner; the transformer's
    # cost barely grows with the length, and shorter chunks would only make more batches.
    chunk_length = "8" if model == "lstm" else "16"
    flags = ["--preset", "tiny", "--epochs", "1", "--sequence-length", chunk_length, "--representation", "events",
             "--composers", "--chunks", "--model", model] + (["--embedding", "8"] if model == "lstm" else [])
    printed = succeeds(train_script, *flags, "--midi-dir", two_composers_folder, "--out", tmp_path / "bundle",
                       "--tensorboard", tmp_path / "logs")
    assert "every token from position 1 of each held-out piece" in printed
    # Keras' TensorBoard callback wrote the epoch's training and validation logs.
    assert {path.parent.name for path in (tmp_path / "logs").rglob("events.out.tfevents.*")} == {"train", "validation"}
    bundle = load_bundle(tmp_path / "bundle")
    assert bundle.settings.chunks and bundle.settings.carries_state == (model == "lstm")
    songs = []
    for name in ("first", "again"):
        succeeds(predict_script, "--weights", tmp_path / "bundle", "--composer", "alpha", "--top-k", "7",
                 "--seed", "4", "--num-notes", "60", "--output", tmp_path / f"{name}.mid")
        songs.append((tmp_path / f"{name}.mid").read_bytes())
    assert songs[0] == songs[1]
    # The held-out figures train.py kept are the ones evaluate gives the bundle now.
    figures = evaluate_module.evaluate(bundle)
    assert figures["bundle"]["nats"] == pytest.approx(bundle.training["evaluation"]["bundle"]["nats"], rel=1e-5)
    assert figures["bundle"]["targets"] == sum(len(piece) - 1 for piece in bundle.validation_pieces)
