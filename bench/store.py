"""Benchmark the ContentStore on a generated repository of N lessons x 3 tagged versions.

One run, one repository (bench/gitgen.py, cached under /tmp), medians of repeated timings:

| metric | what is timed | goal |
|---|---|---|
| tag index | `ContentStore(GitBackend(...))`: one `git for-each-ref` + parsing 3,000 tags | <= 50 ms |
| latest, warm | `store.latest(id)` once every id was asked for | <= 5 us |
| get, cache hit | `store.get(id, version)` of a parsed version | <= 30 us |
| get, cache miss | `store.get(id, version)` never asked for before | <= 2x anchor |

The anchor for a miss is measured in the same run on the same blobs: one round trip to a
persistent `git cat-file --batch` (driven here, asking for `<commit>:<path>`, which is what the
store knows from its index) plus `ruamel.yaml.YAML(typ="safe", pure=False).load` of the bytes.
Misses and anchors are interleaved (alternating which goes first) after one untimed pass over
every blob, so both read from a warm pack. For context the table also shows GitPython's object
model (`repo.commit(tag).tree / path`, then reading the blob), `ContentStore.open` (settings and
GitRepo included), the raw `git for-each-ref` subprocess, and the parts of a miss.

Usage: .venv/bin/python -m bench.store [--count 1000] [--misses 300] [--profile]
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import platform
import pstats
import statistics
import subprocess
import time
from collections.abc import Callable
from importlib import metadata
from pathlib import Path

from bench import gitgen
from bench.benchlib import cpu_model

os.environ.update({"GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1"})

INDEX_GOAL_S = 0.050
LATEST_GOAL_S = 5e-6
HIT_GOAL_S = 30e-6
MISS_RATIO_GOAL = 2.0


# --------------------------------------------------------------------------- machine


def machine() -> list[str]:
    cpu = cpu_model()
    git_version = subprocess.run(["git", "--version"], capture_output=True, text=True).stdout.strip()
    versions = ", ".join(
        f"{name} {_version(name)}"
        for name in ("GitPython", "ruamel.yaml", "ruamel.yaml.clib", "PyYAML", "jsonschema-rs")
    )
    return [
        f"- machine: {platform.system()} {platform.release()} {platform.machine()}, nproc {os.cpu_count()}, CPU {cpu}",
        f"- Python {platform.python_version()} ({platform.python_implementation()}), {git_version}",
        f"- {versions}",
    ]


def _version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "absent"


def fmt_time(seconds: float) -> str:
    if seconds >= 1:
        return f"{seconds:.2f} s"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.2f} ms"
    if seconds >= 1e-6:
        return f"{seconds * 1e6:.2f} µs"
    return f"{seconds * 1e9:.0f} ns"


# --------------------------------------------------------------------------- timing


def median_runs(fn: Callable[[], object], runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def median_per_call(fn: Callable, args: list[tuple], repeat: int) -> float:
    """Median over `repeat` passes of the mean time per call over `args` (loop overhead included)."""
    means = []
    for _ in range(repeat):
        start = time.perf_counter()
        for a in args:
            fn(*a)
        means.append((time.perf_counter() - start) / len(args))
    return statistics.median(means)


class CatFile:
    """A persistent `git cat-file --batch`, driven directly (the anchor)."""

    def __init__(self, root: Path) -> None:
        self.proc = subprocess.Popen(
            ["git", "cat-file", "--batch"], cwd=root, stdin=subprocess.PIPE, stdout=subprocess.PIPE
        )

    def read(self, spec: str) -> bytes:
        assert self.proc.stdin and self.proc.stdout
        self.proc.stdin.write(spec.encode() + b"\n")
        self.proc.stdin.flush()
        header = self.proc.stdout.readline().split()
        if len(header) != 3:
            raise RuntimeError(f"cat-file: {spec}: {header!r}")
        data = self.proc.stdout.read(int(header[2]) + 1)
        return data[:-1]

    def close(self) -> None:
        assert self.proc.stdin
        self.proc.stdin.close()
        self.proc.wait()


def profile(label: str, code: Callable[[], object], top: int = 18) -> str:
    prof = cProfile.Profile()
    prof.enable()
    code()
    prof.disable()
    out = io.StringIO()
    stats = pstats.Stats(prof, stream=out).strip_dirs().sort_stats("tottime")
    stats.print_stats(top)
    return f"\n### cProfile: {label} (by tottime)\n\n```text\n{out.getvalue().strip()}\n```\n"


# --------------------------------------------------------------------------- main


def main() -> None:
    parser = argparse.ArgumentParser(description="ContentStore benchmark")
    parser.add_argument("--count", type=int, default=1000, help="lessons (x3 versions)")
    parser.add_argument("--misses", type=int, default=300, help="cache-miss samples (distinct versions)")
    parser.add_argument("--runs", type=int, default=21, help="repetitions of the index build")
    parser.add_argument(
        "--profile", action="store_true", help="print cProfile top entries of the index build and of misses"
    )
    args = parser.parse_args()

    from ruamel.yaml import YAML

    from fiml_cms.config import load_settings
    from fiml_cms.document import parse_lesson
    from fiml_cms.gitrepo import GitRepo
    from fiml_cms.store import ContentStore, GitBackend

    generated = gitgen.ensure_repo(args.count)
    root = generated.root
    os.chdir(root)
    settings = load_settings(root)
    repo = GitRepo(root)
    backend = GitBackend(repo, settings)
    tag_count = len(generated.ids) * len(generated.versions)

    rows: list[tuple[str, float, str, str, str]] = []

    def goal_row(name: str, value: float, goal: float) -> None:
        rows.append(
            (
                name,
                value,
                f"≤ {fmt_time(goal)}",
                f"{value / goal:.2f}",
                "pass" if value <= goal else "**FAIL**",
            )
        )

    def context_row(name: str, value: float, ref: float | None = None, ref_name: str = "") -> None:
        rows.append((name, value, ref_name or "—", f"{value / ref:.2f}" if ref else "—", "context"))

    # -- tag index ---------------------------------------------------------------------
    ContentStore(backend)  # warm: git process start, page cache
    index_s = median_runs(lambda: ContentStore(backend), args.runs)
    store = ContentStore(backend)
    if (
        len(store.ids()) != len(generated.ids)
        or sum(len(store.versions(i)) for i in store.ids()) != tag_count
    ):
        raise SystemExit("the store does not see every generated tag")
    if backend.problems:
        raise SystemExit(f"unexpected tag problems: {backend.problems[:3]}")
    fer_format = "--format=%(refname:strip=2)\x1f%(objectname)\x1f%(*objectname)\x1f%(objecttype)\x1f%(creatordate:iso-strict)\x1e"
    raw_fer_s = median_runs(
        lambda: subprocess.run(
            ["git", "for-each-ref", fer_format, "refs/tags/lesson/"],
            cwd=root,
            capture_output=True,
            check=True,
        ),
        args.runs,
    )
    tags_s = median_runs(lambda: repo.tags("lesson/"), args.runs)
    open_s = median_runs(lambda: ContentStore.open(root), max(5, args.runs // 3))
    goal_row(f"tag index: ContentStore construction ({tag_count:,} tags)", index_s, INDEX_GOAL_S)
    context_row(
        "  of which GitRepo.tags() (for-each-ref via GitPython + split)", tags_s, index_s, "share of index"
    )
    context_row("  raw `git for-each-ref` subprocess, same format", raw_fer_s, index_s, "share of index")
    context_row("ContentStore.open(root) (settings + GitRepo + index)", open_s)

    # -- cache misses vs anchor ----------------------------------------------------------
    pairs = [(i, v) for i in store.ids() for v in store.versions(i)]
    step = max(1, len(pairs) // args.misses)
    samples = pairs[::step][: args.misses]
    entries = {(e.lesson_id, e.version): e for i in store.ids() for e in store.published(i)}
    cat = CatFile(root)
    yaml = YAML(typ="safe", pure=False)
    c_parser = type(yaml.Parser).__name__ if not isinstance(yaml.Parser, type) else yaml.Parser.__name__
    for lesson_id, version in pairs:  # untimed pass: every blob read once (warm pack and page cache)
        cat.read(f"{entries[(lesson_id, version)].commit}:{generated.lesson_path(lesson_id)}")
    store.get(*pairs[-1])  # warm GitPython's cat-file processes
    import yaml as pyyaml

    miss_times, anchor_times, strict_times = [], [], []
    for n, (lesson_id, version) in enumerate(samples):
        spec = f"{entries[(lesson_id, version)].commit}:{generated.lesson_path(lesson_id)}"

        def anchor() -> None:
            t = time.perf_counter()
            doc = yaml.load(cat.read(spec))
            anchor_times.append(time.perf_counter() - t)
            assert doc["version"] == version

        def miss() -> None:
            t = time.perf_counter()
            lesson = store.get(lesson_id, version)
            miss_times.append(time.perf_counter() - t)
            assert lesson.version == version

        def strict_anchor() -> None:
            t = time.perf_counter()
            doc = pyyaml.load(cat.read(spec), Loader=pyyaml.CSafeLoader)
            strict_times.append(time.perf_counter() - t)
            assert str(doc["version"]) == version

        for step_fn in (anchor, strict_anchor, miss) if n % 2 else (miss, strict_anchor, anchor):
            step_fn()
    miss_s, anchor_s = statistics.median(miss_times), statistics.median(anchor_times)
    strict_s = statistics.median(strict_times)

    # parts of a miss, on the same samples (all parsed already: time the pieces directly)
    blob_of = {p: backend.blob_sha(entries[p]) for p in samples}
    blob_sha_s = statistics.median(_each(lambda p: backend.blob_sha(entries[p]), samples))
    read_s = statistics.median(_each(lambda p: repo.read_blob(blob_of[p]), samples))
    datas = {p: repo.read_blob(blob_of[p]) for p in samples}
    parse_s = statistics.median(_each(lambda p: parse_lesson(datas[p], "x"), samples))
    yaml_s = statistics.median(_each(lambda p: yaml.load(datas[p]), samples))
    raw_read_s = statistics.median(_each(lambda p: cat.read(blob_of[p]), samples))

    # GitPython's object model, for context
    import git

    gp = git.Repo(root)
    gp_samples = samples[:: max(1, len(samples) // 60)]

    def gitpython_read(p: tuple[str, str]) -> bytes:
        lesson_id, version = p
        blob = gp.commit(generated.tag(lesson_id, version)).tree / generated.lesson_path(lesson_id)
        return blob.data_stream.read()

    gitpython_read(gp_samples[0])
    gitpython_s = statistics.median(_each(gitpython_read, gp_samples))
    gp.close()

    # -- warm lookups ------------------------------------------------------------------------
    for lesson_id in store.ids():
        store.latest(lesson_id)
    for p in pairs:
        store.get(*p)
    id_args = [(i,) for i in store.ids()]
    latest_s = median_per_call(store.latest, id_args, 31)
    hit_s = median_per_call(store.get, pairs, 31)
    empty_s = median_per_call(lambda *a: None, pairs, 31)

    goal_row("latest(id), warm", latest_s, LATEST_GOAL_S)
    goal_row("get(id, version), cache hit", hit_s, HIT_GOAL_S)
    rows.append(
        (
            "get(id, version), cache miss",
            miss_s,
            f"anchor {fmt_time(anchor_s)}, goal ≤ {MISS_RATIO_GOAL:g}×",
            f"{miss_s / anchor_s:.2f}",
            "pass" if miss_s <= MISS_RATIO_GOAL * anchor_s else "**FAIL**",
        )
    )
    context_row("  anchor: cat-file --batch `<commit>:<path>` + ruamel safe C load", anchor_s)
    rows.append(
        (
            "get(id, version), cache miss vs the stricter anchor",
            miss_s,
            f"anchor {fmt_time(strict_s)} (cat-file + PyYAML CSafeLoader), goal ≤ {MISS_RATIO_GOAL:g}×",
            f"{miss_s / strict_s:.2f}",
            "pass" if miss_s <= MISS_RATIO_GOAL * strict_s else "**FAIL**",
        )
    )
    context_row(
        "  miss part: GitBackend.blob_sha (batch-check via GitPython)", blob_sha_s, miss_s, "share of miss"
    )
    context_row(
        "  miss part: GitRepo.read_blob (cat-file --batch via GitPython)", read_s, miss_s, "share of miss"
    )
    context_row(
        "  miss part: parse_lesson (YAML + schema + rules + Lesson)", parse_s, miss_s, "share of miss"
    )
    context_row(
        "  anchor part: raw cat-file --batch round trip (blob sha)", raw_read_s, anchor_s, "share of anchor"
    )
    context_row("  anchor part: ruamel safe C load alone", yaml_s, anchor_s, "share of anchor")
    context_row("GitPython `repo.commit(tag).tree / path` + read", gitpython_s, miss_s, "× the store's miss")
    context_row("empty Python loop call (overhead in the two warm rows)", empty_s)
    cat.close()

    print(
        f"## ContentStore benchmark: {len(generated.ids):,} lessons × {len(generated.versions)} versions ({tag_count:,} annotated tags, packed)\n"
    )
    print("\n".join(machine()))
    print(f"- repository: {root} (generated by bench/gitgen.py, cached)")
    print(
        f"- ruamel parser class: {c_parser}; miss samples: {len(samples)} distinct versions; index runs: {args.runs}\n"
    )
    print("| metric | median | goal / anchor | ratio | result |")
    print("|---|---:|---|---:|---|")
    for name, value, goal, ratio, verdict in rows:
        print(f"| {name} | {fmt_time(value)} | {goal} | {ratio} | {verdict} |")
    failed = [r[0] for r in rows if r[4] == "**FAIL**"]
    print(f"\n{'all goals met' if not failed else 'FAILED: ' + '; '.join(failed)}")

    if args.profile:
        print(profile("10 tag index builds", lambda: [ContentStore(backend) for _ in range(10)]))
        fresh = ContentStore(backend)
        print(profile(f"{len(samples)} cache misses", lambda: [fresh.get(*p) for p in samples]))


def _each(fn: Callable, items: list) -> list[float]:
    times = []
    for item in items:
        t = time.perf_counter()
        fn(item)
        times.append(time.perf_counter() - t)
    return times


if __name__ == "__main__":
    main()
