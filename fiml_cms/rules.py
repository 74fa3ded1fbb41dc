"""Semantic rules beyond the schema (SPEC §3): pure functions from parsed values to Findings.

Single-lesson rules see one schema-valid `Lesson`; repository rules see every lesson and
path at once (ids, prerequisites, paths). Positions are added later from the JSON paths.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from . import message, versions
from .asof import find_as_of
from .bounds import Range, describe_number, lesson_range
from .findings import Finding, Fix, JsonPath
from .lesson import (
    ChangelogEntry,
    ChartSection,
    LearningPath,
    Lesson,
    LiveExampleSection,
    MultipleChoiceQuestion,
    NumericQuestion,
    Question,
    Section,
    TextSection,
    TrueFalseQuestion,
)

LONG_PARAGRAPH = 1000


@dataclass(frozen=True)
class LessonSummary:
    """The fields of a valid lesson that other files depend on (small, so cheap to pass around)."""

    id: str
    prerequisites: tuple[str, ...]
    replaces: tuple[str, ...]
    retired: bool

    @classmethod
    def of(cls, lesson: Lesson) -> LessonSummary:
        return cls(lesson.id, lesson.prerequisites, lesson.replaces, lesson.retired)


@dataclass(frozen=True)
class LessonEntry:
    """What the repository rules need of one lesson file, even a schema-invalid one."""

    file: str
    stem: str
    id: str | None
    replaces: tuple[str, ...] = ()
    lesson: LessonSummary | None = None
    unreadable: str | None = None  # why the file could not be read as YAML (its first error), if so


@dataclass(frozen=True)
class PathEntry:
    file: str
    stem: str
    path: LearningPath | None
    id: str | None = None


@dataclass(frozen=True)
class LessonParts:
    """The parts of a lesson the schema accepted, so one bad field does not hide the rest.

    Sections and questions keep their index in the file, for positions.
    """

    id: str | None
    version: str | None
    changelog: tuple[ChangelogEntry, ...] | None
    sections: tuple[tuple[int, Section], ...]
    questions: tuple[tuple[int, Question], ...]
    yanked: tuple[tuple[int, str], ...]
    replaces: tuple[tuple[int, str], ...]
    xp_reward: int | None = None
    duration_minutes: int | None = None
    title: str | None = None  # in every chat message's header, so in what FIML041 measures

    @classmethod
    def of(cls, lesson: Lesson) -> LessonParts:
        return cls(
            lesson.id,
            lesson.version,
            lesson.changelog,
            tuple(enumerate(lesson.sections)),
            tuple(enumerate(lesson.quiz.questions)),
            tuple(enumerate(lesson.yanked)),
            tuple(enumerate(lesson.replaces)),
            lesson.xp_reward,
            lesson.duration_minutes,
            lesson.title,
        )


def check_lesson(lesson: Lesson | LessonParts, file: str, stem: str) -> list[Finding]:
    parts = LessonParts.of(lesson) if isinstance(lesson, Lesson) else lesson
    return [f for rule in _LESSON_RULES for f in rule(parts, file, stem)]


def _id_matches_file(lesson: LessonParts, file: str, stem: str) -> Iterator[Finding]:
    if lesson.id is not None and lesson.id != stem:
        yield Finding(
            "FIML030",
            f'the id "{lesson.id}" must equal the file name "{stem}" (rename the file to {lesson.id}.yaml, or fix the id)',
            file,
            ("id",),
            fix=Fix("set", stem) if _is_lesson_id(stem) else None,
        )


def _version_is_top_of_changelog(lesson: LessonParts, file: str, stem: str) -> Iterator[Finding]:
    if not lesson.changelog or lesson.version is None:
        return
    top = lesson.changelog[0].version
    if top != lesson.version:
        yield Finding(
            "FIML032",
            f'`version` is "{lesson.version}" but the top changelog entry is "{top}"; add a changelog entry for {lesson.version} at the top',
            file,
            ("version",),
        )


def _changelog_ordered(lesson: LessonParts, file: str, stem: str) -> Iterator[Finding]:
    entries = lesson.changelog or ()
    for i in range(1, len(entries)):
        above, here = entries[i - 1], entries[i]
        if versions.parse(here.version) >= versions.parse(above.version):
            yield Finding(
                "FIML033",
                f"changelog entry {here.version} must be older than {above.version} above it (newest first, no repeats)",
                file,
                ("changelog", i, "version"),
            )
        if here.date > above.date:
            yield Finding(
                "FIML034",
                f"changelog date {here.date} of {here.version} is later than {above.date} of the newer entry {above.version}",
                file,
                ("changelog", i, "date"),
            )


def _answers_valid(lesson: LessonParts, file: str, stem: str) -> Iterator[Finding]:
    for i, q in lesson.questions:
        if not isinstance(q, MultipleChoiceQuestion):
            continue
        if q.answer >= len(q.options):
            yield Finding(
                "FIML035",
                f'question "{q.id}": answer {q.answer} points past its {len(q.options)} options (indexes start at 0, so the last is {len(q.options) - 1})',
                file,
                ("quiz", "questions", i, "answer"),
            )
        seen: dict[str, int] = {}
        for j, option in enumerate(q.options):
            key = " ".join(option.casefold().split())
            if key in seen:
                yield Finding(
                    "FIML036",
                    f'question "{q.id}": option {j} repeats option {seen[key]} ("{option}"), so there is not exactly one correct answer',
                    file,
                    ("quiz", "questions", i, "options", j),
                )
            else:
                seen[key] = j


def _unique_item_ids(lesson: LessonParts, file: str, stem: str) -> Iterator[Finding]:
    for code, field, items in (
        ("FIML039", "sections", lesson.sections),
        ("FIML040", "questions", lesson.questions),
    ):
        first: dict[str, int] = {}
        base = ("quiz", "questions") if field == "questions" else ("sections",)
        for i, item in items:
            if item.id in first:
                yield Finding(
                    code,
                    f'{field[:-1]} id "{item.id}" is already used by {field[:-1]} {first[item.id]}; ids must be unique in a lesson',
                    file,
                    (*base, i, "id"),
                )
            else:
                first[item.id] = i


def _fits_in_a_message(lesson: LessonParts, file: str, stem: str) -> Iterator[Finding]:
    """FIML041: the message the bot sends (fiml_cms/message.py, header included), as Telegram counts it."""
    limit = message.LIMIT
    title = lesson.title or ""
    sections = 1 + max((i for i, _ in lesson.sections), default=0)
    for i, section in lesson.sections:
        if isinstance(section, LiveExampleSection | ChartSection):
            stated = message.figures_date(section, lesson.changelog or ())
            texts = message.live_section_texts(title, i + 1, sections, section, stated)
        else:
            texts = [message.section_text(title, i + 1, sections, section)]
        over = [text for text in texts if not message.fits(text)]
        if not over:
            continue
        longest = max(over, key=message.length)
        size = message.length(longest)
        form = " when live data is unavailable" if longest is not texts[0] else ""
        yield Finding(
            "FIML041",
            f'section "{section.id}" is a message of {size:,} UTF-16 units{form} with its "{title} · {i + 1}/{sections}" header; a Telegram message holds {limit:,}: split it into two sections',
            file,
            ("sections", i),
        )
    questions = 1 + max((i for i, _ in lesson.questions), default=0)
    for i, q in lesson.questions:
        text = message.question_text(title, i + 1, questions, q)
        if message.fits(text):
            continue
        yield Finding(
            "FIML041",
            f'question "{q.id}" is a message of {message.length(text):,} UTF-16 units with its quiz header; a Telegram message holds {limit:,}: shorten the prompt or the options',
            file,
            ("quiz", "questions", i),
        )


def _long_paragraphs(lesson: LessonParts, file: str, stem: str) -> Iterator[Finding]:
    for i, section in lesson.sections:
        if isinstance(section, TextSection):
            for paragraph in message.paragraphs(section.body):
                if len(paragraph) > LONG_PARAGRAPH:
                    yield Finding(
                        "FIML050",
                        f'section "{section.id}" has a paragraph of {len(paragraph):,} characters; keep chat paragraphs under {LONG_PARAGRAPH:,}',
                        file,
                        ("sections", i, "body"),
                    )
                    break


def _yanked_known(lesson: LessonParts, file: str, stem: str) -> Iterator[Finding]:
    if lesson.changelog is None:
        return
    history = {entry.version for entry in lesson.changelog}
    for i, version in lesson.yanked:
        if version == lesson.version:
            yield Finding(
                "FIML045",
                f"the current version {version} is yanked, so the lesson could never be served; a yank is published with the fixed version: remove {version} from `yanked` and run `fiml-cms bump {lesson.id} auto --yank {version} -m ...` (or just `fiml-cms bump {lesson.id} patch -m ...`)",
                file,
                ("yanked", i),
            )
        elif version not in history:
            yield Finding(
                "FIML042", f"yanked version {version} does not appear in the changelog", file, ("yanked", i)
            )


def _no_self_replacement(lesson: LessonParts, file: str, stem: str) -> Iterator[Finding]:
    for i, old in lesson.replaces:
        if old == lesson.id:
            yield Finding("FIML046", f'`replaces` lists the lesson\'s own id "{old}"', file, ("replaces", i))


def _numbers_in_range(lesson: LessonParts, file: str, stem: str) -> Iterator[Finding]:
    """The schema's numeric limits once more, in Python: the validator lets huge integers through."""
    checks: list[tuple[JsonPath, object, Range]] = [
        (("xp_reward",), lesson.xp_reward, lesson_range("properties", "xp_reward")),
        (("duration_minutes",), lesson.duration_minutes, lesson_range("properties", "duration_minutes")),
    ]
    for i, q in lesson.questions:
        definition = f"{q.type}_question"
        checks.append(
            (("quiz", "questions", i, "xp"), q.xp, lesson_range("$defs", definition, "properties", "xp"))
        )
        if not isinstance(q, TrueFalseQuestion):
            checks.append(
                (
                    ("quiz", "questions", i, "answer"),
                    q.answer,
                    lesson_range("$defs", definition, "properties", "answer"),
                )
            )
        if isinstance(q, NumericQuestion):
            checks.append(
                (
                    ("quiz", "questions", i, "tolerance"),
                    q.tolerance,
                    lesson_range("$defs", definition, "properties", "tolerance"),
                )
            )
    for path, value, allowed in checks:
        if isinstance(value, (int, float)) and not isinstance(value, bool) and not allowed.holds(value):
            yield Finding(
                "FIML024",
                f"`{path[-1]}` is {describe_number(value)}; it must be {allowed.describe()}",
                file,
                path,
            )


# Words by which a fallback says its figures are made up: those cannot go stale, so need no date.
ILLUSTRATIVE = ("illustrative", "hypothetical", "example figures", "an example", "not live data")


def stale_fallbacks(lesson: LessonParts, file: str, max_age_days: int, today: dt.date) -> Iterator[Finding]:
    """FIML053: a fallback with real figures needs an "as of" date no older than `max_age_days`.

    The bot shows the fallback when no provider answers, and repeats its date; a learner must be able
    to tell how old the numbers are. Not in `_LESSON_RULES`: it depends on the settings and the day.
    """
    for i, section in lesson.sections:
        if not isinstance(section, LiveExampleSection | ChartSection):
            continue
        stated = find_as_of(section.fallback)
        where = ("sections", i, "fallback")
        if stated is None:
            if any(word in section.fallback.lower() for word in ILLUSTRATIVE):
                continue
            yield Finding(
                "FIML053",
                f'section "{section.id}": the fallback gives no "as of" date; state when its figures were true (e.g. "As of YYYY-MM-DD, ...") or call them illustrative',
                file,
                where,
            )
        elif (today - stated).days > max_age_days:
            yield Finding(
                "FIML053",
                f'section "{section.id}": the fallback\'s figures are as of {stated.isoformat()}, {(today - stated).days} days ago (more than fallback_max_age_days = {max_age_days}); refresh them',
                file,
                where,
            )


_LESSON_RULES = (
    _numbers_in_range,
    _id_matches_file,
    _version_is_top_of_changelog,
    _changelog_ordered,
    _answers_valid,
    _unique_item_ids,
    _fits_in_a_message,
    _long_paragraphs,
    _yanked_known,
    _no_self_replacement,
)


def check_repository(
    lessons: Iterable[LessonEntry], paths: Iterable[PathEntry], focus: set[str] | None = None
) -> list[Finding]:
    """Rules that need every lesson and path at once. With `focus` (file names), findings are wanted
    only for those files, so the cycle search only walks what their lessons can reach."""
    lessons = list(lessons)
    paths = list(paths)
    findings = list(_unique_lesson_ids(lessons))
    known = {e.id for e in lessons if e.id} | {old for e in lessons for old in e.replaces}
    by_id = {e.lesson.id: e.lesson for e in lessons if e.lesson}
    unreadable = {
        e.stem: e for e in lessons if e.id is None and e.unreadable
    }  # of every file, not only the focus
    findings.extend(
        _prerequisites(
            [e for e in lessons if e.file in focus] if focus is not None else lessons,
            known,
            by_id,
            unreadable,
        )
    )
    findings.extend(_cycles(lessons, focus))
    findings.extend(_paths(paths, known, by_id, unreadable))
    return findings


def _unique_lesson_ids(lessons: list[LessonEntry]) -> Iterator[Finding]:
    claims: dict[str, list[tuple[LessonEntry, tuple]]] = defaultdict(list)
    for e in lessons:
        if e.id:
            claims[e.id].append((e, ("id",)))
        for j, old in enumerate(e.replaces):
            if old != e.id:
                claims[old].append((e, ("replaces", j)))
    for lesson_id, owners in claims.items():
        if len(owners) < 2:
            continue
        for entry, path in owners:
            others = ", ".join(sorted({o.file for o, _ in owners if o is not entry} or {entry.file}))
            how = "as its id" if path == ("id",) else "in `replaces`"
            yield Finding(
                "FIML031",
                f'the id "{lesson_id}" (claimed here {how}) is also claimed by {others}; lesson ids are unique across the repository, including `replaces`',
                entry.file,
                path,
            )


def _prerequisites(
    lessons: list[LessonEntry],
    known: set[str],
    by_id: dict[str, LessonSummary],
    unreadable: dict[str, LessonEntry],
) -> Iterator[Finding]:
    for e in lessons:
        if not e.lesson:
            continue
        for j, prereq in enumerate(e.lesson.prerequisites):
            if prereq not in known and prereq in unreadable:
                broken = unreadable[prereq]
                yield Finding(
                    "FIML037",
                    f'prerequisite "{prereq}" cannot be checked: {_does_not_parse(broken)}',
                    e.file,
                    ("prerequisites", j),
                )
            elif prereq not in known:
                yield Finding(
                    "FIML037",
                    f'prerequisite "{prereq}" is not a lesson in this repository{_closest(prereq, known)}',
                    e.file,
                    ("prerequisites", j),
                    fix=_set_closest(prereq, known),
                )
            elif prereq in by_id and by_id[prereq].retired:
                yield Finding(
                    "FIML051",
                    f'prerequisite "{prereq}" is retired: new learners cannot start it, so they can never start this lesson',
                    e.file,
                    ("prerequisites", j),
                )


def _closest(word: str, known: set[str]) -> str:
    from .suggest import suggest

    return suggest(word, known)


def _set_closest(word: str, known: set[str]) -> Fix | None:
    """The edit behind `_closest`'s "did you mean": the value becomes the suggested name."""
    from .suggest import closest

    match = closest(word, known)
    return Fix("set", match) if match else None


def _is_lesson_id(text: str) -> bool:
    from .document import LESSON_ID

    return bool(LESSON_ID.match(text))


def _cycles(lessons: list[LessonEntry], focus: set[str] | None = None) -> Iterator[Finding]:
    alias = {old: e.lesson.id for e in lessons if e.lesson for old in e.replaces}
    graph = {e.lesson.id: [alias.get(p, p) for p in e.lesson.prerequisites] for e in lessons if e.lesson}
    if focus is not None:  # a cycle through a focus lesson lies within what that lesson reaches
        graph = _reachable(graph, [e.lesson.id for e in lessons if e.lesson and e.file in focus])
    entries = {e.lesson.id: e for e in lessons if e.lesson}
    for component in strongly_connected(graph):
        members = set(component)
        if len(members) == 1 and component[0] not in graph.get(component[0], []):
            continue
        ring = " -> ".join(sorted(members))
        for lesson_id in sorted(members):
            entry = entries[lesson_id]
            for j, prereq in enumerate(entry.lesson.prerequisites):  # type: ignore[union-attr]
                if alias.get(prereq, prereq) in members:
                    yield Finding(
                        "FIML038",
                        f'prerequisite "{prereq}" closes a cycle ({ring}); remove one of these prerequisites',
                        entry.file,
                        ("prerequisites", j),
                    )


def _reachable(graph: dict[str, list[str]], starts: list[str]) -> dict[str, list[str]]:
    seen = set(starts)
    todo = list(starts)
    while todo:
        for nxt in graph.get(todo.pop(), []):
            if nxt in graph and nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return {node: graph[node] for node in graph if node in seen}


def strongly_connected(graph: dict[str, list[str]]) -> list[list[str]]:
    """Tarjan's algorithm, iterative so long prerequisite chains cannot overflow the stack."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    result: list[list[str]] = []
    counter = 0
    for start in graph:
        if start in index:
            continue
        work = [(start, 0)]
        while work:
            node, i = work.pop()
            if i == 0:
                index[node] = low[node] = counter
                counter += 1
                stack.append(node)
                on_stack.add(node)
            edges = [n for n in graph.get(node, []) if n in graph]
            if i < len(edges):
                work.append((node, i + 1))
                nxt = edges[i]
                if nxt not in index:
                    work.append((nxt, 0))
                elif nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
                continue
            if low[node] == index[node]:
                component = []
                while True:
                    w = stack.pop()
                    on_stack.discard(w)
                    component.append(w)
                    if w == node:
                        break
                result.append(component)
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
    return result


def _does_not_parse(broken: LessonEntry) -> str:
    """What a reference to a lesson whose file does not parse says: the file and where its error is
    (the error itself is reported once, on that file)."""
    where = (broken.unreadable or "").split(" ", 1)[0]
    at = f" (its error is at {where})" if where[:1].isdigit() else ""
    return f"its file {broken.file} does not parse{at}; fix that file first"


def _paths(
    paths: list[PathEntry],
    known: set[str],
    by_id: dict[str, LessonSummary],
    unreadable: dict[str, LessonEntry],
) -> Iterator[Finding]:
    owners: dict[str, list[str]] = defaultdict(list)
    for p in paths:
        pid = p.path.id if p.path else p.id
        if pid:
            owners[pid].append(p.file)
    for p in paths:
        pid = p.path.id if p.path else p.id
        others = [f for f in owners.get(pid or "", []) if f != p.file]
        if others:
            yield Finding(
                "FIML044",
                f'learning path id "{pid}" is also used by {", ".join(sorted(others))}',
                p.file,
                ("id",),
            )
        if not p.path:
            continue
        if p.path.id != p.stem:
            yield Finding(
                "FIML030", f'the id "{p.path.id}" must equal the file name "{p.stem}"', p.file, ("id",)
            )
        for j, lesson_id in enumerate(p.path.lessons):
            if lesson_id not in known and lesson_id in unreadable:
                broken = unreadable[lesson_id]
                yield Finding(
                    "FIML043",
                    f'lesson "{lesson_id}" cannot be checked: {_does_not_parse(broken)}',
                    p.file,
                    ("lessons", j),
                )
            elif lesson_id not in known:
                yield Finding(
                    "FIML043",
                    f'lesson "{lesson_id}" is not a lesson in this repository{_closest(lesson_id, known)}',
                    p.file,
                    ("lessons", j),
                    fix=_set_closest(lesson_id, known),
                )
            elif lesson_id in by_id and by_id[lesson_id].retired:
                yield Finding(
                    "FIML052",
                    f'lesson "{lesson_id}" is retired: new learners cannot start it',
                    p.file,
                    ("lessons", j),
                )
