"""The error a user can fix: bad input, a bad flag, a damaged or mismatched file.

Binaries print a `UserError` as one `error: ...` line (exit status 2, see `cli.run_main`); any
other exception is a bug and keeps its traceback. The message names the file (and line) and says
what to do.
"""


class UserError(ValueError):
    """Something the user can fix; the message says what and where."""
