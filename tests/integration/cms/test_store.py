"""ContentStore on real git repositories made in tmp_path, and on an archive folder without `.git`."""

from __future__ import annotations

import random
import re
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from typer.testing import CliRunner

from fiml_cms import yamlfile
from fiml_cms.cli import app
from fiml_cms.config import load_settings
from fiml_cms.errors import ContentError
from fiml_cms.gitrepo import GitRepo
from fiml_cms.store import ArchiveBackend, ContentStore, GitBackend
from testing.cli import cli
from testing.repo import commit_all, git

runner = CliRunner()
LESSONS = Path("content/lessons")
MARKET = "what_is_a_market"


def lesson_file(root: Path, lesson_id: str) -> Path:
    return root / LESSONS / f"{lesson_id}.yaml"


def set_version(
    root: Path, lesson_id: str, version: str, yanked: tuple[str, ...] = (), path: Path | None = None
) -> None:
    """What `fiml-cms bump` writes: the new version and a changelog entry; optionally a `yanked` list."""
    path = path or lesson_file(root, lesson_id)
    text = yamlfile.bump_text(path.read_text(encoding="utf-8"), version, "2026-12-15", [f"Release {version}"])
    text = re.sub(r"^yanked:.*\n", "", text, flags=re.M)
    if yanked:
        text = text.replace(
            "\nretired: false\n", f"\nretired: false\nyanked: [{', '.join(repr(v) for v in yanked)}]\n", 1
        )
    path.write_text(text, encoding="utf-8")


def release(root: Path, lesson_id: str, version: str, yanked: tuple[str, ...] = ()) -> None:
    """Commit a new version of a lesson and publish it with `fiml-cms tag`."""
    set_version(root, lesson_id, version, yanked)
    commit_all(root, f"{lesson_id} {version}")
    tag(lesson_id)


def tag(lesson_id: str) -> None:
    result = cli("tag", lesson_id)
    assert result.exit_code == 0, result.output


def open_git(root: Path) -> tuple[ContentStore, GitBackend]:
    backend = GitBackend(GitRepo(root), load_settings(root))
    return ContentStore(backend), backend


# --------------------------------------------------------------------------- lookups


def test_versions_in_semver_order_and_latest(git_repo: Path) -> None:
    tag(MARKET)
    release(git_repo, MARKET, "1.9.0")
    release(git_repo, MARKET, "1.10.0")
    store = ContentStore.open(git_repo)
    assert store.versions(MARKET) == ["1.0.0", "1.9.0", "1.10.0"]
    assert [p.version for p in store.published(MARKET)] == ["1.0.0", "1.9.0", "1.10.0"]
    assert [p.tag for p in store.published(MARKET)] == [
        f"lesson/{MARKET}/v{v}" for v in ("1.0.0", "1.9.0", "1.10.0")
    ]
    latest = store.latest(MARKET)
    assert latest.version == "1.10.0" and latest.id == MARKET
    assert store.latest_any(MARKET) is latest
    assert store.get(MARKET, "1.9.0").version == "1.9.0"
    assert store.get(MARKET, "1.0.0").changelog[0].version == "1.0.0"
    assert store.ids() == [MARKET]  # only published lessons


def test_yanked_versions_stay_readable_but_are_never_latest(git_repo: Path) -> None:
    tag(MARKET)
    release(git_repo, MARKET, "1.1.0")
    release(git_repo, MARKET, "1.1.1", yanked=("1.1.0",))
    store = ContentStore.open(git_repo)
    assert store.versions(MARKET) == ["1.0.0", "1.1.0", "1.1.1"]
    assert store.latest(MARKET).version == "1.1.1"
    assert store.is_yanked(MARKET, "1.1.0") and not store.is_yanked(MARKET, "1.0.0")
    assert store.get(MARKET, "1.1.0").version == "1.1.0"  # a learner pinned to it can still finish


def test_ids_match_exactly(content_repo: Path) -> None:
    git(content_repo, "init", "-q", "-b", "main")
    for lesson_id, title in (("intro", "Intro"), ("intro_advanced", "Intro, advanced")):
        result = cli("new", lesson_id, "--title", title)
        assert result.exit_code == 0, result.output
    commit_all(content_repo, "two intros")
    tag("intro_advanced")
    set_version(content_repo, "intro_advanced", "1.1.0")
    commit_all(content_repo, "intro_advanced 1.1.0")
    tag("intro_advanced")
    tag("intro")
    store = ContentStore.open(content_repo)
    assert store.ids() == ["intro", "intro_advanced"]
    assert store.versions("intro") == ["1.0.0"]
    assert store.versions("intro_advanced") == ["1.0.0", "1.1.0"]
    assert store.latest("intro").id == "intro"
    assert store.latest("intro_advanced").id == "intro_advanced"
    for prefix in ("intr", "intro_", "intro_adv"):
        with pytest.raises(ContentError, match=f"unknown lesson '{prefix}'"):
            store.get(prefix, "1.0.0")


def test_refresh_picks_up_a_new_tag_and_keeps_parsed_lessons(git_repo: Path) -> None:
    tag(MARKET)
    store = ContentStore.open(git_repo)
    first = store.latest(MARKET)
    assert first.version == "1.0.0"
    release(git_repo, MARKET, "1.1.0")
    assert store.versions(MARKET) == ["1.0.0"] and store.latest(MARKET) is first  # not yet
    store.refresh()
    assert store.versions(MARKET) == ["1.0.0", "1.1.0"]
    assert store.latest(MARKET).version == "1.1.0"
    assert store.get(MARKET, "1.0.0") is first  # parsed lessons survive a refresh


def test_cache_hit_returns_the_identical_object(git_repo: Path) -> None:
    tag(MARKET)
    tag("risk_and_return")
    store = ContentStore.open(git_repo)
    a = store.get(MARKET, "1.0.0")
    assert store.get(MARKET, "1.0.0") is a
    assert store.latest(MARKET) is a
    assert store.get("risk_and_return", "1.0.0") is not a


def test_lesson_under_a_numbered_legacy_file_name(git_repo: Path) -> None:
    legacy = git_repo / LESSONS / f"01_{MARKET}.yaml"
    git(git_repo, "mv", str(lesson_file(git_repo, MARKET)), str(legacy))
    old = commit_all(git_repo, "legacy numbered file names")
    git(git_repo, "tag", "-a", f"lesson/{MARKET}/v1.0.0", "-m", "1.0.0", old)
    git(git_repo, "mv", str(legacy), str(lesson_file(git_repo, MARKET)))
    set_version(git_repo, MARKET, "1.1.0")
    commit_all(git_repo, "file named after its id")
    tag(MARKET)
    store = ContentStore.open(git_repo)
    assert store.versions(MARKET) == ["1.0.0", "1.1.0"]
    assert store.get(MARKET, "1.0.0").version == "1.0.0"
    assert store.latest(MARKET).version == "1.1.0"


def test_untagged_version_found_in_the_file_history(git_repo: Path) -> None:
    tag(MARKET)
    set_version(git_repo, MARKET, "1.1.0")
    middle = commit_all(git_repo, "1.1.0, never tagged")
    (git_repo / "notes.txt").write_text("unrelated\n", encoding="utf-8")
    commit_all(git_repo, "unrelated change")
    release(git_repo, MARKET, "1.2.0")
    store, backend = open_git(git_repo)
    assert store.versions(MARKET) == ["1.0.0", "1.2.0"]
    lesson = store.get(MARKET, "1.1.0")
    assert lesson.version == "1.1.0" and lesson.changelog[0].changes == ("Release 1.1.0",)
    assert store.get(MARKET, "1.1.0") is lesson
    found = backend.history(MARKET)
    assert sorted(found) == ["1.0.0", "1.1.0", "1.2.0"]
    assert found["1.1.0"].commit == middle and found["1.1.0"].tag is None
    with pytest.raises(ContentError, match=r"has no version 1\.3\.0 \(published: 1\.0\.0, 1\.2\.0\)"):
        store.get(MARKET, "1.3.0")


# --------------------------------------------------------------------------- errors


def test_unknown_lesson_and_unknown_version(git_repo: Path) -> None:
    tag(MARKET)
    store = ContentStore.open(git_repo)
    for call in (
        lambda: store.get("no_such_lesson", "1.0.0"),
        lambda: store.latest("no_such_lesson"),
        lambda: store.versions("no_such_lesson"),
    ):
        with pytest.raises(ContentError, match="unknown lesson 'no_such_lesson'"):
            call()
    with pytest.raises(
        ContentError, match=rf"lesson '{MARKET}' has no version 9\.9\.9 \(published: 1\.0\.0\)"
    ):
        store.get(MARKET, "9.9.9")
    with pytest.raises(ContentError, match="unknown lesson 'risk_and_return'"):  # a file, but never published
        store.get("risk_and_return", "1.0.0")


def test_tag_on_a_commit_with_another_version(git_repo: Path) -> None:
    tag(MARKET)
    git(git_repo, "tag", "-a", f"lesson/{MARKET}/v2.0.0", "-m", "wrong", "HEAD")
    store = ContentStore.open(git_repo)
    assert store.versions(MARKET) == ["1.0.0", "2.0.0"]
    with pytest.raises(
        ContentError, match=rf"lesson/{MARKET}/v2\.0\.0: the file there has version 1\.0\.0, not 2\.0\.0"
    ):
        store.get(MARKET, "2.0.0")
    with pytest.raises(ContentError, match="has version 1.0.0, not 2.0.0"):
        store.latest(MARKET)
    assert store.get(MARKET, "1.0.0").version == "1.0.0"


def test_servable_falls_back_past_a_broken_newest_version_and_latest_still_says_why(git_repo: Path) -> None:
    """One cache for the newest version: the bot's fallback and the strict `latest` share it."""
    tag(MARKET)
    git(git_repo, "tag", "-a", f"lesson/{MARKET}/v2.0.0", "-m", "wrong", "HEAD")
    store = ContentStore.open(git_repo)
    heard: list[tuple[str, str]] = []
    found = store.servable(MARKET, lambda lesson_id, f: heard.append((lesson_id, f.lesson.version)))
    assert found.lesson.version == "1.0.0" and "has version 1.0.0, not 2.0.0" in found.skipped[0]
    assert store.servable(MARKET, lambda *_: heard.append(("again", ""))) is found  # cached: told once
    assert heard == [(MARKET, "1.0.0")]
    assert not store.is_yanked(MARKET, "1.0.0")
    with pytest.raises(ContentError, match="has version 1.0.0, not 2.0.0"):
        store.latest(MARKET)


def test_tag_on_a_commit_without_the_lesson(git_repo: Path) -> None:
    git(git_repo, "tag", "-a", "lesson/ghost_lesson/v1.0.0", "-m", "no such file")
    store = ContentStore.open(git_repo)
    assert store.ids() == ["ghost_lesson"]
    with pytest.raises(
        ContentError,
        match=r"lesson/ghost_lesson/v1\.0\.0: no file for lesson 'ghost_lesson' in content/lessons at commit [0-9a-f]{12}",
    ):
        store.get("ghost_lesson", "1.0.0")


def test_malformed_tags_are_ignored_and_reported(git_repo: Path) -> None:
    tag(MARKET)
    bad = [f"lesson/{MARKET}/vfoo", "lesson/Bad/v1.0.0", "lesson/ab/v1.0.0", f"lesson/{MARKET}/v1.0"]
    for name in bad:
        git(git_repo, "tag", "-a", name, "-m", "bad")
    git(git_repo, "tag", "-a", "release/1.0", "-m", "outside the prefix")
    store, backend = open_git(git_repo)
    assert store.ids() == [MARKET]
    assert store.versions(MARKET) == ["1.0.0"]
    assert store.latest(MARKET).version == "1.0.0"
    assert len(backend.problems) == len(bad)
    for name in bad:
        assert any(repr(name) in p and "ignored" in p for p in backend.problems), (name, backend.problems)
    assert any("'foo' is not a semantic version" in p for p in backend.problems)
    assert not any("release/1.0" in p for p in backend.problems)


def test_invalid_yaml_at_a_tagged_commit_names_the_tag(git_repo: Path) -> None:
    tag(MARKET)
    path = lesson_file(git_repo, MARKET)
    path.write_text(
        path.read_text(encoding="utf-8").replace(
            'version: "1.0.0"', 'version: "1.1.0"\nsections: [unclosed', 1
        ),
        encoding="utf-8",
    )
    commit_all(git_repo, "broken file")
    git(git_repo, "tag", "-a", f"lesson/{MARKET}/v1.1.0", "-m", "1.1.0")
    store = ContentStore.open(git_repo)
    with pytest.raises(ContentError) as caught:
        store.get(MARKET, "1.1.0")
    message = str(caught.value)
    assert (
        f"lesson/{MARKET}/v1.1.0" in message and "is not a valid lesson" in message and "FIML001" in message
    )
    assert store.get(MARKET, "1.0.0").version == "1.0.0"


def test_shallow_clone_cannot_search_history(git_repo: Path, tmp_path: Path) -> None:
    set_version(git_repo, MARKET, "1.1.0")
    commit_all(git_repo, "1.1.0")
    tag(MARKET)
    clone = tmp_path / "shallow"
    git(tmp_path, "clone", "-q", "--depth", "1", f"file://{git_repo}", str(clone))
    assert (clone / ".git" / "shallow").is_file()
    store = ContentStore.open(clone)
    assert store.versions(MARKET) == ["1.1.0"]
    assert store.get(MARKET, "1.1.0").version == "1.1.0"
    with pytest.raises(ContentError, match="shallow clone"):
        store.get(MARKET, "1.0.0")  # never tagged: needs the history, which the clone lacks
    full = ContentStore.open(git_repo)
    assert full.get(MARKET, "1.0.0").version == "1.0.0"


def test_open_without_git_or_archive(tmp_path: Path) -> None:
    folder = tmp_path / "empty"
    (folder / "content").mkdir(parents=True)
    (folder / ".fiml-cms.toml").write_text("", encoding="utf-8")
    with pytest.raises(ContentError, match="neither a git repository nor an archive"):
        ContentStore.open(folder)


# --------------------------------------------------------------------------- archive backend


@pytest.fixture
def released(git_repo: Path) -> Path:
    """Every lesson published at 1.0.0; two with later versions, one of them yanked."""
    for path in sorted((git_repo / LESSONS).glob("*.yaml")):
        tag(path.stem)
    release(git_repo, MARKET, "1.1.0")
    release(git_repo, MARKET, "1.1.1", yanked=("1.1.0",))
    release(git_repo, "risk_and_return", "2.0.0")
    return git_repo


def deploy(root: Path, tmp_path: Path) -> Path:
    """`fiml-cms archive`, then only content/ copied to a folder with no `.git`."""
    result = cli("archive")
    assert result.exit_code == 0, result.output
    target = tmp_path / "deploy"
    shutil.copytree(root / "content", target / "content")
    assert not (target / ".git").exists()
    return target


def test_archive_backend_serves_the_same_lessons(released: Path, tmp_path: Path) -> None:
    target = deploy(released, tmp_path)
    from_git = ContentStore.open(released)
    from_archive = ContentStore.open(target)
    assert isinstance(from_archive._backend, ArchiveBackend)
    assert from_archive.ids() == from_git.ids() and len(from_git.ids()) == 11
    for lesson_id in from_git.ids():
        assert from_archive.versions(lesson_id) == from_git.versions(lesson_id)
        assert [(p.date, p.tag, p.commit) for p in from_archive.published(lesson_id)] == [
            (p.date, p.tag, p.commit) for p in from_git.published(lesson_id)
        ]
        for version in from_git.versions(lesson_id):
            assert from_archive.get(lesson_id, version) == from_git.get(lesson_id, version)
        assert from_archive.latest(lesson_id) == from_git.latest(lesson_id)
    assert from_archive.latest(MARKET).version == "1.1.1"
    assert from_archive.is_yanked(MARKET, "1.1.0")
    with pytest.raises(ContentError, match="has no version 1.0.5"):
        from_archive.get(MARKET, "1.0.5")


def test_tampered_or_missing_archive_file(released: Path, tmp_path: Path) -> None:
    target = deploy(released, tmp_path)
    archive = target / "content" / "archive"
    tampered = archive / MARKET / "1.1.0.yaml"
    tampered.write_bytes(tampered.read_bytes().replace(b"market", b"bazaar", 1))
    (archive / "risk_and_return" / "2.0.0.yaml").unlink()
    store = ContentStore.open(target)
    with pytest.raises(ContentError, match=r"1\.1\.0\.yaml: differs from the published blob [0-9a-f]{12}"):
        store.get(MARKET, "1.1.0")
    with pytest.raises(ContentError, match=r"2\.0\.0\.yaml: cannot be read"):
        store.latest("risk_and_return")
    assert store.get(MARKET, "1.0.0").version == "1.0.0"


def test_unreadable_archive_index(released: Path, tmp_path: Path) -> None:
    target = deploy(released, tmp_path)
    (target / "content" / "archive" / "index.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(ContentError, match=r"index\.json: cannot be read"):
        ContentStore.open(target)


# --------------------------------------------------------------------------- threads


def test_concurrent_get_latest_refresh(released: Path) -> None:
    store = ContentStore.open(released)
    expected_latest = {
        i: ("1.1.1" if i == MARKET else "2.0.0" if i == "risk_and_return" else "1.0.0") for i in store.ids()
    }
    pairs = [(i, v) for i in store.ids() for v in store.versions(i)]
    assert len(pairs) == 14
    errors: list[BaseException] = []
    barrier = threading.Barrier(8)

    def work(seed: int) -> None:
        rng = random.Random(seed)
        try:
            barrier.wait()
            for _ in range(200):
                roll = rng.random()
                if roll < 0.6:
                    lesson_id, version = rng.choice(pairs)
                    lesson = store.get(lesson_id, version)
                    assert (lesson.id, lesson.version) == (lesson_id, version)
                elif roll < 0.95:
                    lesson_id = rng.choice(list(expected_latest))
                    lesson = store.latest(lesson_id)
                    assert (lesson.id, lesson.version) == (lesson_id, expected_latest[lesson_id])
                else:
                    store.refresh()
        except BaseException as exc:
            errors.append(exc)

    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        threads = [threading.Thread(target=work, args=(seed,)) for seed in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
    finally:
        sys.setswitchinterval(interval)
    assert not any(t.is_alive() for t in threads)
    assert errors == []
    assert len(store._lessons) == 14  # each blob parsed once


def test_git_show_matches_store(released: Path) -> None:
    """`fiml-cms show` bytes are exactly the tagged blob (the store's source)."""
    done = subprocess.run(
        ["git", "show", f"lesson/{MARKET}/v1.1.0:content/lessons/{MARKET}.yaml"],
        cwd=released,
        capture_output=True,
        check=True,
    )
    result = runner.invoke(app, ["show", f"{MARKET}@1.1.0"])
    assert result.exit_code == 0
    assert result.stdout_bytes == done.stdout
