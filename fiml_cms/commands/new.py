"""`fiml-cms new`: a valid lesson skeleton for an author to fill in."""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path

from .. import atomic
from ..config import Settings
from ..document import LESSON_ID
from ..errors import UsageError
from ..suggest import suggest

DIFFICULTIES = ("beginner", "intermediate", "advanced")
CATEGORY = re.compile(r"^[a-z][a-z0-9_-]{0,39}$")

SKELETON = """\
# New lesson: fill in the sections and the quiz, then run `fiml-cms validate`.
id: {id}
version: "1.0.0"
format: 1
title: {title}
category: {category}
difficulty: {difficulty}
duration_minutes: 5
xp_reward: 50
prerequisites: []
replaces: []
retired: false
tags: []
learning_objectives:
  - Describe what the learner will be able to do.
changelog:
  - version: "1.0.0"
    date: {date}
    changes: [Initial release]
sections:
  - id: introduction
    type: text
    title: Introduction
    body: |
      Write the first short paragraph here.

      Keep paragraphs to two or three sentences: they are read in a chat.
  - id: key_points
    type: key_points
    title: Key points
    points:
      - The first thing to remember.
quiz:
  pass_ratio: 0.6
  questions:
    - id: q1
      type: true_false
      prompt: Replace this statement with one about the lesson.
      answer: true
      explanation: Say why the statement is true or false.
      xp: 10
"""


def new_lesson(
    lesson_id: str,
    title: str,
    settings: Settings,
    category: str = "general",
    difficulty: str = "beginner",
    date: dt.date | None = None,
) -> Path:
    """Write `<lessons>/<id>.yaml` and return its path; refuse bad or taken ids."""
    if not LESSON_ID.match(lesson_id):
        raise UsageError(
            f"invalid lesson id {lesson_id!r}: use 3 to 64 lowercase letters, digits and underscores, starting with a letter"
        )
    if not title.strip():
        raise UsageError("the title must not be empty")
    if difficulty not in DIFFICULTIES:
        raise UsageError(
            f"invalid difficulty {difficulty!r}: use one of {', '.join(DIFFICULTIES)}{suggest(difficulty.lower(), DIFFICULTIES)}"
        )
    if not CATEGORY.match(category):
        raise UsageError(_category_refusal(category, settings))
    target = settings.lessons / f"{lesson_id}.yaml"
    if target.exists() or (settings.lessons / f"{lesson_id}.yml").exists():
        raise UsageError(f"{target}: a lesson with id {lesson_id!r} already exists")
    claimed_by = _claims(settings).get(lesson_id)
    if claimed_by:
        raise UsageError(
            f"the id {lesson_id!r} is already claimed by {claimed_by} (as its id or in `replaces`)"
        )
    settings.lessons.mkdir(parents=True, exist_ok=True)
    text = SKELETON.format(
        id=lesson_id,
        title=json.dumps(title.strip(), ensure_ascii=False),
        category=category,
        difficulty=difficulty,
        date=(date or dt.date.today()).isoformat(),
    )
    try:
        atomic.create_bytes(target, text.encode("utf-8"))
    except FileExistsError:
        raise UsageError(f"{target}: a lesson with id {lesson_id!r} already exists") from None
    return target


def _category_refusal(category: str, settings: Settings) -> str:
    """Say what a category may be, the slug this one would be, and the categories in use."""
    slug = re.sub(r"[^a-z0-9]+", "_", category.strip().lower()).strip("_")
    hint = f" such as `--category {slug}`" if CATEGORY.match(slug) else ""
    used = sorted({c for c in _categories(settings) if CATEGORY.match(c)})
    in_use = f"; categories in use: {', '.join(used)}" if used else ""
    return f"invalid category {category!r}: a category is a keyword of 1 to 40 lowercase letters, digits, '_' or '-', starting with a letter{hint}{in_use}"


def _categories(settings: Settings) -> list[str]:
    from ..document import LESSON, check_file

    found = []
    for path in sorted(settings.lessons.glob("*.y*ml")) if settings.lessons.is_dir() else []:
        data = check_file(path, str(path), LESSON, settings.root).data
        if isinstance(data, dict) and isinstance(data.get("category"), str):
            found.append(data["category"])
    return found


def _claims(settings: Settings) -> dict[str, str]:
    """Every id existing lessons claim, as id or in `replaces` -> the claiming file."""
    from ..document import LESSON, check_file

    claims: dict[str, str] = {}
    if not settings.lessons.is_dir():
        return claims
    for path in sorted(settings.lessons.glob("*.y*ml")):
        entry = check_file(path, str(path), LESSON, settings.root).lesson_entry()
        for claimed in (entry.id, *entry.replaces):
            if claimed:
                claims.setdefault(claimed, str(path))
    return claims
