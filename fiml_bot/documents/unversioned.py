"""Documents without `schema_version`: read as 0.9 when they have 0.9's shape, refused with the reason otherwise.

The seed's migration manager and the origin project's data treat a missing `schema_version` as "0.9"
(`user_data.get("schema_version", "0.9")`): documents written before the field existed. Reading
every such document as 0.9 would let anything through, so one is accepted only when it *is* a valid
0.9 document once the field is added. A document of 1.0's shape never omits the field (this
project always wrote it), so one that does is refused rather than guessed at.
"""

from __future__ import annotations

from typing import Any

from .schema import Problem, schema_problems

OLDEST_VERSION = "0.9"
READ_AS_OLDEST = f"no schema_version: read as {OLDEST_VERSION} (it has {OLDEST_VERSION}'s shape)"


def missing_version(item: Any) -> bool:
    return isinstance(item, dict) and "schema_version" not in item


def read_unversioned(
    item: dict[str, Any], prefix: tuple[str | int, ...]
) -> tuple[dict[str, Any], list[Problem]]:
    """`item` with `schema_version` "0.9" when it has 0.9's shape; otherwise the problems saying why not."""
    as_oldest = {**item, "schema_version": OLDEST_VERSION}
    problems = schema_problems(as_oldest)
    if not problems:
        return as_oldest, []
    where = (*prefix, "schema_version")
    if not schema_problems({**item, "schema_version": "1.0"}):
        return item, [
            Problem(
                where,
                "the required field `schema_version` is missing: the document has 1.0's shape, and only "
                '0.9 documents (written before the field existed) may omit it; add "schema_version": "1.0"',
            )
        ]
    reason = Problem(
        where,
        f"the required field `schema_version` is missing, and the document is not a {OLDEST_VERSION} "
        "document (the only version written without it):",
    )
    return item, [reason, *(p.under(prefix) for p in problems if p.path != ("schema_version",))]
