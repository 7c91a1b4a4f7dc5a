"""The bundle (bug 4): everything predict needs in one folder, and one clear sentence when it does not fit."""

import json
import shutil

import numpy as np
import pytest

from classical_composer.bundle import FORMAT_VERSION, POINTER_FILE, Bundle, load_bundle, save_bundle, save_token_file
from classical_composer.cli import UserError
from classical_composer.network import build_network
from classical_composer.prepare_sequences import Vocabulary
from classical_composer.settings import Settings

SETTINGS = Settings(rests=True, durations=True, sequence_length=4, preset="tiny", epochs=1, seed=3)
VOCABULARY = Vocabulary(["C4 short", "E-4 medium", "G4 long", "rest short", "0.4.7 short"])
TRAINING_PIECES = [np.array([0, 1, 2, 3, 4, 0], dtype=np.int32), np.array([4, 3, 2, 1, 0], dtype=np.int32)]
TRAINING_SUMMARY = {"command": "python train.py --preset tiny", "best_epoch": 1, "val_loss": 1.5}


@pytest.fixture(scope="module")
def model():
    return build_network(SETTINGS, len(VOCABULARY))


@pytest.fixture(scope="module")
def saved_bundle(tmp_path_factory, model):
    folder = tmp_path_factory.mktemp("bundle")
    save_bundle(folder, Bundle(SETTINGS, VOCABULARY, model, TRAINING_PIECES, None, TRAINING_SUMMARY))
    return folder


@pytest.fixture
def bundle_copy(tmp_path, saved_bundle):
    """A copy of the saved bundle that a test may damage."""
    return shutil.copytree(saved_bundle, tmp_path / "bundle")


def pointer_of(folder) -> dict:
    return json.loads((folder / POINTER_FILE).read_text())


def rewrite_pointer(folder, **changes) -> None:
    (folder / POINTER_FILE).write_text(json.dumps({**pointer_of(folder), **changes}))


def test_save_and_load_round_trip(saved_bundle, model):
    bundle = load_bundle(saved_bundle)
    assert bundle.settings == SETTINGS
    assert bundle.vocabulary.tokens == VOCABULARY.tokens
    assert bundle.training == TRAINING_SUMMARY
    assert len(bundle.training_pieces) == len(TRAINING_PIECES)
    for loaded, original in zip(bundle.training_pieces, TRAINING_PIECES):
        np.testing.assert_array_equal(loaded, original)
    saved_weights, loaded_weights = model.get_weights(), bundle.model.get_weights()
    assert len(loaded_weights) == len(saved_weights)
    for loaded, original in zip(loaded_weights, saved_weights):
        np.testing.assert_array_equal(loaded, original)
    network_input = np.random.default_rng(0).random((2, SETTINGS.sequence_length, 1), dtype=np.float32)
    np.testing.assert_allclose(np.asarray(bundle.model(network_input)), np.asarray(model(network_input)), rtol=1e-6)


def test_the_bundle_holds_only_what_it_points_to(saved_bundle):
    pointer = pointer_of(saved_bundle)
    assert pointer["format_version"] == FORMAT_VERSION
    assert sorted(path.name for path in saved_bundle.iterdir()) == sorted(
        [POINTER_FILE, pointer["model_file"], pointer["training_tokens_file"]]
    )


def test_saving_again_leaves_only_the_referenced_files(bundle_copy, model):
    old_pointer = pointer_of(bundle_copy)
    (bundle_copy / ".model-0123456789ab.keras.tmp99").write_bytes(b"left by a crash")
    (bundle_copy / "model-0123456789ab.keras").write_bytes(b"an older model")
    (bundle_copy / "notes.txt").write_text("not ours: must stay")

    save_bundle(bundle_copy, Bundle(SETTINGS, VOCABULARY, model, TRAINING_PIECES[:1], None, TRAINING_SUMMARY))

    pointer = pointer_of(bundle_copy)
    assert pointer["model_file"] != old_pointer["model_file"]
    assert sorted(path.name for path in bundle_copy.iterdir()) == sorted(
        [POINTER_FILE, pointer["model_file"], pointer["training_tokens_file"], "notes.txt"]
    )
    assert len(load_bundle(bundle_copy).training_pieces) == 1


# --- A bundle that does not fit: one sentence, never a traceback ------------------------------


def refusal(folder) -> str:
    """The UserError sentence load_bundle refuses `folder` with."""
    with pytest.raises(UserError) as error:
        load_bundle(folder)
    return str(error.value)


def test_missing_folder(tmp_path):
    folder = tmp_path / "no_such_bundle"
    assert refusal(folder) == f"there is no bundle folder {folder}; train one with: python train.py --out {folder}"


def test_missing_bundle_json(bundle_copy):
    (bundle_copy / POINTER_FILE).unlink()
    assert refusal(bundle_copy) == (f"{bundle_copy} has no bundle.json, so it is not a complete bundle; "
                                    f"train one with: python train.py --out {bundle_copy}")


def test_missing_model_file(bundle_copy):
    model_file = pointer_of(bundle_copy)["model_file"]
    (bundle_copy / model_file).unlink()
    assert refusal(bundle_copy) == f"{bundle_copy} is incomplete: {model_file} is missing; train it again"


def test_missing_training_tokens(bundle_copy):
    tokens_file = pointer_of(bundle_copy)["training_tokens_file"]
    (bundle_copy / tokens_file).unlink()
    assert refusal(bundle_copy) == f"{bundle_copy} is incomplete: {tokens_file} is missing; train it again"


def test_newer_format_version(bundle_copy):
    rewrite_pointer(bundle_copy, format_version=FORMAT_VERSION + 1)
    assert refusal(bundle_copy) == (
        f"{bundle_copy} was written in bundle format {FORMAT_VERSION + 1}, but this version reads format "
        f"{FORMAT_VERSION} and older; update classical-composer or retrain")


def test_vocabulary_that_does_not_match_the_network(bundle_copy):
    """The original's most reported failure: 'Dimension 1 in both shapes must be equal, but are 358 and 359'."""
    rewrite_pointer(bundle_copy, vocabulary=sorted(VOCABULARY.tokens + ["A4 short"]))
    assert refusal(bundle_copy) == (
        f"the vocabulary in {bundle_copy} has {len(VOCABULARY) + 1} tokens but its network predicts "
        f"{len(VOCABULARY)} classes; the bundle's files do not belong together, so train it again")


def test_sequence_length_that_does_not_match_the_network(bundle_copy):
    rewrite_pointer(bundle_copy, settings={**SETTINGS.as_dict(), "sequence_length": 7})
    assert refusal(bundle_copy) == (f"the network in {bundle_copy} reads windows of {SETTINGS.sequence_length} "
                                    f"tokens but its settings say 7; train the bundle again")


def test_unknown_setting(bundle_copy):
    rewrite_pointer(bundle_copy, settings={**SETTINGS.as_dict(), "loudness": 11})
    assert refusal(bundle_copy) == f"the settings in {bundle_copy} are not ones this version knows (unknown settings loudness)"


def test_damaged_bundle_json(bundle_copy):
    (bundle_copy / POINTER_FILE).write_text("{ not json")
    assert refusal(bundle_copy) == f"{bundle_copy / POINTER_FILE} is not readable JSON; the bundle is damaged, so train it again"


# --- A bundle trained with --composers ---------------------------------------------------

COMPOSER_SETTINGS = Settings(sequence_length=4, preset="tiny", embedding=4, composers=True)
COMPOSERS = ["bach", "palestrina"]


@pytest.fixture(scope="module")
def composers_bundle(tmp_path_factory):
    folder = tmp_path_factory.mktemp("composers_bundle")
    model = build_network(COMPOSER_SETTINGS, len(VOCABULARY), composer_count=len(COMPOSERS))
    save_bundle(folder, Bundle(COMPOSER_SETTINGS, VOCABULARY, model, TRAINING_PIECES, TRAINING_PIECES[:1],
                               TRAINING_SUMMARY, COMPOSERS, np.array([1, 0]), np.array([1])))
    return folder


def test_a_composers_bundle_keeps_the_names_and_each_pieces_composer(composers_bundle):
    bundle = load_bundle(composers_bundle)
    assert bundle.composers == COMPOSERS
    assert bundle.training_composers.tolist() == [1, 0] and bundle.validation_composers.tolist() == [1]


def test_a_composer_number_past_the_list_is_refused(composers_bundle, tmp_path):
    folder = shutil.copytree(composers_bundle, tmp_path / "bundle")
    rewrite_pointer(folder, composers=COMPOSERS[:1])  # one name, but the pieces and the network know two
    assert refusal(folder) == (f"the network in {folder} reads 2 composers but its bundle lists 1; "
                               f"the bundle's files do not belong together, so train it again")


@pytest.mark.parametrize("stored_composers", [[2, 0], [1]], ids=["a number past the list", "one piece without"])
def test_training_tokens_whose_composers_do_not_fit_are_refused(composers_bundle, tmp_path, stored_composers):
    folder = shutil.copytree(composers_bundle, tmp_path / "bundle")
    # Saved as train.py saves them, under the hash of their content: a file changed in place is refused as damaged.
    rewrite_pointer(folder, training_tokens_file=save_token_file(folder, TRAINING_PIECES, "training_tokens",
                                                                 np.array(stored_composers)))
    assert refusal(folder) == (f"the composers of the training tokens in {folder} do not fit its list of composers; "
                               f"train the bundle again")
