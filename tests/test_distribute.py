"""train.py --distribute: data-parallel training with tf.distribute.MirroredStrategy.

A machine without two GPUs can still prove the path: TensorFlow can split
one CPU into two logical devices, and a MirroredStrategy over them trains as
it would over two GPUs. Logical devices must be set before TensorFlow starts,
so that run is its own process; the bundle it writes is then read and played
here like any other, and must sound here as it did there: the same seed
composes the same bytes in another process.
"""

import re
import subprocess
import sys
from pathlib import Path

import pytest
import tensorflow as tf

import predict as predict_script
from classical_composer.bundle import load_bundle
from classical_composer.corpus import parse_folder
from classical_composer.settings import Settings
from classical_composer.training import distribution_strategy
from script_runs import succeeds

PROJECT_ROOT = Path(__file__).resolve().parent.parent
# Windows of 4 and one batch an epoch: the training traces once, and sooner than for longer windows.
TINY_SETTINGS = Settings(preset="tiny", epochs=1, sequence_length=4, batch_size=64)

# Two logical CPUs, a MirroredStrategy over them, and one epoch through the project's own train();
# then predict.py's main() composes from the bundle, as a user's own process would.
TWO_DEVICE_TRAINING = """
import sys
import tensorflow as tf

cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)

from classical_composer import training
from classical_composer.settings import Settings

# Keep the network train() builds, to see where its variables live once it has trained.
built = []
network_to_train = training.network_to_train


def network_to_train_kept(*arguments, **keywords):
    built.append(network_to_train(*arguments, **keywords))  # (model, history, best, first epoch)
    return built[-1]


training.network_to_train = network_to_train_kept

strategy = training.distribution_strategy(["/cpu:0", "/cpu:1"])
assert strategy.num_replicas_in_sync == 2, strategy.num_replicas_in_sync
training.train(Settings(preset="tiny", epochs=1, sequence_length=4, batch_size=64), sys.argv[1], sys.argv[2],
               strategy=strategy)
model = built[0][0]
variables = [*model.weights, *model.optimizer.variables]
mirrored = sum(isinstance(variable.value, tf.distribute.DistributedValues) for variable in variables)
devices = model.distribute_strategy.num_replicas_in_sync
print(f"{mirrored} of {len(variables)} variables mirrored over {devices} devices")

import predict

sys.argv = ["predict.py", "--weights", sys.argv[2], *COMPOSING.split(), "--output", sys.argv[3]]
predict.main()
"""
COMPOSING = "--top-k 7 --seed 1 --num-notes 20"
MIRRORED_LINE = re.compile(r"^(\d+) of (\d+) variables mirrored over (\d+) devices$", re.MULTILINE)


@pytest.fixture(scope="module")
def two_device_bundle(training_folder, tmp_path_factory) -> tuple:
    parse_folder(training_folder, TINY_SETTINGS.encoding(), workers=1)  # into the private cache: no pool
    out = tmp_path_factory.mktemp("two_device_bundle")
    song = tmp_path_factory.mktemp("composed_there") / "song.mid"
    script = f"COMPOSING = {COMPOSING!r}\n{TWO_DEVICE_TRAINING}"
    finished = subprocess.run([sys.executable, "-c", script, str(training_folder), str(out), str(song)],
                              cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=300)
    assert finished.returncode == 0, f"two-device training failed:\n{finished.stdout}\n{finished.stderr}"
    return out, finished.stdout, song


def test_two_logical_devices_train_a_bundle_that_composes(two_device_bundle, tmp_path):
    out, printed, composed_there = two_device_bundle
    assert "on 2 devices" in printed
    # Built and trained under the strategy: every weight and every optimizer variable has a copy on each
    # device. A network built outside strategy.scope() would train on one device, its variables plain ones.
    counted = MIRRORED_LINE.search(printed)
    assert counted, printed
    mirrored, variables, devices = map(int, counted.groups())
    assert mirrored == variables > 0 and devices == 2
    bundle = load_bundle(out)
    assert bundle.settings == TINY_SETTINGS  # --distribute leaves no trace in the bundle
    assert bundle.training["best_epoch"] == 1

    # The same seed composes the same bytes here as in the process that trained it.
    composed_here = tmp_path / "two_devices.mid"
    succeeds(predict_script, "--weights", out, *COMPOSING.split(), "--output", composed_here)
    assert composed_here.stat().st_size > 0
    assert composed_here.read_bytes() == composed_there.read_bytes()


@pytest.mark.skipif(bool(tf.config.list_physical_devices("GPU")), reason="this machine has a GPU")
def test_without_a_gpu_there_is_no_strategy_and_one_line_says_so(capsys):
    assert distribution_strategy() is None
    assert capsys.readouterr().out == "--distribute: no GPU found, training on one device (CPU)\n"
