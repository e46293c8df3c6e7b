"""Entry-point helper for the absl binaries."""
import sys

from absl import app, logging

from tagger.errors import UserError


def run_main(main):
    """absl.app.run, turning a `UserError` into a one-line message and exit status 2; anything
    else is a bug and keeps its traceback."""

    def guarded(argv):
        logging.set_verbosity(logging.WARNING)
        try:
            return main(argv)
        except UserError as e:
            print(f"error: {e}", file=sys.stderr)
            sys.exit(2)

    app.run(guarded)
