"""deploy/prometheus/: the scrape config and alert rules pass promtool, and the rules' unit tests hold.

promtool comes from Debian's prometheus package; `.ci/run` installs it, so under CI a missing promtool
is a failure, not a skip.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from testing.repo import PROJECT

DEPLOY = PROJECT / "deploy" / "prometheus"
README = PROJECT / "README.md"


@pytest.fixture(scope="module")
def promtool() -> str:
    found = shutil.which("promtool")
    if found is None:
        if os.environ.get("CI"):
            pytest.fail("promtool is missing under CI: .ci/run installs Debian's prometheus package")
        pytest.skip("promtool is not installed (apt-get install prometheus)")
    return found


@pytest.mark.parametrize(
    "args",
    [("check", "rules", "rules.yml"), ("check", "config", "prometheus.yml"), ("test", "rules", "tests.yml")],
    ids=lambda a: " ".join(a),
)
def test_promtool_accepts_the_deploy_files(promtool: str, args: tuple[str, ...]) -> None:
    done = subprocess.run([promtool, *args], cwd=DEPLOY, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr


def test_promtool_rejects_a_broken_rule(promtool: str, tmp_path: Path) -> None:
    """The check can fail: a rule with a PromQL syntax error is refused."""
    broken = tmp_path / "rules.yml"
    broken.write_text(
        "groups:\n  - name: x\n    rules:\n      - alert: Broken\n        expr: sum(rate(fiml_updates_total[5m])\n",
        encoding="utf-8",
    )
    done = subprocess.run(
        [promtool, "check", "rules", str(broken)], capture_output=True, text=True, timeout=120
    )
    assert done.returncode != 0


def test_rules_use_only_metrics_the_bot_exports() -> None:
    """Every fiml_* series an alert reads is one the README lists (the bot's metric names)."""
    listed = set(re.findall(r"`(fiml_[a-z_]+)", README.read_text(encoding="utf-8")))
    used = set(re.findall(r"\b(fiml_[a-z_]+)", (DEPLOY / "rules.yml").read_text(encoding="utf-8")))
    missing = {
        m
        for m in used
        if m not in listed and m.removesuffix("_total") not in {x.removesuffix("_total") for x in listed}
    }
    assert not missing, f"rules read metrics the README does not list: {sorted(missing)}"
