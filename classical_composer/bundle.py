"""The bundle: everything predict.py needs, in one folder, never half-written.

In:  a trained model, its settings, its vocabulary and the token indices of
     the training and the held-out pieces (save); or a folder (load).
Out: the folder (save); or a `Bundle` checked to fit together (load).

A bundle folder holds:

    bundle.json                  format, settings, vocabulary, composers, file names, training summary
    model-<id>.keras             the best model so far (architecture + weights)
    training_tokens-<hash>.npz   the training pieces as token indices (and each one's composer), to seed generation
    validation_tokens-<hash>.npz the held-out pieces as token indices (and composers), to evaluate the model

The original saved only weights and rebuilt the vocabulary at predict time by
re-parsing the data, so a different data set gave shape errors deep inside
TensorFlow. A bundle carries its own vocabulary and settings instead.

bundle.json is the pointer that makes a bundle complete: new model files are
written under new names first, and bundle.json is replaced last, in one atomic
rename. A crash or Ctrl-C at any moment leaves the previous complete bundle or
the new one. The same mechanism keeps the resume state (resume.json).

Reading checks every file before trusting it: a token file's name carries the
hash of its content, and a .keras file is a zip archive whose members carry
checksums, so a file cut short or changed is refused in one sentence.
"""

import hashlib
import io
import json
import os
import re
import uuid
import zipfile
import zlib
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import keras
import numpy as np

from classical_composer.atomic import replaced_atomically
from classical_composer.cli import UserError, check_bundle_folder
from classical_composer.fast_lstm import with_stock_lstms
from classical_composer.network_parts import COMPOSER_EMBEDDING
from classical_composer.prepare_sequences import COMPOSER_INDICES, Vocabulary
from classical_composer.representations import representation_of
from classical_composer.settings import PRESETS, Settings

FORMAT_NAME = "classical-composer bundle"
FORMAT_VERSION = 1
POINTER_FILE = "bundle.json"
RESUME_FILE = "resume.json"

# What each pointer file must hold; the keys ending in _file name files beside it.
REQUIRED_KEYS = {
    POINTER_FILE: ("settings", "vocabulary", "model_file", "training_tokens_file"),
    RESUME_FILE: ("model_file", "epochs_done", "best", "fingerprint", "history"),
}

# The names of the files this project writes into a bundle folder: save_model_file's and
# save_token_file's (12 hex digits each), the pointers, train.py's picture, and the
# temporary name atomic.replaced_atomically gives each while it is written. Only files
# so named are ever removed, so a user's own files beside a bundle are never touched.
MODEL_OR_TOKEN_FILE = r"(?:model|resume)-[0-9a-f]{12}\.keras|(?:training|validation)_tokens-[0-9a-f]{12}\.npz"
WRITTEN_HERE = re.compile(rf"{MODEL_OR_TOKEN_FILE}|bundle\.json|resume\.json|training\.png")
TEMPORARY = re.compile(rf"\.(?:{WRITTEN_HERE.pattern})\.tmp[0-9]+")
REMOVABLE = re.compile(rf"{MODEL_OR_TOKEN_FILE}|{TEMPORARY.pattern}")
CONTENT_HASH = re.compile(r"-([0-9a-f]{12})\.npz")  # in a token file's name: the start of its content's sha256

# What np.load and zipfile raise for a file that is not the archive it should be.
DAMAGED_ARCHIVE_ERRORS = (OSError, ValueError, KeyError, EOFError, NotImplementedError, zipfile.BadZipFile, zlib.error)


@dataclass
class Bundle:
    settings: Settings
    vocabulary: Vocabulary
    model: keras.Model
    training_pieces: list  # one int32 array of token indices per training piece
    validation_pieces: list | None  # the same for the held-out pieces; None in bundles older than it
    training: dict  # what training recorded: command, epochs, losses, held-out file names
    # The composers (subfolders of the MIDI folder, sorted; "" for the folder itself) and each piece's
    # number in that list, (pieces,) int32; None in bundles older than them.
    composers: list[str] | None = None
    training_composers: np.ndarray | None = None
    validation_composers: np.ndarray | None = None

    @cached_property
    def representation(self):
        """The representation object of the bundle's tokens (representations.py), made once."""
        return representation_of(self.settings)


# --- Writing -----------------------------------------------------------------


def write_json_atomically(path: Path, content: dict) -> None:
    """Replace a JSON file in one step: readers see the old file or the new one, never a mix."""
    with replaced_atomically(path) as temporary, open(temporary, "w") as handle:
        json.dump(content, handle, indent=1)
        handle.flush()
        os.fsync(handle.fileno())


def save_model_file(folder: Path, model: keras.Model, prefix: str = "model", with_optimizer: bool = True) -> str:
    """Save a model under a name no pointer uses yet; return that name.

    with_optimizer=False saves the network alone, built of stock Keras layers
    (keras.layers.LSTM for FastLSTM), so that it loads in any Keras without
    this project; predict never reads the optimizer's state, which for Adam
    is twice the size of the weights.
    """
    name = f"{prefix}-{uuid.uuid4().hex[:12]}.keras"
    if not with_optimizer:
        stock = with_stock_lstms(model)  # a copy with the same weights (compiled, as clones are)
        model = keras.Model(stock.input, stock.output, name=stock.name)  # its layers alone, not compiled
    model.save(folder / name)
    return name


def save_token_file(folder: Path, pieces: list, prefix: str, piece_composers: np.ndarray | None = None) -> str:
    """Save pieces of token indices (and each piece's composer number) once, named by their content; return the file name."""
    buffer = io.BytesIO()
    arrays = {"token_indices": np.concatenate(pieces).astype(np.int32) if pieces else np.zeros(0, np.int32),
              "piece_lengths": np.array([len(piece) for piece in pieces], dtype=np.int64)}
    if piece_composers is not None:
        arrays["piece_composers"] = np.asarray(piece_composers, dtype=np.int32)
    np.savez_compressed(buffer, **arrays)
    content = buffer.getvalue()
    name = f"{prefix}-{hashlib.sha256(content).hexdigest()[:12]}.npz"
    if not (folder / name).exists():
        with replaced_atomically(folder / name) as temporary:
            temporary.write_bytes(content)
    return name


def save_bundle(folder: Path, bundle: Bundle) -> None:
    """Write a complete new bundle into `folder`, then switch bundle.json to it (load_bundle reads it back)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    pointer = {
        "format": FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "settings": bundle.settings.as_dict(),
        "vocabulary": bundle.vocabulary.tokens,
        "model_file": save_model_file(folder, bundle.model, with_optimizer=False),
        "training_tokens_file": save_token_file(folder, bundle.training_pieces, "training_tokens",
                                                bundle.training_composers),
        "training": bundle.training,
    }
    if bundle.composers is not None:
        pointer["composers"] = list(bundle.composers)
    if bundle.validation_pieces is not None:
        pointer["validation_tokens_file"] = save_token_file(folder, bundle.validation_pieces, "validation_tokens",
                                                            bundle.validation_composers)
    write_json_atomically(folder / POINTER_FILE, pointer)
    remove_unreferenced_files(folder)


def remove_unreferenced_files(folder: Path) -> None:
    """Delete the model and token files that neither bundle.json nor resume.json points to any more.

    Only names this project writes count (see REMOVABLE): a user's keep.npz or
    my_model.keras beside the bundle stays, whatever its suffix.
    """
    referenced = set()
    for pointer_name in (POINTER_FILE, RESUME_FILE):
        try:
            pointer = json.loads((folder / pointer_name).read_text())
        except (OSError, ValueError):
            continue
        referenced.update(value for key, value in pointer.items() if key.endswith("_file"))
    for path in folder.iterdir():
        if REMOVABLE.fullmatch(path.name) and path.name not in referenced and path.is_file():
            path.unlink(missing_ok=True)


def files_not_written_here(folder: Path) -> list[str]:
    """The names in a folder that this project never writes, hidden ones (.DS_Store) aside; sorted."""
    return sorted(path.name for path in Path(folder).iterdir()
                  if not path.name.startswith(".") and not WRITTEN_HERE.fullmatch(path.name))


# --- Reading -------------------------------------------------------------------


def read_pointer(folder: Path, name: str = POINTER_FILE) -> dict:
    """Read and check bundle.json (or resume.json); every problem is one UserError sentence."""
    folder = Path(folder)
    check_bundle_folder(folder)
    path = folder / name
    if not path.is_file():
        raise UserError(f"{folder} has no {name}, so it is not a complete bundle; train one with: python train.py --out {folder}")
    try:
        pointer = json.loads(path.read_text())
    except (OSError, ValueError):
        raise UserError(f"{path} is not readable JSON; the bundle is damaged, so train it again") from None
    if not isinstance(pointer, dict) or pointer.get("format") != FORMAT_NAME:
        raise UserError(f"{path} is not a classical-composer bundle")
    version = pointer.get("format_version")
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise UserError(
            f"{folder} was written in bundle format {version}, but this version reads format {FORMAT_VERSION} "
            f"and older; update classical-composer or retrain"
        )
    for key in REQUIRED_KEYS[name]:
        if key not in pointer:
            raise UserError(f"{path} lacks '{key}', so the bundle is incomplete; train it again")
    for key, value in pointer.items():  # the required files, and the held-out tokens where named
        if key.endswith("_file") and not (folder / str(value)).is_file():
            raise UserError(f"{folder} is incomplete: {value} is missing; train it again")
    return pointer


def settings_of(pointer: dict, folder: Path) -> Settings:
    preset = pointer["settings"].get("preset") if isinstance(pointer["settings"], dict) else None
    if preset is not None and preset not in PRESETS:
        raise UserError(f"the bundle in {folder} uses preset '{preset}', which this version does not know")
    try:
        return Settings.from_dict(pointer["settings"])
    except (TypeError, ValueError) as error:
        raise UserError(f"the settings in {folder} are not ones this version knows ({error})") from None


def load_token_file(path: Path, vocabulary_size: int, what: str, composer_count: int | None = None) -> tuple:
    """Pieces of token indices saved by save_token_file, checked to fit the vocabulary and the composers.

    what: the pieces' name in messages, "training tokens" or "held-out tokens".
    Returns (pieces, each piece's composer number or None when the file has none).
    """
    folder = path.parent
    named_hash = CONTENT_HASH.search(path.name)
    try:
        content = path.read_bytes()
    except OSError as error:
        raise UserError(f"the {what} in {folder} cannot be read ({error.strerror or error}); "
                        f"train the bundle again") from None
    # save_token_file names the file by its content's hash: a file cut short or changed no longer matches it.
    if named_hash and hashlib.sha256(content).hexdigest()[:12] != named_hash.group(1):
        raise UserError(f"the {what} in {folder} are damaged ({path.name} was cut short or changed since it "
                        f"was saved); train the bundle again")
    try:
        with np.load(io.BytesIO(content)) as stored:  # an .npz archive gives an NpzFile, anything else fails here
            token_indices, piece_lengths = stored["token_indices"], stored["piece_lengths"]
            piece_composers = stored["piece_composers"] if "piece_composers" in stored.files else None
    except (*DAMAGED_ARCHIVE_ERRORS, AttributeError, TypeError):  # an .npy file has no `with` and no keys
        raise UserError(f"the {what} in {folder} cannot be read ({path.name} is not a token file); "
                        f"train the bundle again") from None
    if not all(array.ndim == 1 and array.dtype.kind in "iu" for array in (token_indices, piece_lengths)):
        raise UserError(f"the {what} in {folder} are not lists of whole numbers ({path.name}); train the bundle again")
    if piece_lengths.min(initial=0) < 0 or piece_lengths.sum() != len(token_indices):
        # np.split would cut them anyway, into pieces that were never there.
        raise UserError(f"the piece lengths in {path.name} do not add up to its {len(token_indices)} tokens, so the "
                        f"{what} in {folder} cannot be split into pieces; train the bundle again")
    pieces = np.split(token_indices, np.cumsum(piece_lengths)[:-1]) if len(piece_lengths) else []
    if any(piece.size and (piece.min() < 0 or piece.max() >= vocabulary_size) for piece in pieces):
        raise UserError(f"the {what} in {folder} do not fit its vocabulary; train the bundle again")
    if piece_composers is not None and not composers_fit(piece_composers, len(pieces), composer_count):
        raise UserError(f"the composers of the {what} in {folder} do not fit its list of composers; "
                        f"train the bundle again")
    return pieces, piece_composers


def composers_fit(piece_composers: np.ndarray, piece_count: int, composer_count: int | None) -> bool:
    """Whether a token file's composer numbers fit: one per piece, each a composer of the bundle's list."""
    if composer_count is None:  # the bundle lists no composers, so its pieces can have none
        return False
    if piece_composers.ndim != 1 or piece_composers.dtype.kind not in "iu":
        return False
    one_per_piece = len(piece_composers) == piece_count
    in_the_list = not piece_composers.size or (piece_composers.min() >= 0 and piece_composers.max() < composer_count)
    return one_per_piece and bool(in_the_list)


def check_archive_whole(path: Path) -> None:
    """Refuse a .keras file that is cut short or changed: zip keeps a checksum of every member, tested here."""
    try:
        with zipfile.ZipFile(path) as archive:
            damaged_member = archive.testzip()  # reads every member; the name of the first that fails its checksum
    except DAMAGED_ARCHIVE_ERRORS:
        damaged_member = "its table of contents"
    if damaged_member is not None:
        raise UserError(f"{path} is damaged (cut short or changed since it was saved), so it cannot be loaded "
                        f"as a Keras model; train the bundle again")


def saved_keras_version(path: Path) -> str:
    """The Keras version a whole .keras file was saved with, from its metadata.json; "an unknown Keras" without one."""
    try:
        with zipfile.ZipFile(path) as archive:
            return "Keras " + str(json.loads(archive.read("metadata.json"))["keras_version"])
    except (*DAMAGED_ARCHIVE_ERRORS, TypeError):
        return "an unknown Keras"


def what_the_network_reads(model: keras.Model) -> str:
    """What the model's token input takes at each step, in words, as NetworkInput.keras_inputs builds it."""
    token_inputs = [tensor for tensor in model.inputs if tensor.name != COMPOSER_INDICES]
    if len(token_inputs) == 1:
        shape, dtype = token_inputs[0].shape, str(token_inputs[0].dtype)
        if len(shape) == 2 and "int" in dtype:  # (batch, time)
            return "token indices"
        if len(shape) == 3 and shape[-1] == 1 and "float" in dtype:  # (batch, time, 1)
            return "one scaled number a step"
    return "neither token indices nor one scaled number a step"


def load_model_checked(path: Path, settings: Settings, vocabulary_size: int, compile: bool) -> keras.Model:
    """Load a model and check that its input and output fit the settings and vocabulary."""
    check_archive_whole(path)
    try:
        model = keras.models.load_model(path, compile=compile)
    except (TypeError, ValueError, KeyError) as error:
        # The file is whole (its checksums hold), so what this Keras cannot read was most likely
        # written by another version; any other error is a bug, and surfaces as one.
        raise UserError(f"{path} was saved by {saved_keras_version(path)}, which Keras {keras.__version__} cannot "
                        f"load ({type(error).__name__}); install the versions in requirements.txt, "
                        f"or train the bundle again") from None
    expected = "token indices" if settings.reads_token_indices else "one scaled number a step"
    if what_the_network_reads(model) != expected:
        raise UserError(f"the network in {path.parent} reads {what_the_network_reads(model)}, but its settings "
                        f"say {expected}; the bundle's files do not belong together, so train it again")
    output_classes = model.output_shape[-1]
    if output_classes != vocabulary_size:
        raise UserError(
            f"the vocabulary in {path.parent} has {vocabulary_size} tokens but its network predicts "
            f"{output_classes} classes; the bundle's files do not belong together, so train it again"
        )
    window_length = model.inputs[0].shape[1]  # the token input's, and the composer input's with --composers
    if window_length != settings.sequence_length:
        raise UserError(
            f"the network in {path.parent} reads windows of {window_length} tokens but its settings "
            f"say {settings.sequence_length}; train the bundle again"
        )
    return model


def load_bundle(folder: Path) -> Bundle:
    """Read a bundle folder into a Bundle, or raise one UserError sentence saying what is wrong."""
    folder = Path(folder)
    pointer = read_pointer(folder)
    settings = settings_of(pointer, folder)
    listed = pointer["vocabulary"]
    if not (isinstance(listed, list) and all(isinstance(token, str) for token in listed)) \
            or Vocabulary(listed).tokens != listed:
        raise UserError(f"the vocabulary in {folder / POINTER_FILE} is not a sorted list of distinct tokens")
    vocabulary = Vocabulary(listed)
    # Every token must be one the grammar can play back, or predict would fail only when it picks one.
    representation = representation_of(settings)
    for token in vocabulary.tokens:
        try:
            representation.check_token(token)
        except ValueError:
            raise UserError(f"the vocabulary in {folder / POINTER_FILE} holds '{token}', which is not a token of "
                            f"the {representation.name} representation; train the bundle again") from None
    composers = pointer.get("composers")
    if composers is not None and not (isinstance(composers, list) and all(isinstance(name, str) for name in composers)):
        raise UserError(f"the composers in {folder / POINTER_FILE} are not a list of names; train the bundle again")
    model = load_model_checked(folder / pointer["model_file"], settings, len(vocabulary), compile=False)
    composer_count = None if composers is None else len(composers)
    if settings.composers and composer_count != composer_embedding_rows(model):
        raise UserError(f"the network in {folder} reads {composer_embedding_rows(model) or 0} composers but its "
                        f"bundle lists {composer_count or 0}; the bundle's files do not belong together, "
                        f"so train it again")
    training_pieces, training_composers = load_token_file(
        folder / pointer["training_tokens_file"], len(vocabulary), "training tokens", composer_count)
    validation_pieces = validation_composers = None
    if "validation_tokens_file" in pointer:
        validation_pieces, validation_composers = load_token_file(
            folder / str(pointer["validation_tokens_file"]), len(vocabulary), "held-out tokens", composer_count)
    return Bundle(settings, vocabulary, model, training_pieces, validation_pieces, pointer.get("training", {}),
                  composers, training_composers, validation_composers)


def composer_embedding_rows(model: keras.Model) -> int | None:
    """How many composers the network can read (the rows of its composer embedding); None if it reads none."""
    layer = next((layer for layer in model.layers if layer.name == COMPOSER_EMBEDDING), None)
    return None if layer is None else layer.input_dim
