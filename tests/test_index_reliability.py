"""The index is never lost: a rebuild happens beside the index in use, damage is named and repaired
from the corpus and the embedding cache, a full or read-only disk and a stray lock folder are one
line each, and the writer lock works without fcntl."""

from __future__ import annotations

import os
import shutil
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import FIXTURE_DOCS, index_kb, index_summary, md_doc, place_index, run_kb, run_kb_process, select_encoder, write_corpus
from test_cli_errors import assert_one_line_error

QUERY = "tillid borgere kommunen frivillige"
BROKEN_ENCODER = '[embedder]\nbackend = "sentence-transformers"\nmodel = "/nonexistent/model"\n'
NEW_DOC = md_doc(
    "nabohjaelp", "# Naboer\n\n" + "Naboerne i boligområdet hjælper hinanden med indkøb, havearbejde og lektier, "
    "og kommunen stiller et fælleshus til rådighed for møderne hver anden uge. " * 12,
    title="Naboer hjælper naboer",
)


PROGRESS = ("embedding:", "writing index:")  # what `kb index` prints on stderr before it may fail


def assert_index_error(run, mentions: tuple[str, ...]) -> str:
    """`kb index` failed with one line of its own, after at most its progress lines."""
    run.assert_no_traceback()
    assert run.exit_code in (1, 2) and run.stdout == "", run.output
    lines = [line for line in run.stderr_lines() if not line.startswith(PROGRESS)]
    assert len(lines) == 1 and lines[0].startswith("kb: error:"), run.stderr
    for needle in mentions:
        assert needle in lines[0], (needle, lines[0])
    return lines[0]


def hits(root: Path, *args: str) -> list[tuple[str, float]]:
    """The top passages for QUERY, searched as a user would; the index must already exist."""
    run = run_kb(root, "search", QUERY, "--json", "-k", "5", *args)
    run.assert_no_traceback()
    assert run.exit_code == 0 and run.stderr == "", run.output  # no "building it now": the index was there
    return [(r["chunk_id"], r["score"]) for r in run.json()["results"]]


def live_generation(root: Path) -> Path:
    return root / ".kb" / (root / ".kb" / "CURRENT").read_text(encoding="utf-8").strip()


def flip(path: Path, count: int = 64) -> None:
    """Invert `count` bytes in the middle of a file, as a failing disk or a stray write would."""
    data = bytearray(path.read_bytes())
    middle = len(data) // 2
    for i in range(middle, min(middle + count, len(data))):
        data[i] ^= 0xFF
    path.write_bytes(bytes(data))


# -- kb index --rebuild builds beside the index in use ----------------------------------------------

@pytest.fixture
def stored_kb(make_kb, store, request) -> Path:
    """The fixture documents indexed in each store in turn (local files, PostgreSQL)."""
    root = place_index(make_kb(), store, request)
    assert index_kb(root).exit_code == 0
    return root


def test_rebuild_with_an_encoder_that_cannot_load_keeps_the_index(stored_kb):
    before = hits(stored_kb)
    config = stored_kb / "kb.toml"
    working = config.read_text(encoding="utf-8")
    config.write_text(working.replace('[embedder]\nbackend = "fake"\n', BROKEN_ENCODER), encoding="utf-8")
    assert_index_error(run_kb(stored_kb, "index", "--rebuild"), mentions=("sentence-transformers",))
    lexical = run_kb(stored_kb, "search", QUERY, "--mode", "lexical", "--json")  # needs no encoder
    assert lexical.exit_code == 0 and lexical.json()["results"], lexical.output
    config.write_text(working, encoding="utf-8")
    assert hits(stored_kb) == before


@pytest.mark.parametrize("point", ["during-write", "before-current"])
def test_rebuild_killed_midway_keeps_the_index_and_its_vectors(stored_kb, point):
    before = hits(stored_kb)
    killed = run_kb_process(stored_kb, "index", "--rebuild", env={"KB_FAULT_POINT": point})
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    assert hits(stored_kb) == before
    counts = index_summary(index_kb(stored_kb, "--rebuild"))
    assert counts["embedded"] == 0, "the embedding cache must survive a rebuild"
    assert hits(stored_kb) == before


def test_rebuild_reuses_cached_vectors_and_forgets_stale_ones_after(fixture_kb):
    removed = fixture_kb / "corpus" / "measure.md"
    text = removed.read_text(encoding="utf-8")
    removed.unlink()
    counts = index_summary(index_kb(fixture_kb, "--rebuild"))
    assert counts["documents"] == 2 and counts["embedded"] == 0
    removed.write_text(text, encoding="utf-8")
    counts = index_summary(index_kb(fixture_kb))
    assert counts["added"] == 1 and counts["embedded"] > 0, "vectors no document uses are pruned after a rebuild"


# -- damage is found, named and repaired --------------------------------------------------------------

INDEX_FILES = ["views.npy", "dense.faiss", "chunks.sqlite", "lexical/data.npy", "lexical/indices.npy", "lexical/vocab.json"]


@pytest.mark.parametrize("name", INDEX_FILES)
def test_a_damaged_index_file_is_named_and_kb_index_repairs_it(fixture_kb, name):
    before = hits(fixture_kb)
    flip(live_generation(fixture_kb) / name)
    for args in (["search", QUERY], ["search", QUERY, "--json"]):
        assert_one_line_error(run_kb(fixture_kb, *args), usage=False, mentions=(name, "damaged", "run `kb index`"))
    status = run_kb(fixture_kb, "status")
    status.assert_no_traceback()
    assert status.exit_code == 1 and name in status.stdout and "damaged" in status.stdout, status.output
    repair = index_kb(fixture_kb)
    assert repair.exit_code == 0, repair.output
    assert any(line.startswith("kb: note:") and name in line for line in repair.stderr_lines()), repair.stderr
    assert index_summary(repair)["embedded"] == 0, "vectors come from the embedding cache"
    assert hits(fixture_kb) == before
    assert run_kb(fixture_kb, "status").exit_code == 0


@pytest.mark.parametrize("name", ["views.npy", "dense.faiss"])
def test_damage_in_files_too_large_to_hash_per_search_is_caught_by_structure(fixture_kb, name, monkeypatch):
    import kb.store.checks

    monkeypatch.setattr(kb.store.checks, "VERIFY_ON_LOAD_BYTES", 0)  # as for an index of millions of passages
    flip(live_generation(fixture_kb) / name)
    for mode in ("hybrid", "dense"):
        assert_one_line_error(run_kb(fixture_kb, "search", QUERY, "--mode", mode), usage=False, mentions=(name, "run `kb index`"))
    status = run_kb(fixture_kb, "status")  # hashes everything, whatever the size
    assert status.exit_code == 1 and name in status.stdout, status.output


def _cached_vector_offset(cache: Path) -> int:
    with sqlite3.connect(cache) as db:
        (vector,) = db.execute("SELECT vec FROM vectors ORDER BY key LIMIT 1").fetchone()
    db.close()
    offset = cache.read_bytes().find(vector)
    assert offset > 0
    return offset


def test_damaged_vectors_in_the_embedding_cache_are_computed_again(fixture_kb):
    before = hits(fixture_kb)
    cache = fixture_kb / ".kb" / "embeddings.sqlite"
    offset = _cached_vector_offset(cache)
    data = bytearray(cache.read_bytes())
    for i in range(offset + 64, offset + 128):
        data[i] ^= 0xFF
    cache.write_bytes(bytes(data))
    run = index_kb(fixture_kb, "--rebuild")
    assert run.exit_code == 0, run.output
    assert any("embedding cache" in line and "computed again" in line for line in run.stderr_lines()), run.stderr
    assert index_summary(run)["embedded"] >= 1
    assert hits(fixture_kb) == before


def test_an_unreadable_embedding_cache_is_replaced(fixture_kb):
    (fixture_kb / ".kb" / "embeddings.sqlite").write_bytes(b"not a database " * 1000)
    (fixture_kb / "corpus" / "naboer.md").write_text(NEW_DOC, encoding="utf-8")
    run = index_kb(fixture_kb)
    assert run.exit_code == 0, run.output
    assert any(line.startswith("kb: note:") and "embeddings.sqlite" in line for line in run.stderr_lines()), run.stderr
    assert index_summary(run)["added"] == 1
    assert "nabohjaelp" in {chunk.split("#")[0] for chunk, _ in hits(fixture_kb)}


# -- a disk that is full or read-only -----------------------------------------------------------------

def _mount(*args: str) -> None:
    if os.geteuid() != 0:
        pytest.skip("mounting needs root")
    result = subprocess.run(["mount", *args], capture_output=True, text=True)
    if result.returncode != 0:
        pytest.skip(f"mount is not permitted here: {result.stderr.strip()}")


@pytest.fixture
def small_disk(tmp_path):
    """A 3 MB file system of its own."""
    disk = tmp_path / "disk"
    disk.mkdir()
    _mount("-t", "tmpfs", "-o", "size=3m", "tmpfs", str(disk))
    yield disk
    subprocess.run(["umount", "-l", str(disk)], check=False)


def _fill(disk: Path, leave: int) -> Path:
    filler = disk / "filler"
    with open(filler, "wb") as fh:
        while shutil.disk_usage(disk).free > leave:
            try:
                fh.write(b"\0" * min(1 << 16, max(shutil.disk_usage(disk).free - leave, 4096)))
                fh.flush()
            except OSError:
                break
    return filler


@pytest.mark.parametrize("share", [0.0, 0.4, 0.8])
def test_a_full_disk_is_one_line_and_freeing_space_lets_kb_index_finish(small_disk, share):
    root = select_encoder(write_corpus(small_disk / "kb", FIXTURE_DOCS))
    assert index_kb(root).exit_code == 0
    before = hits(root)
    generation = sum(p.stat().st_size for p in live_generation(root).rglob("*") if p.is_file())
    (root / "corpus" / "naboer.md").write_text(NEW_DOC, encoding="utf-8")
    filler = _fill(small_disk, int(share * generation))  # from nothing left to most of a generation
    assert_index_error(run_kb(root, "index"), mentions=("no space left", str(root / ".kb"), "kb index"))
    assert hits(root) == before
    filler.unlink()  # the advice: free some space, run kb index again
    run = index_kb(root)
    assert run.exit_code == 0 and index_summary(run)["added"] == 1, run.output


@pytest.fixture
def read_only():
    """Make a folder read-only: a read-only bind mount as root (root writes through permissions),
    else its permissions."""
    undo = []

    def make(folder: Path) -> None:
        if os.geteuid() == 0:
            _mount("--bind", str(folder), str(folder))
            undo.append(["umount", "-l", str(folder)])
            _mount("-o", "remount,ro,bind", str(folder))
        else:
            folder.chmod(0o555)
            undo.append(lambda: folder.chmod(0o755))

    def restore() -> None:
        while undo:
            step = undo.pop()
            step() if callable(step) else subprocess.run(step, check=False)

    make.restore = restore
    yield make
    restore()


def test_a_read_only_index_folder_is_one_line_and_making_it_writable_works(fixture_kb, read_only):
    before = hits(fixture_kb)
    (fixture_kb / "corpus" / "naboer.md").write_text(NEW_DOC, encoding="utf-8")
    index = fixture_kb / ".kb"
    read_only(index)
    for args in (["index"], ["index", "--rebuild"]):
        error = assert_index_error(run_kb(fixture_kb, *args), mentions=(str(index), "kb index"))
        assert "read-only" in error or "permission denied" in error, error
    assert hits(fixture_kb) == before  # searching needs no writes
    read_only.restore()
    run = index_kb(fixture_kb)
    assert run.exit_code == 0 and index_summary(run)["added"] == 1, run.output


# -- the writer lock ----------------------------------------------------------------------------------

def test_a_folder_where_the_lock_file_belongs_is_one_line(fixture_kb):
    lock = fixture_kb / ".kb" / "lock"
    lock.unlink(missing_ok=True)
    lock.mkdir()
    assert_index_error(run_kb(fixture_kb, "index"), mentions=(str(lock), "remove it"))
    lock.rmdir()
    assert index_kb(fixture_kb).exit_code == 0


def test_the_library_imports_where_there_is_no_fcntl():
    """Windows has no fcntl: nothing kb imports may need it directly."""
    code = ("import sys; sys.modules['fcntl'] = None; "
            "import kb.knowledge_base, kb.store.local, indexer.build, indexer.status, search_cli.app")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
