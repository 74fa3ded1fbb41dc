"""The continuity simulation: N learners across a release train on a real content repository.

Shared by `tests/e2e/bot/test_continuity.py` (N=100) and `bench/continuity.py` (N=1,000). Three parts:

- `release_train`: the content repository, changed only by commits and `fiml-cms` (bump, tag), and the
  releases published to it (patch, minor, major, yanked, renamed, raised reward);
- `driver`: the learners, acting only through `Tutor.handle` between releases;
- `oracle`: what every action must do and the invariants across releases (`report` holds the findings).

`run_simulation(Config(...), workdir)` returns a `Report`; `report.violations` is empty when every
invariant held. Nothing here edits the bot: a failure is a finding about the bot.
"""

from .driver import Simulation, run_simulation
from .release_train import RELEASE_TRAIN, ContentRepo, ReleaseError, git_identity
from .report import CATEGORIES, Config, Report, Violation, category

__all__ = [
    "CATEGORIES",
    "RELEASE_TRAIN",
    "Config",
    "ContentRepo",
    "ReleaseError",
    "Report",
    "Simulation",
    "Violation",
    "category",
    "git_identity",
    "run_simulation",
]
