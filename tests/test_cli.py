"""cli.run, which every script's command line ends in: Ctrl-C and a reader who stops reading, in real processes.

A real signal and a real pipe need a process of their own; these run a small
main() through cli.run without loading TensorFlow, so each takes a fraction of
a second. (One sentence and status 2 for a user's mistake: test_user_mistakes.py.)
"""

import signal
import subprocess
import sys
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
TIMEOUT_SECONDS = 60

# Python turns Ctrl-C into KeyboardInterrupt unless whoever started it ignores the signal,
# as a test runner's worker may; a terminal never does, so the script says so itself.
WAITS_FOR_CTRL_C = """
import signal, time
from classical_composer.cli import run
signal.signal(signal.SIGINT, signal.default_int_handler)

def main():
    print("working", flush=True)
    time.sleep(60)

run(main)
"""

PRINTS_MANY_LINES = """
from classical_composer.cli import run

def main():
    for number in range(1_000_000):
        print(f"line {number}")

run(main)
"""


def start(script: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", script], cwd=PROJECT_ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def test_ctrl_c_ends_the_run_with_status_130_and_one_word():
    process = start(WAITS_FOR_CTRL_C)
    assert process.stdout.readline() == "working\n"  # main() is running
    process.send_signal(signal.SIGINT)
    printed, errors = process.communicate(timeout=TIMEOUT_SECONDS)
    assert (process.returncode, printed, errors) == (130, "", "interrupted\n")


def test_a_reader_who_stops_reading_ends_the_run_with_status_1_and_no_traceback():
    """As `python predict.py | head -1` does: the first line is read, then the pipe is closed."""
    process = start(PRINTS_MANY_LINES)
    assert process.stdout.readline() == "line 0\n"
    process.stdout.close()
    errors = process.stderr.read()
    assert (process.wait(timeout=TIMEOUT_SECONDS), errors) == (1, "")
