"""Errors a user can fix.

The CLI prints a `SunshineError` as one clear line and exits non-zero; anything else is a bug and
keeps its traceback, so the two are never confused.
"""


class SunshineError(Exception):
    """A problem the user can fix (bad config, unreachable service, damaged archive)."""


class ConfigError(SunshineError):
    """A config problem; the message names the file, the key and what is expected."""


class IntegrityError(SunshineError):
    """Stored bytes do not match the hash we hold for them."""


class StoreUnavailableError(SunshineError):
    """The object store could not be reached or answered with a server error; trying later may work."""
