"""The errors tinct reports to a person in one line, without a traceback.

Everything a user can get wrong (a missing model, an unreadable photo, a bad option value, a
damaged run folder) raises a :class:`TinctError`; the command line prints its message as
``tinct VERB: error: MESSAGE`` and exits with status 2. Anything else is a bug in tinct and
keeps its traceback. The subclasses also derive from the built-in type their callers have
always caught (``ValueError``, ``KeyError``, ``OSError``), so library code written against
those keeps working.
"""

from __future__ import annotations


class TinctError(Exception):
    """Base class: an error whose message is complete in one line (names the file and the
    problem)."""


class InputError(TinctError, ValueError):
    """A value a user gave (an option, a file, a folder, a setting) that tinct cannot use."""
