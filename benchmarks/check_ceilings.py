"""A quick check that ceilings.py measures end to end and that its figures fit together.

    python benchmarks/check_ceilings.py       # about half a minute on 2 cores

In:  nothing: the tiny preset, windows of 8 tokens, batches of 16.
Out: "ceilings: ok" and exit status 0, or the first figure that does not fit.

The figures are timings, so this is no test of the suite (tests/ never
asserts on time): it checks only that every measurement ran and gave a
positive time, and that each ratio is the one its figures make.
"""

import math
import sys
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_ROOT))  # run as a script from anywhere: find classical_composer and benchmarks

from classical_composer.cli import UserError, quiet_tensorflow, run  # noqa: E402  (needs the path above)

VOCABULARY_SIZE = 11
SONGS = 2
RELATIVE_TOLERANCE = 1e-9  # the ratios are arithmetic on the figures, so only rounding may differ


def check(holds: bool, what: str) -> None:
    if not holds:
        raise UserError(f"ceilings.py gave figures that do not fit: {what}")


def close(first: float, second: float) -> bool:
    return math.isclose(first, second, rel_tol=RELATIVE_TOLERANCE)


def main() -> None:
    quiet_tensorflow()
    from benchmarks.ceilings import batch_floor, mixed_precision_ceiling
    from classical_composer.settings import Settings

    settings = Settings(preset="tiny", sequence_length=8, batch_size=16)
    batch = batch_floor(settings, songs=SONGS, vocabulary_size=VOCABULARY_SIZE)
    mixed = mixed_precision_ceiling(settings)

    check(batch["songs"] == SONGS, f"batch songs {batch['songs']}, not {SONGS}")
    for name in ("batch_products_s", "one_song_step_s"):
        check(batch[name] > 0, f"batch {name} is {batch[name]}")
    check(close(batch["floor_ratio"], batch["batch_products_s"] / batch["one_song_step_s"]), "batch floor_ratio")
    for precision in ("float32", "bfloat16"):
        for part in ("step", "products"):
            name = f"{precision}_{part}_s"
            check(mixed[name] > 0, f"mixed precision {name} is {mixed[name]}")
        check(close(mixed[f"{precision}_rest_s"], mixed[f"{precision}_step_s"] - mixed[f"{precision}_products_s"]),
              f"mixed precision {precision}_rest_s")
    check(mixed["conversions_s"] > 0, f"mixed precision conversions_s is {mixed['conversions_s']}")
    check(close(mixed["measured_ratio"], mixed["float32_step_s"] / mixed["bfloat16_step_s"]), "measured_ratio")
    check(close(mixed["products_ratio"], mixed["float32_products_s"] / mixed["bfloat16_products_s"]), "products_ratio")
    check(close(mixed["ceiling_ratio"],
                mixed["float32_step_s"] / (mixed["float32_rest_s"] + mixed["bfloat16_products_s"])), "ceiling_ratio")
    check(close(mixed["ceiling_with_conversions_ratio"],
                mixed["float32_step_s"] / (mixed["float32_rest_s"] + mixed["bfloat16_products_s"]
                                           + mixed["conversions_s"])), "ceiling_with_conversions_ratio")
    print("ceilings: ok")


if __name__ == "__main__":
    run(main)
