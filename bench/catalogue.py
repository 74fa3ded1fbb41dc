"""Cost that grows with the catalogue (issue 16): tutor actions, the first action and `chat` start-up.

| metric | what is timed | goal |
|---|---|---|
| action time, 10,000 vs 11 lessons | the median of `Tutor.handle` over a mix of actions (lesson list pages, open a lesson, Next, answer), the same mix on a repository of 11 lessons and one of 10,000, in paired runs (11, then 10,000, then 11, ...), each with new learners and a new SQLite file | ratio <= 1.3 |
| first action at 10,000 lessons | the first `Tutor.handle` (the lesson list) after `LessonContent.open` | <= 1 s |
| content open at 10,000 lessons | `LessonContent.open`: the tag index and the catalogue (summaries of 10,000 lessons) | - |
| `chat` start-up at 10,000 lessons | wall time of `fiml-bot chat` answering five inputs, a new process each run (and its peak RSS) | <= 3 s |
| refresh with one new tag | `LessonContent.refresh()` after one lesson was published (incremental) | - |

The repositories are bench/gitgen.py's (copies of the project's lessons, 3 versions each, every
version tagged), cached under /tmp.

Usage: .venv/bin/python -m bench.catalogue [--count 10000] [--runs 5] [--actions 400]
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.benchlib import cpu_model
from bench.gitgen import GIT_ENV, ensure_repo
from fiml_bot.content import LessonContent
from fiml_bot.storage import open_storage
from fiml_bot.tutor.callbacks import encode
from fiml_bot.tutor.engine import Tutor
from fiml_bot.tutor.events import ListLessons, Pressed
from fiml_cms import yamlfile
from fiml_cms.config import load_settings

PROJECT = Path(__file__).resolve().parent.parent

SOURCE = "what_is_a_market"  # the lesson every scripted learner takes (one copy of it in each repository)


def open_content(root: Path) -> LessonContent:
    return LessonContent.open(root, load_settings(root))


def lesson_in(ids: list[str]) -> str:
    return next(i for i in ids if i.startswith(SOURCE + "_"))


def action_times(content: LessonContent, lesson_id: str, actions: int, workdir: Path) -> list[float]:
    """Per-action seconds of scripted learners on a new database: list, pages, open, Next/answers."""
    url = f"sqlite:///{workdir / f'bench-{time.monotonic_ns()}.db'}"
    storage = open_storage(url, auto_upgrade=True)
    tutor = Tutor(content, storage)
    times: list[float] = []
    learner = 0
    try:
        while len(times) < actions:
            learner += 1
            who = f"bench:{learner}"
            last = timed(times, tutor, who, ListLessons())
            timed(times, tutor, who, ListLessons(page=3))
            last = timed(times, tutor, who, Pressed(encode("o", lesson_id)))
            for _ in range(12):  # through the sections into the quiz: always the first button
                buttons = [b for m in last for b in m.all_buttons if b.data.startswith(("n|", "a|"))]
                if not buttons:
                    break
                last = timed(times, tutor, who, Pressed(buttons[0].data))
    finally:
        storage.close()
    return times[:actions]


def timed(times: list[float], tutor: Tutor, who: str, event: object) -> list:
    began = time.perf_counter()
    out = tutor.handle(who, event)  # type: ignore[arg-type]
    times.append(time.perf_counter() - began)
    return out


def chat_run(root: Path, workdir: Path) -> tuple[float, float, float]:
    """(wall seconds, CPU seconds with its git subprocesses, peak RSS MiB) of `fiml-bot chat` answering
    five inputs in a new process."""
    db = workdir / f"chat-{time.monotonic_ns()}.db"
    command = [
        sys.executable,
        "-m",
        "fiml_bot",
        "chat",
        "--content",
        str(root),
        "--database",
        f"sqlite:///{db}",
        "--published",
    ]
    env = {**os.environ, **GIT_ENV, "PYTHONPATH": str(PROJECT)}
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    before, cpu_before = usage.ru_maxrss, usage.ru_utime + usage.ru_stime
    began = time.perf_counter()
    done = subprocess.run(
        command,
        input="/start\n1\n1\n/progress\n/help\n",
        capture_output=True,
        text=True,
        env=env,
        cwd=workdir,
        timeout=300,
    )
    wall = time.perf_counter() - began
    if done.returncode != 0 or "Lessons" not in done.stdout:
        raise SystemExit(
            f"fiml-bot chat failed ({done.returncode}):\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}"
        )
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, usage.ru_utime + usage.ru_stime - cpu_before, max(usage.ru_maxrss, before) / 1024


def refresh_after_one_tag(root: Path, lesson_id: str, workdir: Path) -> float:
    """Seconds of an incremental refresh after one new tag, in a throwaway clone of the repository."""
    clone = workdir / f"clone-{time.monotonic_ns()}"
    env = {**os.environ, **GIT_ENV}
    subprocess.run(["git", "clone", "-q", "--no-local", str(root), str(clone)], check=True, env=env)
    content = open_content(clone)
    path = clone / "content" / "lessons" / f"{lesson_id}.yaml"
    path.write_text(
        yamlfile.bump_text(
            path.read_text(encoding="utf-8"), "1.3.0", "2026-12-29", ["Clearer wording (1.3.0)"]
        ),
        encoding="utf-8",
    )
    subprocess.run(["git", "commit", "-q", "-am", "bump"], cwd=clone, check=True, env=env)
    subprocess.run(
        ["git", "tag", "-a", f"lesson/{lesson_id}/v1.3.0", "-m", "bench", "HEAD"],
        cwd=clone,
        check=True,
        env=env,
    )
    began = time.perf_counter()
    content.refresh(fetch=False)
    took = time.perf_counter() - began
    shutil.rmtree(clone, ignore_errors=True)
    return took


def chat_figures(runs: list[tuple[float, float, float]]) -> str:
    return f"{statistics.median(w for w, _, _ in runs):.2f} s ({statistics.median(c for _, c, _ in runs):.2f} s CPU; {max(r for _, _, r in runs):.0f} MiB)"


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.2f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--actions", type=int, default=400)
    args = parser.parse_args()

    small, big = ensure_repo(11, 3), ensure_repo(args.count, 3)
    workdir = Path(tempfile.mkdtemp(prefix="fiml-bench-catalogue-"))
    try:
        began = time.perf_counter()
        big_content = open_content(big.root)
        open_seconds = time.perf_counter() - began
        big_lesson = lesson_in(big.ids)
        first_storage = open_storage(f"sqlite:///{workdir / 'first.db'}", auto_upgrade=True)
        began = time.perf_counter()
        Tutor(big_content, first_storage).handle("bench:first", ListLessons())
        first_action = time.perf_counter() - began
        first_storage.close()

        small_content, small_lesson = open_content(small.root), lesson_in(small.ids)
        action_times(small_content, small_lesson, 50, workdir)  # warm-up: parsed lessons cached, code loaded
        action_times(big_content, big_lesson, 50, workdir)
        medians: dict[str, list[float]] = {"small": [], "big": []}
        for _ in range(args.runs):  # paired: the two sizes take turns
            medians["small"].append(
                statistics.median(action_times(small_content, small_lesson, args.actions, workdir))
            )
            medians["big"].append(
                statistics.median(action_times(big_content, big_lesson, args.actions, workdir))
            )
        ratios = [b / s for s, b in zip(medians["small"], medians["big"])]

        chat_small = [chat_run(small.root, workdir) for _ in range(3)]
        chat_big = [chat_run(big.root, workdir) for _ in range(3)]
        refresh = statistics.median(refresh_after_one_tag(big.root, big_lesson, workdir) for _ in range(3))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)

    goals = {
        "ratio": statistics.median(ratios) <= 1.3,
        "first": first_action <= 1.0,
        "chat": statistics.median(w for w, _, _ in chat_big) <= 3.0,
    }
    print(
        f"- machine: {platform.system()} {platform.release()}, nproc {os.cpu_count()}, CPU {cpu_model()}, Python {platform.python_version()}"
    )
    print(
        f"- repositories: {len(small.ids)} and {len(big.ids)} lessons x 3 versions (every version tagged); {args.runs} paired runs of {args.actions} actions\n"
    )
    print(f"| metric | 11 lessons | {len(big.ids)} lessons | ratio | goal |")
    print("|---|---|---|---|---|")
    print(
        f"| tutor action, median of run medians | {ms(statistics.median(medians['small']))} | {ms(statistics.median(medians['big']))} | "
        f"{statistics.median(ratios):.2f} (runs: {', '.join(f'{r:.2f}' for r in ratios)}) | <= 1.3 {'met' if goals['ratio'] else 'MISSED'} |"
    )
    print(
        f"| first action (lesson list) after open | - | {ms(first_action)} | - | <= 1 s {'met' if goals['first'] else 'MISSED'} |"
    )
    print(f"| LessonContent.open (tag index + catalogue) | - | {open_seconds:.2f} s | - | - |")
    print(
        f"| `fiml-bot chat`, five inputs, median of 3: wall (CPU; peak RSS) | {chat_figures(chat_small)} | {chat_figures(chat_big)} | - | <= 3 s {'met' if goals['chat'] else 'MISSED'} |"
    )
    print(f"| refresh after one new tag (incremental) | - | {ms(refresh)} | - | - |")


if __name__ == "__main__":
    main()
