"""Entry-point helper for the absl binaries."""
import json
import os
import sys

import tensorflow as tf
from absl import app, logging

from tagger.errors import UserError

LOST_WORKER = ("a worker of this multi_worker_mirrored job is gone ({detail}). MWMS cannot take a worker "
               "back into a running job: stop every worker, then start them all again with the same command; "
               "each resumes from the chief's last checkpoint (README, 'Multi-worker training').")


def run_main(main):
    """absl.app.run, turning a `UserError` into a one-line message and exit status 2, and a lost
    peer of a multi-worker job into the instruction to restart the job (exit status 3); anything
    else is a bug and keeps its traceback."""

    def guarded(argv):
        logging.set_verbosity(logging.WARNING)
        try:
            return main(argv)
        except UserError as e:
            print(f"error: {e}", file=sys.stderr)
            sys.exit(2)
        except (tf.errors.UnavailableError, tf.errors.CancelledError) as e:
            if "worker" not in json.loads(os.environ.get("TF_CONFIG") or "{}").get("cluster", {}):
                raise
            lines = [line.strip() for line in str(e).splitlines()]
            detail = next((line for line in lines if "abort" in line.lower() or "peer" in line.lower()),
                          type(e).__name__)
            print("error: " + LOST_WORKER.format(detail=detail[:200]), file=sys.stderr)
            sys.exit(3)

    app.run(guarded)
