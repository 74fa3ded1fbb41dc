"""`fiml-bot release init`: the deployment templates (rollout file, HAProxy configuration, Prometheus
rules and scrape configuration) written from the installed package, so an operator who installed the
wheel (not a clone) can start the release walkthrough.

The package carries the project's own `deploy/` folder (`fiml_bot/release/deploy_templates` is a link to
it, as `fiml_cms/schemas` is to `schemas/`), so the templates are the files the test suite checks.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from fiml_cms.errors import FimlError

#: What `release init` writes, relative to its folder (the flag file is content, not deployment).
TEMPLATES = (
    "rollout.yaml",
    "haproxy.cfg",
    "prometheus/rules.yml",
    "prometheus/prometheus.yml",
)


class WouldOverwrite(FimlError):
    """Files already there: `release init` writes nothing unless `--force`."""

    exit_code = 1


@dataclass(frozen=True)
class Written:
    path: Path
    replaced: bool


def write_templates(folder: Path, force: bool = False) -> list[Written]:
    """Write every template into `folder` (atomically, each file); refuse to replace one unless `force`."""
    from fiml_cms.atomic import write_bytes

    targets = [folder / name for name in TEMPLATES]
    present = [t for t in targets if t.exists()]
    if present and not force:
        names = ", ".join(str(p) for p in present)
        raise WouldOverwrite(
            f"{names} already exist(s); nothing was written. Run `fiml-bot release init {folder} --force` to "
            "replace them with the templates"
        )
    written = []
    source = resources.files("fiml_bot.release").joinpath("deploy_templates")
    for name, target in zip(TEMPLATES, targets, strict=True):
        data = source.joinpath(name).read_bytes()
        target.parent.mkdir(parents=True, exist_ok=True)
        replaced = target.exists()
        write_bytes(target, data)
        written.append(Written(target, replaced))
    return written
