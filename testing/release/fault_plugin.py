"""A test-only fault for the release drill (FIML_PLUGINS=testing.release.fault_plugin): the tutor fails
FIML_FAULT_PERCENT% of updates, chosen by a hash of the update, before anything is applied.

The same update fails every time it reaches this color, as a real bug in the new code would; only
a rollback (the learner served by the stable color again) lets it through.
"""

from __future__ import annotations

import os
import zlib
from typing import Any


class InjectedFault(RuntimeError):
    pass


def install(tutor: Any) -> None:
    percent = int(os.environ.get("FIML_FAULT_PERCENT", "0"))
    original = tutor.handle_reporting

    def faulty(*args: Any, **kwargs: Any) -> Any:
        key = kwargs.get("event_key") or ""
        if key and zlib.crc32(key.encode()) % 100 < percent:
            raise InjectedFault(f"injected fault on {key}")
        return original(*args, **kwargs)

    tutor.handle_reporting = faulty
