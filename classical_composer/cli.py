"""What both command-line scripts share: quiet start-up and one-sentence errors.

In:  a `main()` function that may raise `UserError`.
Out: its exit status: 0 on success, 2 with one sentence on standard error for
     a user's mistake (the same status argparse uses for a bad flag), 130 on Ctrl-C,
     1 without a traceback when the reader of its output stops reading (`| head`).
"""

import argparse
import os
import sys


class HelpWithDefaults(argparse.HelpFormatter):
    """Ends each flag's help with its default, except for switches and flags with no default."""

    def _get_help_string(self, action):
        # `is`, not `in`: a default of 0 equals False, yet is worth printing.
        if action.default is None or action.default is False or action.default == argparse.SUPPRESS \
                or not action.option_strings:
            return action.help
        return f"{action.help} (default: %(default)s)"


class UserError(Exception):
    """A mistake the user can fix; the message is one sentence that says how."""


def check_bundle_folder(folder) -> None:
    """Refuse a --weights that is no folder at all, in one sentence; here, so that it costs no TensorFlow start."""
    if not os.path.isdir(folder):
        raise UserError(f"there is no bundle folder {folder}; train one with: python train.py --out {folder}")


def quiet_tensorflow() -> None:
    """Load TensorFlow without its start-up notes; call before keras is first imported.

    TensorFlow's C++ core prints its notes (oneDNN, "no CUDA driver") before
    its log level can be read, so standard error is closed while it loads and
    looks for devices. Python exceptions still propagate as usual.
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    saved_stderr, devnull = os.dup(2), os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    try:
        import tensorflow

        tensorflow.config.list_physical_devices()
    finally:
        os.dup2(saved_stderr, 2)
        os.close(saved_stderr)
        os.close(devnull)


def run(main) -> None:
    """Call main() and turn a UserError into one line and exit status 2."""
    try:
        main()
    except UserError as error:
        print(f"error: {error}", file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        sys.exit(130)
    except BrokenPipeError:
        # Whoever read our output (`| head`, say) has stopped reading; the work
        # itself is done, so leave without a traceback. Python's own advice:
        # point stdout at /dev/null so that its final flush cannot fail again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(1)
