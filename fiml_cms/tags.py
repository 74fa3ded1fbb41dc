"""Tag names of published versions (`lesson/<id>/v<version>` by default, configurable).

Matching is exact on the id: `intro` never matches `intro_advanced`'s tags.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from . import versions

_ID = r"(?P<id>[a-z][a-z0-9_]{2,63})"
_VERSION = r"(?P<version>[^/\s]+)"


@dataclass(frozen=True)
class TagName:
    lesson_id: str
    version: str


@dataclass(frozen=True)
class TagFormat:
    template: str

    @property
    def prefix(self) -> str:
        """The fixed text before the first placeholder: what `for-each-ref` can filter on."""
        return self.template.split("{", 1)[0]

    def name(self, lesson_id: str, version: str) -> str:
        return self.template.format(id=lesson_id, version=version)

    def parse(self, name: str) -> TagName | None:
        """The lesson id and version a tag name stands for; None if it is not of this format."""
        match = _pattern(self.template).match(name)
        if not match:
            return None
        return TagName(match["id"], match["version"])

    def is_malformed(self, name: str) -> str | None:
        """Why a tag under our prefix cannot be used, or None when it is fine."""
        parsed = self.parse(name)
        if parsed is None:
            return f"does not match the tag format {self.template!r}"
        if not versions.is_valid(parsed.version):
            return f"{parsed.version!r} is not a semantic version"
        return None


@lru_cache(maxsize=8)
def _pattern(template: str) -> re.Pattern[str]:
    escaped = re.escape(template).replace(r"\{id\}", _ID).replace(r"\{version\}", _VERSION)
    return re.compile(f"^{escaped}$")
