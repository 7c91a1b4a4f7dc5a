"""Files that appear complete or not at all.

In:  the path a file should end up at.
Out: a temporary path beside it to write to; when the writing finishes without
     an error, the temporary file takes the final name in one rename.

A reader (predict.py, a resumed run, a music player) therefore sees the old
file or the new one, never half of one, even after a crash or Ctrl-C.
"""

import contextlib
import os
from pathlib import Path


@contextlib.contextmanager
def replaced_atomically(path: Path):
    """Yield a temporary path beside `path`; rename it to `path` once the block succeeds."""
    path = Path(path)
    # A dot file in the same folder: the same file system, so the rename is atomic.
    temporary = path.with_name(f".{path.name}.tmp{os.getpid()}")
    try:
        yield temporary
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
