"""How many generated lesson inputs the fuzz tests checked in this process (the CI profile must reach
10,000): kept here, not in the test module, so the suite's conftest can report it, xdist workers included."""

from __future__ import annotations

COUNTS = {"in memory": 0, "through files": 0}
