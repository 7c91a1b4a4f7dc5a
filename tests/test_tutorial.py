"""docs/tutorial.md: every ```python block runs, in order, in one namespace, and calls every stage.

The blocks assert the exact tokens and shapes they show, so a change to the
stages that the tutorial no longer describes fails here. They write their
files into the current folder, which is a temporary one.
"""

import functools
import importlib
import inspect
import re
import sys
from pathlib import Path

TUTORIAL = Path(__file__).resolve().parent.parent / "docs" / "tutorial.md"
PYTHON_BLOCK = re.compile(r"^```python\n(.*?)^```$", re.MULTILINE | re.DOTALL)
BLOCK_FILE_NAME = "docs/tutorial.md, python block {number}"  # the file name each block's code is compiled under
STAGES = ("parse", "prepare_sequences", "network", "predict")  # the four modules a student reads in order


def python_blocks(markdown: str) -> list[str]:
    return PYTHON_BLOCK.findall(markdown)


def test_the_shipped_tutorial_has_code_for_every_stage():
    """A check of the file as shipped: enough blocks, and an import from each stage for the student to read."""
    text = TUTORIAL.read_text()
    assert len(python_blocks(text)) >= 10
    for stage in STAGES:
        assert f"classical_composer.{stage} import" in text, f"the tutorial never imports {stage}"


def note_calls_from_the_tutorial(monkeypatch) -> set[str]:
    """Wrap every function of the four stages; the set returned fills with the stages the tutorial's lines call."""
    called = set()

    def noting(stage: str, function):
        @functools.wraps(function)
        def wrapper(*arguments, **keywords):
            if sys._getframe(1).f_code.co_filename.startswith("docs/tutorial.md"):  # a call from a block itself
                called.add(stage)
            return function(*arguments, **keywords)

        return wrapper

    for stage in STAGES:
        module = importlib.import_module(f"classical_composer.{stage}")
        for name, value in vars(module).items():
            if inspect.isfunction(value) and value.__module__ == module.__name__:
                monkeypatch.setattr(module, name, noting(stage, value))
    return called


def test_every_block_of_the_tutorial_runs_in_order_and_calls_every_stage(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    called = note_calls_from_the_tutorial(monkeypatch)
    namespace = {"__name__": "tutorial"}
    for number, block in enumerate(python_blocks(TUTORIAL.read_text()), start=1):
        # The block's number in the file name, so that a failure points at the block.
        exec(compile(block, BLOCK_FILE_NAME.format(number=number), "exec"), namespace)
    # The three files the tutorial says it writes, and nothing else.
    assert sorted(path.name for path in tmp_path.iterdir()) == ["composed.mid", "five_notes.mid", "tune_again.mid"]
    assert called == set(STAGES), f"the tutorial's code never calls {sorted(set(STAGES) - called)}"
