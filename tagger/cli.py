"""Entry-point helper for the absl binaries."""
import sys

from absl import app, logging


def run_main(main):
    """absl.app.run, turning data/config errors into a one-line message and exit status 2."""
    from tagger.data.corpus import DataError
    from tagger.models.encoders import InitError

    def guarded(argv):
        logging.set_verbosity(logging.WARNING)
        try:
            return main(argv)
        except (DataError, InitError, ValueError) as e:
            print(f"error: {e}", file=sys.stderr)
            sys.exit(2)

    app.run(guarded)
