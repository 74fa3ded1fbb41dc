"""SQL over the progress store lives in `fiml_bot/storage/` (issue 23): ops and adapters call its query
modules, they do not write statements.

The scan reads the source with `ast`: a call of `text(...)` or `.exec_driver_sql(...)`, or a string
(f-string parts included, docstrings excluded) that reads as a SQL statement, outside storage/ is a
finding; so is an import of storage's models by a module not allowed to query its own table.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import fiml_bot
import fiml_cms

BOT = Path(fiml_bot.__file__).parent
CMS = Path(fiml_cms.__file__).parent
STORAGE = BOT / "storage"

STATEMENT = re.compile(
    r"\b(SELECT\s+\S|INSERT\s+INTO|UPDATE\s+\S+\s+(AS\s+\S+\s+)?SET|DELETE\s+FROM|"
    r"(CREATE|ALTER|DROP|COMMENT\s+ON)\s+(TABLE|SCHEMA|DATABASE|INDEX)|PRAGMA\s|ATTACH\s+DATABASE|"
    r"DETACH\s+DATABASE|LOCK\s+TABLE|SHOW\s+\w|SET\s+TRANSACTION)"
)

# (module, what it may say, why): each is about a file or a connection, not the progress tables.
ALLOWED_SQL = {
    (
        "fiml_bot/ops/snapshots.py",
        "PRAGMA journal_mode = DELETE",
    ): "the snapshot copy's own file mode, on sqlite3's backup",
}
# Modules outside storage/ that query one table of their own with SQLAlchemy Core (not the progress
# tables): the encrypted provider keys and the shared send budget.
OWN_TABLES = {
    "fiml_bot/keys/health.py": {"ProviderKeyRow"},
    "fiml_bot/keys/vault.py": {"ProviderKeyRow"},
    "fiml_bot/adapters/sql_budget.py": {"SendBudgetRow"},
}


def _modules() -> list[Path]:
    return sorted(
        path
        for root in (BOT, CMS)
        for path in root.rglob("*.py")
        if STORAGE not in path.parents and "migrations" not in path.parts
    )


def _name(path: Path) -> str:
    return path.relative_to(BOT.parent).as_posix()


def _docstrings(tree: ast.AST) -> set[int]:
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                found.add(id(body[0].value))
    return found


def _sqlalchemy_names(tree: ast.AST) -> tuple[set[str], set[str]]:
    """The local names of `sqlalchemy.text`, and of the `sqlalchemy` module, in one module."""
    texts: set[str] = set()
    modules: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("sqlalchemy"):
            texts |= {a.asname or a.name for a in node.names if a.name == "text"}
        elif isinstance(node, ast.Import):
            modules |= {a.asname or a.name for a in node.names if a.name == "sqlalchemy"}
    return texts, modules


def sql_findings(path: Path, name: str | None = None) -> list[str]:
    """`module:line: what` for each SQL statement or raw-SQL call in one module (named `name`)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skip = _docstrings(tree)
    name = name or _name(path)
    texts, modules = _sqlalchemy_names(tree)
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            func = node.func
            if isinstance(func, ast.Name) and func.id in texts:
                found.append(f"{name}:{node.lineno}: text(...)")
            elif isinstance(func, ast.Attribute) and (
                func.attr == "exec_driver_sql"
                or (func.attr == "text" and isinstance(func.value, ast.Name) and func.value.id in modules)
            ):
                found.append(f"{name}:{node.lineno}: {func.attr}(...)")
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in skip:
            match = STATEMENT.search(node.value)
            if match and not any(name == m and allowed in node.value for m, allowed in ALLOWED_SQL):
                found.append(f"{name}:{node.lineno}: {node.value[:60]!r}")
    return found


def model_findings(path: Path) -> list[str]:
    """Imports of storage's models outside storage/, beyond a module's own table."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    name = _name(path)
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").endswith("storage.models"):
            extra = {a.name for a in node.names} - OWN_TABLES.get(name, set())
            if extra:
                found.append(f"{name}:{node.lineno}: imports {sorted(extra)} from storage.models")
    return found


def test_no_module_outside_storage_writes_sql() -> None:
    modules = _modules()
    assert len(modules) > 100  # the scan found the packages
    assert [f for path in modules for f in sql_findings(path)] == []


def test_only_the_own_table_adapters_import_the_models() -> None:
    assert [f for path in _modules() for f in model_findings(path)] == []


def test_the_scan_finds_what_it_looks_for(tmp_path: Path) -> None:
    """The scan is not vacuous: each form of SQL it forbids is found, docstrings are not."""
    source = tmp_path / "sample.py"
    source.write_text(
        '"""SELECT x FROM y in a docstring is prose."""\n'
        "from sqlalchemy import text\n"
        "def a(c, t):\n"
        '    c.execute(text("SELECT count(*) FROM learners"))\n'
        '    c.exec_driver_sql("VACUUM")\n'
        '    c.execute("PRAGMA journal_mode = DELETE")\n'
        '    return f"INSERT INTO {t} (key) VALUES (1)"\n',
        encoding="utf-8",
    )
    found = sorted(line.split(": ", 1)[1] for line in sql_findings(source, "fiml_bot/ops/sample.py"))
    assert found == sorted(
        [
            "text(...)",
            "'SELECT count(*) FROM learners'",
            "exec_driver_sql(...)",
            "'PRAGMA journal_mode = DELETE'",  # allowed in snapshots.py only
            "'INSERT INTO '",
        ]
    )
    assert "'PRAGMA journal_mode = DELETE'" not in str(sql_findings(source, "fiml_bot/ops/snapshots.py"))
