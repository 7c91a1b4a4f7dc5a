"""docs/tutorial.md: every ```python block runs, in order, in one namespace.

The blocks assert the exact tokens and shapes they show, so a change to the
stages that the tutorial no longer describes fails here. They write their
files into the current folder, which is a temporary one.
"""

import re
from pathlib import Path

TUTORIAL = Path(__file__).resolve().parent.parent / "docs" / "tutorial.md"
PYTHON_BLOCK = re.compile(r"^```python\n(.*?)^```$", re.MULTILINE | re.DOTALL)


def python_blocks(markdown: str) -> list[str]:
    return PYTHON_BLOCK.findall(markdown)


def test_the_tutorial_has_code_for_every_stage():
    text = TUTORIAL.read_text()
    blocks = python_blocks(text)
    assert len(blocks) >= 10
    for stage in ("parse", "prepare_sequences", "network", "predict"):
        assert f"classical_composer.{stage} import" in text, f"the tutorial never imports {stage}"


def test_every_block_of_the_tutorial_runs_in_order(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    namespace = {"__name__": "tutorial"}
    for number, block in enumerate(python_blocks(TUTORIAL.read_text()), start=1):
        # The block's number in the file name, so that a failure points at the block.
        exec(compile(block, f"docs/tutorial.md, python block {number}", "exec"), namespace)
    # The three files the tutorial says it writes, and nothing else.
    assert sorted(path.name for path in tmp_path.iterdir()) == ["composed.mid", "five_notes.mid", "tune_again.mid"]
