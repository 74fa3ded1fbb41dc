"""Benchmark `fiml-cms validate` against `check-jsonschema` (a benchmark, not a test).

What it does, in one run:

1. Generates N lessons (default 1,000, ~5-6 KB each) into a temporary folder outside the
   project, by copying the project's own `content/lessons/*.yaml` round after round. Copy
   number `r` of lesson `x` gets the id `x_g<r>` (file `x_g<r>.yaml`); its prerequisites `p`
   become `p_g<r>` when that generated lesson exists, and are dropped otherwise, so the
   repository-wide rules (ids, prerequisites, cycles) have real work to do. The copies are
   text edits, so comments, quoting and layout stay as the authors wrote them.
   `fiml-cms validate` must report 0 findings on the generated set, or the run aborts.
2. Times, as subprocesses, alternating between cases (round robin, rotated each run),
   `--runs` timed runs per case after `--warmup` untimed ones:
     - `fiml-cms validate DIR` on the N clean files (cwd = the temporary root, so the
       project's own lessons are not read as context);
     - `check-jsonschema --schemafile schemas/lesson.schema.json <N files>` (the anchor);
       if it fails on the generated files and passes once dates are quoted, the quoted copy
       is timed too and becomes the anchor;
     - `fiml-cms validate DIR` on N files of which ~10% hold `answer: 7` (positions pass);
     - `fiml-cms validate FILE` on one clean file and on one file with one finding;
     - `fiml-cms validate FILE` on a lesson of this repository, from its root (real context).
3. Big repositories (issue 10.13, `--repo-sizes 1000,10000`): for each size a git repository with
   that many generated lessons in `content/lessons`, committed; timed side by side, alternating:
   `fiml-cms validate` (the whole repository) and `fiml-cms validate content/lessons/<one>.yaml`
   (one file, its context from the blob-sha cache under `.git/` that the warm-up run filled). The
   first, cold run of the one file is reported too.
4. Prints Markdown tables and the machine it ran on.

Usage: .venv/bin/python -m bench.validate [--runs 5] [--count 1000] [--repo-sizes 1000,10000] [--out DIR] [--keep]
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

from bench.benchlib import ID_LINE, PROJECT_LESSONS, project_lessons

PROJECT = Path(__file__).resolve().parent.parent
SCHEMA = PROJECT / "schemas" / "lesson.schema.json"
REPO_SAMPLE = "content/lessons/reading_stock_prices.yaml"

RATIO_GOAL = 4.0  # fiml-cms at least 4x faster than check-jsonschema on the N files
SINGLE_GOAL_S = 0.25  # one file end to end
ERROR_EVERY = 10  # ~10% of the files in the error set get `answer: 7` (past their 4 options)
#: One file in a repository of N lessons (issue 10.13): N -> seconds.
REPO_FILE_GOALS = {1000: 0.25, 10000: 0.4}

PREREQ_FLOW = re.compile(r"^prerequisites: *\[(.*)\] *$", re.M)
PREREQ_BLOCK = re.compile(r"^prerequisites: *\n((?:[ \t]+- .*\n)+)", re.M)
PREREQ_LINE = re.compile(r"^prerequisites:.*$", re.M)
ANSWER_LINE = re.compile(r"^( +answer: *)(\d+)( *)$", re.M)
QUESTION_START = re.compile(r"^ +- id: .*$", re.M)
DATE_LINE = re.compile(r"^( +date: *)(\d{4}-\d{2}-\d{2})( *)$", re.M)


class BenchError(Exception):
    pass


# --------------------------------------------------------------------------- generation


@dataclass
class Source:
    id: str
    text: str


def read_sources() -> list[Source]:
    return [Source(lesson_id, text) for lesson_id, text in project_lessons()]


def _split_flow(items: str) -> list[str]:
    return [p.strip().strip("\"'") for p in items.split(",") if p.strip()]


def rewrite_prerequisites(text: str, rename) -> str:
    """Rewrite the top-level `prerequisites` list with `rename(p) -> new id or None (drop)`."""
    m = PREREQ_FLOW.search(text)
    if m:
        kept = [n for n in (rename(p) for p in _split_flow(m.group(1))) if n]
        return text[: m.start()] + f"prerequisites: [{', '.join(kept)}]" + text[m.end() :]
    m = PREREQ_BLOCK.search(text)
    if m:
        old = [line.strip()[2:].strip().strip("\"'") for line in m.group(1).splitlines()]
        kept = [n for n in (rename(p) for p in old) if n]
        return text[: m.start()] + f"prerequisites: [{', '.join(kept)}]\n" + text[m.end() :]
    if PREREQ_LINE.search(text):
        raise BenchError("a `prerequisites:` line in an unexpected form; extend rewrite_prerequisites")
    return text  # optional field, absent


def generate(sources: list[Source], count: int, folder: Path) -> list[Path]:
    """`count` lessons in `folder`: copy r of lesson x is `x_g<r>` (r = 0, 1, ...)."""
    folder.mkdir(parents=True)
    width = max(4, len(str(count // len(sources))))
    plan = [(sources[i % len(sources)], i // len(sources)) for i in range(count)]
    new_id = {(s.id, r): f"{s.id}_g{r:0{width}d}" for s, r in plan}
    files = []
    for src, r in plan:
        lesson_id = new_id[(src.id, r)]
        if len(lesson_id) > 64:
            raise BenchError(f"generated id {lesson_id!r} is longer than the schema's 64 characters")
        text = ID_LINE.sub(f"id: {lesson_id}", src.text, count=1)
        text = rewrite_prerequisites(text, lambda p, r=r: new_id.get((p, r)))
        path = folder / f"{lesson_id}.yaml"
        path.write_text(text, encoding="utf-8")
        files.append(path)
    return files


def inject_error(text: str) -> str:
    """Set the last multiple-choice question's answer to 7 (past its 4 options): one FIML035 near the end."""
    quiz = re.search(r"^quiz:", text, re.M)
    if not quiz:
        raise BenchError("no top-level `quiz:` to mutate")
    starts = [m.start() for m in QUESTION_START.finditer(text, quiz.end())] + [len(text)]
    for begin, end in reversed(list(itertools.pairwise(starts))):
        chunk = text[begin:end]
        answer = ANSWER_LINE.search(chunk)
        if answer and re.search(r"^ +type: *multiple_choice *$", chunk, re.M):
            a, b = begin + answer.start(2), begin + answer.end(2)
            return text[:a] + "7" + text[b:]
    raise BenchError("no multiple-choice question with a numeric `answer:` to mutate")


def copy_set(files: list[Path], folder: Path, edit) -> list[Path]:
    """Copy `files` to `folder`, passing (index, text) through `edit`."""
    folder.mkdir(parents=True)
    out = []
    for i, path in enumerate(files):
        target = folder / path.name
        target.write_text(edit(i, path.read_text(encoding="utf-8")), encoding="utf-8")
        out.append(target)
    return out


def quote_dates(text: str) -> str:
    return DATE_LINE.sub(lambda m: f'{m.group(1)}"{m.group(2)}"{m.group(3)}', text)


# --------------------------------------------------------------------------- running


def child_env() -> dict[str, str]:
    env = dict(os.environ)
    env.pop("GITHUB_ACTIONS", None)  # plain text output, as on a developer's machine
    env["NO_COLOR"] = "1"
    return env


def run(cmd: list[str], cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, cwd=cwd, env=child_env(), capture_output=True, text=True)


def fiml_json(fiml: str, target: Path | str, cwd: Path) -> tuple[int, dict]:
    proc = run([fiml, "validate", "--format", "json", str(target)], cwd)
    try:
        return proc.returncode, json.loads(proc.stdout)
    except json.JSONDecodeError:
        raise BenchError(
            f"fiml-cms validate {target} (exit {proc.returncode}) printed no JSON:\n{proc.stdout}{proc.stderr}"
        ) from None


def expect_findings(fiml: str, target: Path | str, cwd: Path, files: int, codes: dict[str, int]) -> None:
    """Abort unless fiml-cms checks `files` files and reports exactly `codes` (code -> count)."""
    rc, out = fiml_json(fiml, target, cwd)
    got: dict[str, int] = {}
    for f in out.get("findings", []):
        got[f["code"]] = got.get(f["code"], 0) + 1
    want_rc = 1 if codes else 0
    if rc != want_rc or out.get("files") != files or got != codes:
        shown = "\n".join(
            f"{f['file']}:{f['line']}:{f['column']}: {f['code']} {f['message']}"
            for f in out.get("findings", [])[:50]
        )
        raise BenchError(
            f"fiml-cms validate {target}: expected exit {want_rc}, {files} files, findings {codes or 'none'}; "
            f"got exit {rc}, {out.get('files')} files, findings {got or 'none'}\n{shown}"
        )


@dataclass
class Case:
    name: str
    cmd: list[str]
    cwd: Path
    goal: str = "—"
    times: list[float] = field(default_factory=list)
    exit_codes: set[int] = field(default_factory=set)
    expected_exit: int | None = None

    @property
    def median(self) -> float:
        return statistics.median(self.times)

    @property
    def best(self) -> float:
        return min(self.times)

    def once(self) -> float:
        start = time.perf_counter()
        proc = run(self.cmd, self.cwd)
        elapsed = time.perf_counter() - start
        self.exit_codes.add(proc.returncode)
        if self.expected_exit is not None and proc.returncode != self.expected_exit:
            raise BenchError(
                f"{self.name}: exit {proc.returncode}, expected {self.expected_exit}\n{proc.stdout[-3000:]}{proc.stderr[-3000:]}"
            )
        return elapsed


def time_cases(cases: list[Case], runs: int, warmup: int) -> None:
    for _ in range(warmup):
        for case in cases:
            case.once()
    for r in range(runs):
        order = cases[r % len(cases) :] + cases[: r % len(cases)]
        for case in order:
            case.times.append(case.once())
        print(f"  run {r + 1}/{runs} done", file=sys.stderr)


# --------------------------------------------------------------------------- reporting


def version_of(*names: str) -> str:
    for name in names:
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return "not installed"


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def git_state() -> str:
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=PROJECT, capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--", "fiml_cms"],
            cwd=PROJECT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        return f"{head}{' + uncommitted changes in fiml_cms/' if dirty else ''}"
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def fmt_s(x: float) -> str:
    return f"{x:.3f}"


def compile_bytecode() -> None:
    """Compile fiml_cms to bytecode first, as `pip install` does for an installed package.

    Every run of a command then starts from `__pycache__`, as it does on an author's machine and in
    pre-commit's environment. Without this, an editable checkout under PYTHONDONTWRITEBYTECODE=1
    (set on this machine) compiles every module from source on every run (~50 ms of each
    `fiml-cms validate`), which no installed copy ever does.
    """
    import fiml_cms

    package = Path(fiml_cms.__file__).parent
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(package)], check=True)


def machine_lines() -> list[str]:
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = os.cpu_count()
    nproc = (
        subprocess.run(["nproc"], capture_output=True, text=True).stdout.strip()
        if shutil.which("nproc")
        else str(usable)
    )
    return [
        f"- nproc: {nproc} (os.cpu_count: {os.cpu_count()})",
        f"- CPU: {cpu_model()}",
        f"- OS: {platform.platform()}",
        f"- Python: {platform.python_version()} ({platform.python_implementation()}, {sys.executable}); "
        "fiml_cms compiled to bytecode before timing, as an install does"
        f" (PYTHONDONTWRITEBYTECODE={os.environ.get('PYTHONDONTWRITEBYTECODE', 'unset')})",
        f"- fiml-cms: {version_of('fiml-cms')} (git {git_state()})",
        f"- jsonschema-rs: {version_of('jsonschema-rs', 'jsonschema_rs')}",
        f"- ruamel.yaml: {version_of('ruamel.yaml')}",
        f"- ruamel.yaml.clib: {version_of('ruamel.yaml.clib')}",
        f"- check-jsonschema: {version_of('check-jsonschema', 'check_jsonschema')}",
        f"- jsonschema: {version_of('jsonschema')}",
    ]


# --------------------------------------------------------------------------- main


def sibling_script(name: str) -> str:
    # No resolve(): a venv's python is a symlink, its scripts sit next to the link.
    candidate = Path(sys.executable).with_name(name)
    if candidate.exists():
        return str(candidate)
    found = shutil.which(name)
    if found:
        return found
    raise BenchError(
        f"{name} not found next to {sys.executable} nor on PATH (run `make bench`, or `.venv/bin/pip install check-jsonschema`)"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=5, help="timed runs per case (default 5)")
    parser.add_argument(
        "--warmup", type=int, default=1, help="untimed runs per case before timing (default 1)"
    )
    parser.add_argument("--count", type=int, default=1000, help="lessons to generate (default 1000)")
    parser.add_argument(
        "--repo-sizes",
        default="1000,10000",
        help="lesson counts of the big-repository cases, comma-separated ('' skips them)",
    )
    parser.add_argument(
        "--out",
        type=Path,
        help="folder to generate into (must be new or empty, outside the project); kept afterwards",
    )
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    parser.add_argument("--fiml-cms", default=None, help="fiml-cms script (default: next to this Python)")
    parser.add_argument(
        "--check-jsonschema", default=None, help="check-jsonschema script (default: next to this Python)"
    )
    args = parser.parse_args(argv)
    if args.runs < 1 or args.count < 1:
        parser.error("--runs and --count must be at least 1")

    try:
        fiml = args.fiml_cms or sibling_script("fiml-cms")
        cjs = args.check_jsonschema or sibling_script("check-jsonschema")
        if args.out:
            root = args.out.resolve()
            if root == PROJECT or PROJECT in root.parents:
                raise BenchError(
                    f"--out {root} is inside the project; the project's lessons would become context"
                )
            if root.exists() and any(root.iterdir()):
                raise BenchError(f"--out {root} is not empty")
            root.mkdir(parents=True, exist_ok=True)
        else:
            root = Path(tempfile.mkdtemp(prefix="fiml-bench-")).resolve()
            if PROJECT in root.parents:
                raise BenchError(f"temporary folder {root} is inside the project (TMPDIR?)")
        try:
            return bench(args, root, fiml, cjs)
        finally:
            if not args.out and not args.keep:
                shutil.rmtree(root, ignore_errors=True)
            else:
                print(f"\n(generated files kept in {root})", file=sys.stderr)
    except BenchError as exc:
        print(f"bench/validate.py: aborted: {exc}", file=sys.stderr)
        return 2


def bench(args: argparse.Namespace, root: Path, fiml: str, cjs: str) -> int:
    n = args.count
    markers = [
        p
        for d in (root, *root.parents)
        for p in (d / ".git", d / ".fiml-cms.toml", d / "pyproject.toml")
        if p.exists()
    ]
    if markers:
        print(
            f"warning: {markers[0]} above the temporary root: fiml-cms may find a repository there",
            file=sys.stderr,
        )

    compile_bytecode()
    # 1. generate and verify
    sources = read_sources()
    print(f"generating {n} lessons from {len(sources)} in {PROJECT_LESSONS} into {root} ...", file=sys.stderr)
    clean = generate(sources, n, root / "lessons")
    sizes = [p.stat().st_size for p in clean]
    copy_set(clean, root / "lessons_err", lambda i, t: inject_error(t) if i % ERROR_EVERY == 0 else t)
    n_err = len(range(0, n, ERROR_EVERY))

    # Single files, each alone in its folder (no context). The clean one is a generated copy
    # of a lesson without prerequisites, so it is valid on its own.
    def has_prerequisites(path: Path) -> bool:
        return rewrite_prerequisites(path.read_text(encoding="utf-8"), lambda p: p) != rewrite_prerequisites(
            path.read_text(encoding="utf-8"), lambda p: None
        )

    lone = next((p for p in clean if not has_prerequisites(p)), clean[0])
    lone_text = rewrite_prerequisites(lone.read_text(encoding="utf-8"), lambda p: None)
    (root / "single").mkdir()
    (root / "single_err").mkdir()
    single = root / "single" / lone.name
    single.write_text(lone_text, encoding="utf-8")
    single_err = root / "single_err" / lone.name
    single_err.write_text(inject_error(lone_text), encoding="utf-8")

    print("verifying the generated sets with fiml-cms ...", file=sys.stderr)
    expect_findings(fiml, root / "lessons", root, n, {})
    expect_findings(fiml, root / "lessons_err", root, n, {"FIML035": n_err})
    expect_findings(fiml, single, root, 1, {})
    expect_findings(fiml, single_err, root, 1, {"FIML035": 1})
    repo_rc, repo_out = fiml_json(fiml, REPO_SAMPLE, PROJECT)

    print("checking the generated set with check-jsonschema ...", file=sys.stderr)
    cjs_base = [cjs, "--schemafile", str(SCHEMA)]
    cj_plain = run(cjs_base + [str(p) for p in clean], root)
    cj_single_file = single
    cj_single = run(cjs_base + [str(single)], root)
    if cj_single.returncode != 0:  # as for the set: if quoting the dates makes it pass, time that copy
        (root / "single_quoted").mkdir()
        quoted_single = root / "single_quoted" / single.name
        quoted_single.write_text(quote_dates(single.read_text(encoding="utf-8")), encoding="utf-8")
        retry = run(cjs_base + [str(quoted_single)], root)
        if retry.returncode == 0:
            cj_single_file, cj_single = quoted_single, retry
    notes = []
    anchor_label, cj_quoted, quoted = "as generated", None, []
    if cj_plain.returncode != 0:
        quoted = copy_set(clean, root / "lessons_quoted", lambda i, t: quote_dates(t))
        cj_quoted = run(cjs_base + [str(p) for p in quoted], root)
        tail = (cj_plain.stdout + cj_plain.stderr).strip().splitlines()
        notes.append(
            f"check-jsonschema FAILED on the generated files (exit {cj_plain.returncode}); first lines:\n\n  ```text\n"
            + "\n".join("  " + t for t in tail[:12])
            + "\n  ```\n"
        )
        if cj_quoted.returncode == 0:
            anchor_label = "dates quoted"
            notes.append(
                "With changelog dates quoted it passes: that copy is the anchor for the ratio (both are timed)."
            )
        else:
            notes.append(
                f"It fails with dates quoted too (exit {cj_quoted.returncode}): the ratio uses the unquoted set; timings of a failing run."
            )

    # 2. time, alternating
    cases: list[Case] = []
    fiml_n = Case(
        f"fiml-cms validate DIR ({n} files, clean)",
        [fiml, "validate", str(root / "lessons")],
        root,
        goal=f"ratio >= {RATIO_GOAL:g}",
        expected_exit=0,
    )
    cases.append(fiml_n)
    cj_cases = []
    cj_main = Case(
        f"check-jsonschema ({n} files, as generated)",
        cjs_base + [str(p) for p in clean],
        root,
        expected_exit=cj_plain.returncode,
    )
    cases.append(cj_main)
    cj_cases.append(cj_main)
    if cj_quoted is not None:
        cj_q = Case(
            f"check-jsonschema ({n} files, dates quoted)",
            cjs_base + [str(p) for p in quoted],
            root,
            expected_exit=cj_quoted.returncode,
        )
        cases.append(cj_q)
        cj_cases.append(cj_q)
    anchor = cj_cases[-1] if anchor_label == "dates quoted" else cj_main
    fiml_err = Case(
        f"fiml-cms validate DIR ({n} files, {n_err} with answer: 7)",
        [fiml, "validate", str(root / "lessons_err")],
        root,
        expected_exit=1,
    )
    cases.append(fiml_err)
    one = Case(
        "fiml-cms validate FILE (1 file, clean)",
        [fiml, "validate", str(single)],
        root,
        goal=f"<= {SINGLE_GOAL_S} s",
        expected_exit=0,
    )
    one_err = Case(
        "fiml-cms validate FILE (1 file, 1 finding)",
        [fiml, "validate", str(single_err)],
        root,
        goal=f"<= {SINGLE_GOAL_S} s",
        expected_exit=1,
    )
    repo_one = Case(
        f"fiml-cms validate {REPO_SAMPLE} (in this repo, with its context)",
        [fiml, "validate", REPO_SAMPLE],
        PROJECT,
        goal=f"<= {SINGLE_GOAL_S} s",
        expected_exit=repo_rc,
    )
    cj_one = Case(
        f"check-jsonschema (1 file, clean{', dates quoted' if cj_single_file is not single else ''})",
        cjs_base + [str(cj_single_file)],
        root,
        expected_exit=cj_single.returncode,
    )
    cases += [one, one_err, repo_one, cj_one]

    print(
        f"timing {len(cases)} cases x {args.runs} runs (+{args.warmup} warm-up), alternating ...",
        file=sys.stderr,
    )
    time_cases(cases, args.runs, args.warmup)

    # 3. report
    def ratio(case: Case) -> str:
        if case in (fiml_n, fiml_err):
            return f"{anchor.median / case.median:.2f}x"
        if case in (one, one_err, repo_one):
            return f"{cj_one.median / case.median:.2f}x"
        return "—"

    def verdict(case: Case) -> str:
        if case is fiml_n:
            ok = anchor.median / case.median >= RATIO_GOAL
        elif case.goal.startswith("<="):
            ok = case.median <= SINGLE_GOAL_S
        else:
            return "—"
        return "pass" if ok else "FAIL"

    out = []
    out.append(f"## fiml-cms validate vs check-jsonschema ({n} lessons, {args.runs} runs each, median)")
    out.append("")
    out.append(
        f"Generated {n} lessons from {len(sources)} in `content/lessons` (sizes {min(sizes)}–{max(sizes)} B, mean {statistics.mean(sizes) / 1024:.1f} KB, total {sum(sizes) / 1024 / 1024:.2f} MB); "
        f"ratio = check-jsonschema median ({anchor_label}) / fiml-cms median; "
        f"for the one-file rows, against check-jsonschema on the same one clean file."
    )
    out.append("")
    out.append("| case | median s | min s | ratio | goal | pass/fail |")
    out.append("|---|---:|---:|---:|---|---|")
    for case in cases:
        out.append(
            f"| {case.name} | {fmt_s(case.median)} | {fmt_s(case.best)} | {ratio(case)} | {case.goal} | {verdict(case)} |"
        )
    out.append("")
    out.append("Notes:")
    out.append("")
    out.append(
        f"- fiml-cms verified before timing: {n} clean files -> 0 findings (exit 0); error set -> exactly {n_err} FIML035 (exit 1); "
        f"single clean -> 0; single with finding -> 1 FIML035."
    )
    cj_ok = "passed (exit 0)" if cj_plain.returncode == 0 else f"FAILED (exit {cj_plain.returncode})"
    out.append(
        f"- check-jsonschema on the generated files as written (unquoted `date: 2026-11-26`): {cj_ok}."
    )
    out.append(
        f"- check-jsonschema on the one clean file{' (dates quoted)' if cj_single_file is not single else ''}: "
        f"{'passed' if cj_single.returncode == 0 else 'FAILED'} (exit {cj_single.returncode})."
    )
    if cj_quoted is not None:
        out.append(
            f"- check-jsonschema with dates quoted: {'passed' if cj_quoted.returncode == 0 else 'FAILED'} (exit {cj_quoted.returncode})."
        )
    out.extend(f"- {note}" for note in notes)
    out.append(
        f"- per file (median / {n}): fiml-cms {fiml_n.median / n * 1000:.2f} ms clean, {fiml_err.median / n * 1000:.2f} ms error set; "
        f"check-jsonschema {anchor.median / n * 1000:.2f} ms."
    )
    out.append(
        f"- position pass cost (error set - clean set, medians): {fiml_err.median - fiml_n.median:+.3f} s for {n_err} files with a finding "
        f"({(fiml_err.median - fiml_n.median) / n_err * 1000:+.2f} ms each); single file: {one_err.median - one.median:+.3f} s."
    )
    out.append(
        f"- repo sample ({REPO_SAMPLE}, cwd {PROJECT}): {repo_out.get('files')} file checked, {repo_out.get('errors')} error(s), "
        f"{repo_out.get('warnings')} warning(s) (exit {repo_rc}); its context is the repository's other lessons and paths."
    )
    out.append(
        "- Wall time of the whole subprocess (interpreter start, imports, output captured through a pipe); cwd = the temporary root "
        "for the generated cases (not a repository: no context read); cases alternate round robin, order rotated each run."
    )
    sizes_wanted = [int(s) for s in args.repo_sizes.split(",") if s.strip()]
    repo_failed = bench_repositories(args, root, fiml, sources, sizes_wanted, out) if sizes_wanted else False
    out.append("")
    out.append("Machine:")
    out.append("")
    out.extend(machine_lines())
    sys.stderr.flush()
    print("\n".join(out), flush=True)
    failed = [c for c in cases if verdict(c) == "FAIL"]
    return 1 if failed or repo_failed else 0


GIT_ENV = {
    "GIT_AUTHOR_NAME": "Bench",
    "GIT_AUTHOR_EMAIL": "bench@example.invalid",
    "GIT_COMMITTER_NAME": "Bench",
    "GIT_COMMITTER_EMAIL": "bench@example.invalid",
    "GIT_AUTHOR_DATE": "2026-01-02T03:04:05+00:00",
    "GIT_COMMITTER_DATE": "2026-01-02T03:04:05+00:00",
    "GIT_CONFIG_GLOBAL": "/dev/null",
    "GIT_CONFIG_NOSYSTEM": "1",
}


def make_repository(sources: list[Source], count: int, root: Path) -> Path:
    """A committed git repository with `count` generated lessons in content/lessons; returns one lesson
    that has prerequisites (so its context matters)."""
    files = generate(sources, count, root / "content" / "lessons")
    (root / ".fiml-cms.toml").write_text("# defaults\n", encoding="utf-8")
    env = {**os.environ, **GIT_ENV}
    for args in (["init", "-q", "-b", "main"], ["add", "-A"], ["commit", "-q", "-m", "lessons"]):
        subprocess.run(["git", *args], cwd=root, env=env, check=True, capture_output=True)
    with_prerequisites = [
        p
        for p in files
        if PREREQ_LINE.search(p.read_text(encoding="utf-8"))
        and "prerequisites: []" not in p.read_text(encoding="utf-8")
    ]
    return (with_prerequisites or files)[len(with_prerequisites or files) // 2]


def bench_repositories(
    args: argparse.Namespace, root: Path, fiml: str, sources: list[Source], sizes: list[int], out: list[str]
) -> bool:
    """Issue 10.13: one file vs the whole repository, in repositories of each size; True if a goal failed."""
    rows = []
    failed = False
    for size in sizes:
        repo = root / f"repo_{size}"
        print(f"building a git repository of {size} lessons ...", file=sys.stderr)
        one = make_repository(sources, size, repo)
        relative = one.relative_to(repo).as_posix()
        start = time.perf_counter()
        cold = run([fiml, "validate", relative], repo)
        cold_s = time.perf_counter() - start
        if cold.returncode != 0:
            raise BenchError(
                f"validate {relative} in the {size}-lesson repository: exit {cold.returncode}\n{cold.stdout[-2000:]}{cold.stderr[-2000:]}"
            )
        whole = Case(
            f"`fiml-cms validate` ({size} lessons, the whole repository)",
            [fiml, "validate"],
            repo,
            expected_exit=0,
        )
        single = Case(
            f"`fiml-cms validate {relative}` ({size} lessons, one file, warm cache)",
            [fiml, "validate", relative],
            repo,
            expected_exit=0,
        )
        print(
            f"timing the {size}-lesson repository: 2 cases x {args.runs} runs (+{args.warmup} warm-up) ...",
            file=sys.stderr,
        )
        time_cases([whole, single], args.runs, args.warmup)
        goal = REPO_FILE_GOALS.get(size)
        verdict = "—" if goal is None else ("pass" if single.median <= goal else "FAIL")
        failed = failed or verdict == "FAIL"
        rows.append(f"| {whole.name} | {fmt_s(whole.median)} | {fmt_s(whole.best)} | — | — | — |")
        rows.append(
            f"| {single.name} | {fmt_s(single.median)} | {fmt_s(single.best)} | {whole.median / single.median:.2f}x | "
            f"{'<= ' + format(goal, 'g') + ' s' if goal else '—'} | {verdict} |"
        )
        rows.append(
            f"| the same file, first run (cold cache, fills it) | {fmt_s(cold_s)} | — | {whole.median / cold_s:.2f}x | — | — |"
        )
    out.append("")
    out.append(f"## One file in a big repository (issue 10.13; {args.runs} runs each, median)")
    out.append("")
    out.append(
        "Git repositories of generated lessons (as above), committed; ratio = the whole repository's median / this row's."
    )
    out.append("")
    out.append("| case | median s | min s | ratio | goal | pass/fail |")
    out.append("|---|---:|---:|---:|---|---|")
    out.extend(rows)
    return failed


if __name__ == "__main__":
    sys.exit(main())
