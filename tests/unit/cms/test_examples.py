"""The example files in tests/examples, run through the real CLI (`fiml_cms.cli.app`).

Layout
------
``invalid/<CODE>-<case>.yaml``
    One lesson file that breaks rule CODE, otherwise a valid lesson (based on the skeleton of
    ``fiml-cms new``). Its first lines are comments the test reads:

    ``# expect: FIML035 at 41:15``
        one line per finding the file must produce: the code and, where a position is
        meaningful, the exact line:column. Without ``at`` only the code is checked (and that
        line and column are >= 1).
    ``# file: NAME.yaml``
        optional: the name the file is validated under (the FIML030 example needs a name
        that differs from its id).
    ``# xfail: REASON``
        optional: a known validator bug; the example states the correct behaviour and the
        test is marked xfail (strict, so a fix shows up as XPASS and the marker is removed).
        ``# xfail-alone: REASON`` does the same for a cross-file case's one-file-at-a-time run only.

    Files that cannot hold a comment (a 0-byte file, whitespace only) have no header: the
    code is taken from the file name.

``invalid/<CODE>-<case>/lessons/*.yaml`` and ``.../paths/*.yaml``
    Cross-file rules (duplicate ids, prerequisites, paths). Every file carries its own
    ``# expect:`` lines; a file without any must produce no finding.

``valid/*.yaml`` and ``valid/paths/*.yaml``
    Lessons (and a path) exercising edge cases; they must produce no finding, even with --strict.

File names
----------
FIML030 requires the file name to equal the lesson id, and example names such as
``FIML035-answer-out-of-range`` cannot be ids. So each single-file example is copied into a
fresh repository as ``tmp_path/repo/content/lessons/<id>.yaml``, where ``<id>`` is the file's
top-level ``id:`` when that is a valid lesson id; a file without one (broken bytes aside, an
invalid id such as ``../../etc/x``, a top level that is not a mapping) keeps its own name, and
``# file:`` overrides both. That way each example shows exactly its own problem.

Every run has its working directory in that temporary repository (marked by a
``.fiml-cms.toml``), so the project's own ``content/`` is never read as context.

What is checked
---------------
* exit code 1 when an error is expected (0 when only warnings are, and 1 with --strict);
* the findings are exactly the expected ones: each ``# expect:`` consumes one finding with its
  code (and position); anything left over fails;
* text, json, github and sarif output report the same findings at the same lines and columns;
* no traceback, ever (``result.exception`` is None or SystemExit).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import pytest
from typer.testing import CliRunner

from fiml_cms.cli import app
from fiml_cms.findings import RULES, Severity
from testing.repo import PROJECT

HERE = PROJECT / "tests"
EXAMPLES = HERE / "examples"
INVALID = EXAMPLES / "invalid"
VALID = EXAMPLES / "valid"
RULES_DOC = HERE.parent / "docs" / "rules.md"

MIB = 1024 * 1024
FORMATS = ("json", "text", "github", "sarif")
#: The rules `fiml-cms validate` reports (one file, or a repository of files). FIML06x and FIML07x
#: compare a lesson with its git history (`fiml-cms check`, `archive --check`) and are tested with
#: real repositories elsewhere; docs/rules.md still documents every rule.
VALIDATE_RULES = {code: rule for code, rule in RULES.items() if int(code[4:]) < 60}
#: Rules shown by tests that build their input (too big to commit, or not a plain file).
GENERATED = {"FIML007": "test_file_over_one_mib", "FIML011": "test_symlink_outside_the_repository"}

runner = CliRunner()

_EXPECT = re.compile(r"^#\s*expect:\s*(FIML\d{3})(?:\s+at\s+(\d+):(\d+))?\s*$")
_FILE = re.compile(r"^#\s*file:\s*(\S+)\s*$")
_XFAIL = re.compile(r"^#\s*xfail:\s*(.+?)\s*$")
_XFAIL_ALONE = re.compile(r"^#\s*xfail-alone:\s*(.+?)\s*$")
_TOP_LEVEL_ID = re.compile(r"""^id:[ \t]*(["']?)([a-z][a-z0-9_]{2,63})\1[ \t]*(?:#.*)?$""", re.M)
_CODE_IN_NAME = re.compile(r"^(FIML\d{3})-")


# --- reading the examples -------------------------------------------------------------------


@dataclass(frozen=True)
class Expect:
    code: str
    line: int | None = None
    column: int | None = None

    def matches(self, finding: Finding) -> bool:
        return finding.code == self.code and (
            self.line is None or (finding.line, finding.column) == (self.line, self.column)
        )

    def __str__(self) -> str:
        return self.code if self.line is None else f"{self.code} at {self.line}:{self.column}"


@dataclass(frozen=True)
class Header:
    expects: tuple[Expect, ...]
    file: str | None
    xfail: str | None
    xfail_alone: str | None = None


@dataclass(frozen=True, order=True)
class Finding:
    file: str
    code: str
    line: int
    column: int
    severity: str


def _text_of(data: bytes) -> str:
    return data.removeprefix(b"\xef\xbb\xbf").decode("utf-8", errors="replace")


def read_header(path: Path) -> Header:
    """The `# expect:` / `# file:` / `# xfail:` comments at the top of an example file."""
    expects, file, xfail, xfail_alone = [], None, None, None
    for line in _text_of(path.read_bytes()).splitlines():
        if not line.startswith("#"):
            break
        if m := _EXPECT.match(line):
            expects.append(Expect(m[1], int(m[2]) if m[2] else None, int(m[3]) if m[3] else None))
        elif m := _FILE.match(line):
            file = m[1]
        elif m := _XFAIL.match(line):
            xfail = m[1]
        elif m := _XFAIL_ALONE.match(line):
            xfail_alone = m[1]
    return Header(tuple(expects), file, xfail, xfail_alone)


def code_of(name: str) -> str:
    m = _CODE_IN_NAME.match(name)
    assert m, f"{name}: example names start with the rule code, e.g. FIML035-answer-out-of-range"
    return m[1]


def single_file_examples() -> list[Path]:
    return sorted(p for p in INVALID.iterdir() if p.is_file() and p.suffix == ".yaml")


def folder_examples() -> list[Path]:
    return sorted(p for p in INVALID.iterdir() if p.is_dir())


def folder_files(folder: Path) -> list[Path]:
    return sorted(
        p
        for sub in ("lessons", "paths")
        if (folder / sub).is_dir()
        for p in (folder / sub).iterdir()
        if p.is_file()
    )


def valid_examples() -> list[Path]:
    return sorted(VALID.glob("*.yaml"))


def _params(paths: list[Path], xfail_of) -> list:
    out = []
    for path in paths:
        reason = xfail_of(path)
        marks = [pytest.mark.xfail(reason=f"validator bug: {reason}", strict=True)] if reason else []
        out.append(pytest.param(path, id=path.name, marks=marks))
    return out


def _folder_xfail(folder: Path) -> str | None:
    return next((h.xfail for h in map(read_header, folder_files(folder)) if h.xfail), None)


def _folder_xfail_alone(folder: Path) -> str | None:
    return _folder_xfail(folder) or next(
        (h.xfail_alone for h in map(read_header, folder_files(folder)) if h.xfail_alone), None
    )


def lesson_name(path: Path, header: Header) -> str:
    """The name to validate a single-file example under (see the module docstring)."""
    if header.file:
        return header.file
    m = _TOP_LEVEL_ID.search(_text_of(path.read_bytes()))
    return f"{m[2]}.yaml" if m else path.name


# --- running the CLI ------------------------------------------------------------------------


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty content repository (root marked by .fiml-cms.toml); cwd is set to it."""
    root = tmp_path / "repo"
    (root / "content" / "lessons").mkdir(parents=True)
    (root / "content" / "paths").mkdir(parents=True)
    (root / ".fiml-cms.toml").write_text("# defaults: content/lessons, content/paths\n", encoding="utf-8")
    monkeypatch.chdir(root)
    return root


def invoke(*args: str):
    result = runner.invoke(app, list(args), env={"GITHUB_ACTIONS": "false", "NO_COLOR": "1"})
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        import traceback

        detail = (
            "".join(traceback.format_exception(*result.exc_info))
            if result.exc_info
            else repr(result.exception)
        )
        pytest.fail(f"fiml-cms {' '.join(args)} raised instead of reporting:\n{detail}")
    assert "Traceback" not in result.output, result.output
    return result


def validate(*args: str, fmt: str = "json", strict: bool = False):
    return invoke("validate", *args, "--format", fmt, *(["--strict"] if strict else []))


_TEXT_LINE = re.compile(
    r"^(?P<file>.+?):(?P<line>\d+):(?P<col>\d+): (?P<sev>error|warning) (?P<code>FIML\d{3}) .+ \[\$.*\]$"
)
_TEXT_SUMMARY = re.compile(
    r"^(?P<files>\d+) files? checked: (?P<errors>\d+) error\(s\), (?P<warnings>\d+) warning\(s\)$"
)
_GITHUB_LINE = re.compile(
    r"^::(?P<sev>error|warning) file=(?P<file>[^,]*),line=(?P<line>\d+),col=(?P<col>\d+),title=(?P<code>FIML\d{3})::.+$"
)


def parse(output: str, fmt: str) -> tuple[list[Finding], tuple[int, int] | None]:
    """Findings (and the error/warning counts where the format states them) from one output."""
    if fmt == "json":
        doc = json.loads(output)
        findings = [
            Finding(f["file"], f["code"], f["line"], f["column"], f["severity"]) for f in doc["findings"]
        ]
        for f in doc["findings"]:
            assert f["message"] and f["path"].startswith("$"), f
            assert f["severity"] == RULES[f["code"]].severity.value, f
        return findings, (doc["errors"], doc["warnings"])
    if fmt == "sarif":
        doc = json.loads(output)
        assert doc["version"] == "2.1.0"
        (run,) = doc["runs"]
        rule_ids = [r["id"] for r in run["tool"]["driver"]["rules"]]
        findings = []
        for r in run["results"]:
            assert rule_ids[r["ruleIndex"]] == r["ruleId"]
            (loc,) = r["locations"]
            region = loc["physicalLocation"]["region"]
            findings.append(
                Finding(
                    loc["physicalLocation"]["artifactLocation"]["uri"],
                    r["ruleId"],
                    region["startLine"],
                    region["startColumn"],
                    r["level"],
                )
            )
        return findings, None
    lines = [line for line in output.splitlines() if line.strip()]
    if fmt == "text":
        *body, summary = lines
        m = _TEXT_SUMMARY.match(summary)
        assert m, f"no summary line in text output:\n{output}"
        findings = []
        for line in body:
            f = _TEXT_LINE.match(line)
            assert f, f"unexpected text output line: {line!r}"
            findings.append(Finding(f["file"], f["code"], int(f["line"]), int(f["col"]), f["sev"]))
        return findings, (int(m["errors"]), int(m["warnings"]))
    assert fmt == "github"
    findings = []
    for line in lines:
        f = _GITHUB_LINE.match(line)
        assert f, f"unexpected github output line: {line!r}"
        findings.append(Finding(f["file"], f["code"], int(f["line"]), int(f["col"]), f["sev"]))
    return findings, None


def findings_of(*args: str) -> tuple[list[Finding], int]:
    result = validate(*args)
    findings, _ = parse(result.stdout, "json")
    return findings, result.exit_code


def assert_exactly(findings: list[Finding], expects: list[Expect], where: str) -> None:
    """Each expectation consumes one matching finding (positioned ones first); none may be left."""
    left = list(findings)
    missing = []
    for expect in sorted(expects, key=lambda e: e.line is None):
        hit = next((f for f in left if expect.matches(f)), None)
        if hit is None:
            missing.append(str(expect))
        else:
            left.remove(hit)
    got = ", ".join(f"{f.code} at {f.line}:{f.column}" for f in findings) or "no finding"
    assert not missing and not left, (
        f"{where}: expected {', '.join(map(str, expects)) or 'no finding'}; got {got}"
    )
    for f in findings:
        assert f.line >= 1 and f.column >= 1, f"{where}: {f.code} has no position ({f.line}:{f.column})"


def assert_exit_code(result_code: int, codes: list[str], strict: bool) -> None:
    has_error = any(RULES[c].severity is Severity.ERROR for c in codes)
    assert result_code == (1 if has_error or (strict and codes) else 0)


def assert_formats_agree(*args: str) -> None:
    """text, github and sarif report the same findings, at the same positions, as json."""
    outputs = {fmt: validate(*args, fmt=fmt) for fmt in FORMATS}
    codes = {fmt: r.exit_code for fmt, r in outputs.items()}
    assert len(set(codes.values())) == 1, codes
    reference, counts = parse(outputs["json"].stdout, "json")
    assert counts == (
        sum(f.severity == "error" for f in reference),
        sum(f.severity == "warning" for f in reference),
    )
    for fmt in FORMATS[1:]:
        found, fmt_counts = parse(outputs[fmt].stdout, fmt)
        assert Counter(found) == Counter(reference), f"{fmt} output differs from json:\n{outputs[fmt].stdout}"
        if fmt_counts is not None:
            assert fmt_counts == counts


def install_single(repo: Path, example: Path) -> str:
    """Copy a single-file example into the repository; return its path as given to the CLI."""
    name = lesson_name(example, read_header(example))
    shutil.copyfile(example, repo / "content" / "lessons" / name)
    return f"content/lessons/{name}"


def install_folder(repo: Path, folder: Path) -> dict[str, Path]:
    """Copy a cross-file example; return {display name: example file}."""
    installed = {}
    for path in folder_files(folder):
        target = f"content/{path.parent.name}/{path.name}"
        shutil.copyfile(path, repo / target)
        installed[target] = path
    return installed


# --- the catalogue is covered ---------------------------------------------------------------


def test_every_rule_has_an_example() -> None:
    shown = {code_of(p.name) for p in single_file_examples() + folder_examples()} | set(GENERATED)
    assert not shown - set(VALIDATE_RULES), (
        f"examples named after unknown codes: {sorted(shown - set(VALIDATE_RULES))}"
    )
    assert not set(VALIDATE_RULES) - shown, (
        f"rules without an example in {INVALID}: {sorted(set(VALIDATE_RULES) - shown)}"
    )


def test_every_example_expects_its_own_code() -> None:
    for path in single_file_examples():
        header = read_header(path)
        codes = [e.code for e in header.expects] or [code_of(path.name)]
        assert code_of(path.name) in codes, f"{path.name} does not expect {code_of(path.name)}"
        assert set(codes) <= set(RULES), path.name
    for folder in folder_examples():
        codes = [e.code for p in folder_files(folder) for e in read_header(p).expects]
        assert code_of(folder.name) in codes, f"{folder.name}: no file expects {code_of(folder.name)}"


def test_rules_doc_lists_every_rule() -> None:
    doc = RULES_DOC.read_text(encoding="utf-8")
    for rule in RULES.values():
        assert re.search(
            rf"^\|\s*`?{rule.code}`?\s*\|\s*`?{re.escape(rule.name)}`?\s*\|\s*{rule.severity.value}\s*\|",
            doc,
            re.M,
        ), f"{rule.code} is not in the table of {RULES_DOC.name}"
        assert re.search(rf"^##+ {rule.code}\b", doc, re.M), f"{rule.code} has no section in {RULES_DOC.name}"


# --- invalid examples -----------------------------------------------------------------------


@pytest.mark.parametrize("example", _params(single_file_examples(), lambda p: read_header(p).xfail))
def test_invalid_example(repo: Path, example: Path) -> None:
    header = read_header(example)
    expects = list(header.expects) or [Expect(code_of(example.name))]
    target = install_single(repo, example)

    findings, exit_code = findings_of(target)

    assert_exactly(findings, expects, example.name)
    assert {f.file for f in findings} == {target}
    assert_exit_code(exit_code, [e.code for e in expects], strict=False)
    assert_exit_code(validate(target, strict=True).exit_code, [e.code for e in expects], strict=True)


@pytest.mark.parametrize("example", _params(single_file_examples(), lambda p: None))
def test_invalid_example_same_positions_in_every_format(repo: Path, example: Path) -> None:
    assert_formats_agree(install_single(repo, example))


@pytest.mark.parametrize("example", _params(single_file_examples(), lambda p: None))
def test_invalid_example_with_crlf_line_ends(repo: Path, example: Path) -> None:
    """The same file with Windows line ends gives the same findings at the same positions."""
    target = install_single(repo, example)
    reference, _ = findings_of(target)
    path = repo / target
    path.write_bytes(path.read_bytes().replace(b"\r\n", b"\n").replace(b"\n", b"\r\n"))
    assert findings_of(target)[0] == reference


@pytest.mark.parametrize("folder", _params(folder_examples(), _folder_xfail))
def test_cross_file_example(repo: Path, folder: Path) -> None:
    installed = install_folder(repo, folder)
    findings, exit_code = findings_of()  # the whole repository, as `make run` and CI do

    expected_codes = []
    for display, source in installed.items():
        expects = list(read_header(source).expects)
        expected_codes += [e.code for e in expects]
        assert_exactly(
            [f for f in findings if f.file == display],
            expects,
            f"{folder.name}/{source.parent.name}/{source.name}",
        )
    assert {f.file for f in findings} <= set(installed)
    assert_exit_code(exit_code, expected_codes, strict=False)
    assert_exit_code(validate(strict=True).exit_code, expected_codes, strict=True)


@pytest.mark.parametrize("folder", _params(folder_examples(), _folder_xfail_alone))
def test_cross_file_example_one_file_at_a_time(repo: Path, folder: Path) -> None:
    """Given one file (as pre-commit passes changed files), the rest is context: same findings."""
    installed = install_folder(repo, folder)
    for display, source in installed.items():
        alone, exit_code = findings_of(display)
        expects = list(read_header(source).expects)
        assert_exactly(alone, expects, f"validate {display}")
        assert_exit_code(exit_code, [e.code for e in expects], strict=False)


@pytest.mark.parametrize("folder", _params(folder_examples(), lambda p: None))
def test_cross_file_example_same_positions_in_every_format(repo: Path, folder: Path) -> None:
    install_folder(repo, folder)
    assert_formats_agree()


# --- generated inputs: too big to commit, or not plain files --------------------------------


def _new_lesson(lesson_id: str) -> Path:
    """A lesson skeleton written by `fiml-cms new` (in the current repository)."""
    result = invoke("new", lesson_id, "--title", "Generated lesson")
    assert result.exit_code == 0, result.output
    return Path("content/lessons") / f"{lesson_id}.yaml"


@pytest.mark.parametrize(
    "size, code", [(MIB, None), (MIB + 1, "FIML007")], ids=["exactly-1-MiB", "1-MiB-plus-one-byte"]
)
def test_file_over_one_mib(repo: Path, size: int, code: str | None) -> None:
    path = _new_lesson("big_lesson")
    data = path.read_bytes()
    filler = b"# padding to reach the size limit of lesson files\n"
    data += filler * ((size - len(data)) // len(filler))
    data += b"#" * (size - len(data) - 1) + b"\n"
    assert len(data) == size
    path.write_bytes(data)

    findings, exit_code = findings_of(path.as_posix())
    assert_exactly(findings, [Expect(code, 1, 1)] if code else [], f"{size} bytes")
    assert exit_code == (1 if code else 0)
    assert_formats_agree(path.as_posix())


symlinks = pytest.mark.skipif(sys.platform == "win32", reason="symlinks need privileges on Windows")


def _outside_symlink(repo: Path) -> str:
    """content/lessons/linked_lesson.yaml -> a valid lesson outside the repository."""
    source = _new_lesson("linked_lesson")
    outside = repo.parent / "outside" / "linked_lesson.yaml"
    outside.parent.mkdir()
    shutil.move(source, outside)
    source.symlink_to(os.path.relpath(outside, source.parent))
    assert (repo / source).read_text(encoding="utf-8").startswith("#")  # the link works
    return source.as_posix()


@symlinks
@pytest.mark.parametrize(
    "how",
    ["repository", "folder", "file"],
)
def test_symlink_outside_the_repository(repo: Path, how: str) -> None:
    link = _outside_symlink(repo)
    args = {"repository": (), "folder": ("content/lessons",), "file": (link,)}[how]
    findings, exit_code = findings_of(*args)
    assert_exactly(findings, [Expect("FIML011", 1, 1)], link)
    assert findings[0].file == link
    assert exit_code == 1
    assert_formats_agree(*args)


@symlinks
def test_dangling_symlink(repo: Path) -> None:
    link = repo / "content" / "lessons" / "gone_lesson.yaml"
    link.symlink_to("no_such_file.yaml")
    findings, exit_code = findings_of("content/lessons/gone_lesson.yaml")
    assert_exactly(findings, [Expect("FIML011", 1, 1)], link.name)
    assert exit_code == 1


@symlinks
def test_symlink_inside_the_repository_is_read(repo: Path) -> None:
    shared = repo / "shared"
    shared.mkdir()
    source = _new_lesson("shared_lesson")
    shutil.move(source, shared / "shared_lesson.yaml")
    source.symlink_to(os.path.relpath(shared / "shared_lesson.yaml", source.parent))
    for args in [(), (source.as_posix(),)]:
        findings, exit_code = findings_of(*args)
        assert findings == [] and exit_code == 0


# --- valid examples -------------------------------------------------------------------------


def _install_valid(repo: Path) -> None:
    for path in valid_examples():
        shutil.copyfile(path, repo / "content" / "lessons" / path.name)
    for path in sorted((VALID / "paths").glob("*.yaml")):
        shutil.copyfile(path, repo / "content" / "paths" / path.name)


@pytest.mark.parametrize("example", valid_examples(), ids=lambda p: p.name)
def test_valid_example(repo: Path, example: Path) -> None:
    _install_valid(repo)  # the other valid examples are context (prerequisites, paths)
    target = f"content/lessons/{example.name}"
    for fmt in FORMATS:
        result = validate(target, fmt=fmt, strict=True)
        assert result.exit_code == 0, result.stdout
        findings, counts = parse(result.stdout, fmt)
        assert findings == [] and counts in (None, (0, 0)), result.stdout
    assert "1 file checked: 0 error(s), 0 warning(s)" in validate(target, fmt="text").stdout


def test_valid_examples_together(repo: Path) -> None:
    _install_valid(repo)
    result = validate(fmt="text", strict=True)
    assert result.exit_code == 0, result.stdout
    assert result.stdout.strip() == f"{len(valid_examples()) + 1} files checked: 0 error(s), 0 warning(s)"


def test_valid_examples_cover_every_section_and_question_type() -> None:
    text = "\n".join(p.read_text(encoding="utf-8") for p in valid_examples())
    for kind in ("text", "key_points", "live_example", "chart", "multiple_choice", "true_false", "numeric"):
        assert re.search(rf"\btype: {kind}\b", text), kind
    for feature in (
        r"\^GSPC",
        r"^yanked:",
        r"^replaces: \[\w",
        r"date: \d{4}-\d\d-\d\d\b",
        r"^retired: true",
    ):
        assert re.search(feature, text, re.M), feature
