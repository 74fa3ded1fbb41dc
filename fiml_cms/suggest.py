""" "Did you mean ...?": the closest known name to a misspelt one, for error messages."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


def closest(word: str, known: Iterable[str]) -> str | None:
    """The known name most like `word`, if any is close enough to be a likely typo."""
    matches = difflib.get_close_matches(word, sorted(set(known)), n=1, cutoff=0.6)
    return matches[0] if matches else None


def suggest(word: str, known: Iterable[str]) -> str:
    """`; did you mean `x`?` or nothing: appended to a message about an unknown name."""
    match = closest(word, known)
    return f"; did you mean `{match}`?" if match else ""
