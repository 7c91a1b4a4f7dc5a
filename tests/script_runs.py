"""The command-line scripts run inside the test process, as their command lines run them.

In:  a script module (train, predict, classical_composer.evaluate) and its arguments.
Out: its exit status and what it printed.

Each fresh Python process spends seconds loading TensorFlow, so the tests run
most script calls here instead; a handful still start a real process, to
prove the command lines themselves (see test_end_to_end.py and test_robustness.py).
"""

import contextlib
import io
import sys
from pathlib import Path

from classical_composer import cli


def run_main(script_module, *arguments) -> tuple[int, str, str]:
    """Call the script's main() through cli.run with `arguments` as its command line: (status, stdout, stderr)."""
    stdout, stderr = io.StringIO(), io.StringIO()
    saved_argv = sys.argv
    sys.argv = [Path(script_module.__file__).name, *map(str, arguments)]
    try:
        with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
            try:
                cli.run(script_module.main)
                status = 0
            except SystemExit as exit_request:
                status = exit_request.code
    finally:
        sys.argv = saved_argv
    return status, stdout.getvalue(), stderr.getvalue()


def succeeds(script_module, *arguments) -> str:
    """run_main, failing the test with the script's output unless it exits 0; returns its standard output."""
    status, printed, errors = run_main(script_module, *arguments)
    assert status == 0, f"{Path(script_module.__file__).name} {arguments} exited {status}:\n{printed}\n{errors}"
    return printed
