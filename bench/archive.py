"""Benchmark `fiml-cms archive` of every published version against a plain `git cat-file` loop.

On the repository of bench/gitgen.py (N lessons x 3 tagged versions, default 3,000 versions),
each timed run writes the whole archive into a fresh, empty folder:

- `fiml-cms archive --out DIR`, as a subprocess (what a user or CI runs; interpreter start and
  imports included), and `archive(Workspace.open(root), DIR)` called in this process;
- the anchor, the same work done plainly, as a subprocess (`python -m bench.archive --anchor`)
  and in this process: one `git for-each-ref` (tag, peeled commit, date), one
  `git cat-file --batch-check` fed every `<commit>:<path>` at once (blob shas), then one
  persistent `git cat-file --batch` read per blob, each written with a plain `open().write()`
  (no temp file, no fsync), and the same index.json. Its output is checked byte-identical
  to fiml-cms's before anything is timed.

Runs alternate between the cases (the order rotates each round) and `os.sync()` runs, untimed,
before each, so one run's dirty pages are not flushed on the next one's clock. The goal is
fiml-cms <= 2x the anchor, end to end (subprocess vs subprocess); the in-process pair is shown too.
Context rows: a second, idempotent `fiml-cms archive` (nothing to write) and `--check`.

`--scratch /dev/shm` puts the output folders on tmpfs (file creation nearly free, fsync a no-op):
what is left is the git and Python work, which a fast local disk comes close to.

Usage: .venv/bin/python -m bench.archive [--count 1000] [--runs 3] [--profile] [--scratch DIR]
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import pstats
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from bench import gitgen

os.environ.update({"GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1"})
PROJECT = Path(__file__).resolve().parent.parent
RATIO_GOAL = 2.0
PREFIX = "lesson/"
LESSONS = "content/lessons"


# --------------------------------------------------------------------------- the anchor


def anchor(root: Path, out: Path) -> int:
    """Every tagged version to `out/<id>/<version>.yaml` plus index.json, with git plumbing only."""
    fmt = "%(refname:strip=2)%00%(*objectname)%00%(creatordate:iso-strict)"
    listing = subprocess.run(
        ["git", "for-each-ref", f"--format={fmt}", f"refs/tags/{PREFIX}"],
        cwd=root,
        capture_output=True,
        check=True,
    ).stdout
    tags = []
    for line in listing.decode().splitlines():
        name, commit, date = line.split("\0")
        _, lesson_id, version = name.split("/")
        tags.append((name, lesson_id, version[1:], commit, date))
    specs = "".join(f"{commit}:{LESSONS}/{lesson_id}.yaml\n" for _, lesson_id, _, commit, _ in tags).encode()
    checked = subprocess.run(
        ["git", "cat-file", "--batch-check=%(objectname)"],
        cwd=root,
        input=specs,
        capture_output=True,
        check=True,
    ).stdout.split()
    batch = subprocess.Popen(
        ["git", "cat-file", "--batch"], cwd=root, stdin=subprocess.PIPE, stdout=subprocess.PIPE
    )
    assert batch.stdin and batch.stdout
    lessons: dict[str, dict[str, dict[str, str]]] = {}
    made: set[str] = set()
    for (name, lesson_id, version, commit, date), blob in zip(tags, checked):
        blob_hex = blob.decode()
        batch.stdin.write(blob + b"\n")
        batch.stdin.flush()
        size = int(batch.stdout.readline().split()[2])
        data = batch.stdout.read(size + 1)[:-1]
        if lesson_id not in made:
            (out / lesson_id).mkdir(parents=True, exist_ok=True)
            made.add(lesson_id)
        with open(out / lesson_id / f"{version}.yaml", "wb") as handle:
            handle.write(data)
        lessons.setdefault(lesson_id, {})[version] = {
            "blob": blob_hex,
            "date": date,
            "tag": name,
            "commit": commit,
        }
    batch.stdin.close()
    batch.wait()
    with open(out / "index.json", "wb") as handle:
        handle.write(
            (json.dumps({"schema": 1, "lessons": lessons}, indent=2, sort_keys=True) + "\n").encode()
        )
    return len(tags)


# --------------------------------------------------------------------------- harness


def snapshot(folder: Path) -> dict[str, bytes]:
    return {
        p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()
    }


def fmt_time(seconds: float) -> str:
    return f"{seconds:.3f} s" if seconds >= 1 else f"{seconds * 1e3:.1f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description="fiml-cms archive benchmark")
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument(
        "--profile", action="store_true", help="cProfile of one in-process archive into a fresh folder"
    )
    parser.add_argument(
        "--scratch",
        type=Path,
        default=None,
        help="where the output folders go (default: next to the cached repository); e.g. /dev/shm to take the disk out",
    )
    parser.add_argument("--anchor", nargs=2, metavar=("ROOT", "OUT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.anchor:
        anchor(Path(args.anchor[0]), Path(args.anchor[1]))
        return

    from bench.store import machine  # bench/store.py: the same machine lines
    from fiml_cms.commands.archive import archive, check_archive
    from fiml_cms.workspace import Workspace

    generated = gitgen.ensure_repo(args.count)
    root = generated.root
    os.chdir(root)
    fiml = str(Path(sys.executable).with_name("fiml-cms"))
    scratch = Path(tempfile.mkdtemp(prefix="fiml-bench-archive.", dir=args.scratch or gitgen.CACHE))
    versions = len(generated.ids) * len(generated.versions)

    def fresh(name: str) -> Path:
        target = scratch / name
        shutil.rmtree(target, ignore_errors=True)
        return target

    def cli_archive(out: Path) -> None:
        done = subprocess.run([fiml, "archive", "--out", str(out)], cwd=root, capture_output=True, text=True)
        if done.returncode or f"{versions + 1} file(s) written" not in done.stdout:
            raise SystemExit(f"fiml-cms archive failed: {done.stdout}{done.stderr}")

    def anchor_subprocess(out: Path) -> None:
        subprocess.run(
            [sys.executable, "-m", "bench.archive", "--anchor", str(root), str(out)], check=True, cwd=PROJECT
        )

    def in_process(out: Path) -> None:
        result = archive(Workspace.open(root), out)
        assert len(result.written) == versions + 1

    def anchor_in_process(out: Path) -> None:
        assert anchor(root, out) == versions

    cases: list[tuple[str, Callable[[Path], None]]] = [
        ("fiml-cms archive (subprocess)", cli_archive),
        ("anchor: cat-file loop (subprocess)", anchor_subprocess),
        ("archive() in process", in_process),
        ("anchor in process", anchor_in_process),
    ]

    # correctness first: the anchor writes exactly what fiml-cms writes
    cli_archive(fresh("check-fiml"))
    anchor_in_process(fresh("check-anchor"))
    if snapshot(scratch / "check-fiml") != snapshot(scratch / "check-anchor"):
        raise SystemExit(
            "the anchor's output differs from fiml-cms archive's: the comparison would be unfair"
        )

    times: dict[str, list[float]] = {name: [] for name, _ in cases}
    for r in range(args.runs):
        order = cases[r % len(cases) :] + cases[: r % len(cases)]
        for name, fn in order:
            out = fresh(f"run-{len(times[name])}-{name.split()[0].strip(':')}")
            os.sync()
            start = time.perf_counter()
            fn(out)
            times[name].append(time.perf_counter() - start)
            shutil.rmtree(out, ignore_errors=True)

    # context: idempotent rerun and --check on a complete archive
    complete = scratch / "check-fiml"
    rerun, check = [], []
    for _ in range(args.runs):
        os.sync()
        start = time.perf_counter()
        done = subprocess.run(
            [fiml, "archive", "--out", str(complete)], cwd=root, capture_output=True, text=True
        )
        rerun.append(time.perf_counter() - start)
        assert "0 file(s) written" in done.stdout, done.stdout
        start = time.perf_counter()
        done = subprocess.run(
            [fiml, "archive", "--check", "--format", "json", "--out", str(complete)],
            cwd=root,
            capture_output=True,
            text=True,
        )
        check.append(time.perf_counter() - start)
        assert done.returncode == 0, done.stdout + done.stderr
    start = time.perf_counter()
    subprocess.run([fiml, "--help"], capture_output=True)
    startup = time.perf_counter() - start

    med = {name: statistics.median(values) for name, values in times.items()}
    e2e = med[cases[0][0]] / med[cases[1][0]]
    inproc = med[cases[2][0]] / med[cases[3][0]]
    print(
        f"## `fiml-cms archive` benchmark: {versions:,} versions ({len(generated.ids):,} lessons × {len(generated.versions)}) into a fresh folder\n"
    )
    print("\n".join(machine()))
    print(f"- repository: {root}; output folders under {scratch}")
    print(f"- median of {args.runs} runs per case, cases interleaved, `os.sync()` before each run\n")
    print("| metric | median | runs | goal / anchor | ratio | result |")
    print("|---|---:|---|---|---:|---|")
    runs = {name: ", ".join(f"{v:.2f}" for v in values) for name, values in times.items()}
    print(
        f"| {cases[0][0]} | {fmt_time(med[cases[0][0]])} | {runs[cases[0][0]]} | anchor {fmt_time(med[cases[1][0]])}, goal ≤ {RATIO_GOAL:g}× | {e2e:.2f} | {'pass' if e2e <= RATIO_GOAL else '**FAIL**'} |"
    )
    print(f"| {cases[1][0]} | {fmt_time(med[cases[1][0]])} | {runs[cases[1][0]]} | — | — | anchor |")
    print(
        f"| {cases[2][0]} | {fmt_time(med[cases[2][0]])} | {runs[cases[2][0]]} | anchor {fmt_time(med[cases[3][0]])}, goal ≤ {RATIO_GOAL:g}× | {inproc:.2f} | {'pass' if inproc <= RATIO_GOAL else '**FAIL**'} |"
    )
    print(f"| {cases[3][0]} | {fmt_time(med[cases[3][0]])} | {runs[cases[3][0]]} | — | — | anchor |")
    print(
        f"| fiml-cms archive again, nothing to write (subprocess) | {fmt_time(statistics.median(rerun))} | {', '.join(f'{v:.2f}' for v in rerun)} | — | — | context |"
    )
    print(
        f"| fiml-cms archive --check, in sync (subprocess) | {fmt_time(statistics.median(check))} | {', '.join(f'{v:.2f}' for v in check)} | — | — | context |"
    )
    print(f"| fiml-cms --help (interpreter start) | {fmt_time(startup)} | 1 | — | — | context |")

    if args.profile:
        out = fresh("profile")
        os.sync()
        prof = cProfile.Profile()
        prof.enable()
        archive(Workspace.open(root), out)
        prof.disable()
        text = io.StringIO()
        pstats.Stats(prof, stream=text).strip_dirs().sort_stats("tottime").print_stats(20)
        print(
            f"\n### cProfile: archive() in process, fresh folder (by tottime)\n\n```text\n{text.getvalue().strip()}\n```"
        )
        prof = cProfile.Profile()
        ws = Workspace.open(root)
        prof.enable()
        check_archive(ws, complete)
        prof.disable()
        text = io.StringIO()
        pstats.Stats(prof, stream=text).strip_dirs().sort_stats("tottime").print_stats(12)
        print(
            f"\n### cProfile: check_archive() in process, complete archive (by tottime)\n\n```text\n{text.getvalue().strip()}\n```"
        )
    shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
