"""`fiml-cms reports LESSON`: what learners reported about a lesson, per version (newest first)."""

from __future__ import annotations

import json
from collections import defaultdict

from .. import versions
from ..learner_reports import Report


def by_version(reports: list[Report]) -> list[tuple[str, list[Report]]]:
    """The reports grouped by version, newest version first (unparsable versions last)."""
    groups: dict[str, list[Report]] = defaultdict(list)
    for report in reports:
        groups[report.version].append(report)

    def order(version: str) -> tuple[int, object]:
        try:
            return (0, versions.parse(version))
        except ValueError:
            return (-1, version)

    return sorted(groups.items(), key=lambda item: order(item[0]), reverse=True)


def where(report: Report) -> str:
    if report.question_id is not None:
        return f"question {report.question_id}"
    if report.section_id is not None:
        return f"section {report.section_id}"
    return "the lesson"


def render(lesson_id: str, reports: list[Report], fmt: str) -> str:
    grouped = by_version(reports)
    if fmt == "json":
        return json.dumps(
            {
                "lesson": lesson_id,
                "total": len(reports),
                "versions": [
                    {
                        "version": version,
                        "count": len(items),
                        "reports": [
                            {
                                "section": r.section_id,
                                "question": r.question_id,
                                "words": r.words,
                                "at": r.created_at.isoformat(),
                            }
                            for r in items
                        ],
                    }
                    for version, items in grouped
                ],
            },
            indent=2,
            ensure_ascii=False,
        )
    if not reports:
        return f"{lesson_id}: no reports from learners"
    lines = [f"{lesson_id}: {len(reports)} report{'s' if len(reports) != 1 else ''} from learners"]
    for version, items in grouped:
        lines.append(f"\n{version}: {len(items)} report{'s' if len(items) != 1 else ''}")
        for r in items:
            lines.append(f"  {r.created_at:%Y-%m-%d %H:%M}  {where(r)}: {r.words}")
    return "\n".join(lines)
