"""Incremental indexing, a SIGKILL at every step of a write, the writer lock, and readers during writes."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Iterator

import psycopg
import pytest

from conftest import STORES, place_index, run_kb, run_kb_process
from kb.knowledge_base import KnowledgeBase
from pg_fixture import database_of, repoint_database

KB = [sys.executable, "-m", "search_cli.app"]
REPO = Path(__file__).resolve().parents[1]

DOCS = {
    "tillid": ("da", "Tillid i lokalsamfundet", "Borgerne i Nordby var skeptiske over for kommunen. Medarbejderne mødte dem i øjenhøjde og byggede langsomt tillid op gennem faste møder i forsamlingshuset."),
    "frivillige": ("da", "Frivillige i ældreplejen", "Frivillige besøgsvenner samarbejder med plejecentret om ensomhed blandt ældre. Kommunen stiller lokaler og koordinering til rådighed."),
    "ungdom": ("nb", "Ungdomsråd i bydelen", "Ungdomsrådet planla nye møteplasser sammen med bydelsadministrasjonen. Ungdommene fikk eget budsjett og ansvar for gjennomføringen."),
}
NEW_CASE = ("nb", "Hagelag i borettslaget", " ".join([
    "Beboerne i borettslaget startet et hagelag med støtte fra kommunen.",
    "Parsellhagen ble et sted der naboer møtes på tvers av generasjoner og språk.",
    "Kommunen lånte ut redskaper og jord, og skolen sådde grønnsaker sammen med beboerne om våren.",
    "Om høsten holdt hagelaget en innhøstingsfest i fellesrommet, der de eldste lærte barna å sylte og safte.",
    "Styret i borettslaget vil nå bygge et drivhus, og bydelen har lovet å dekke halvparten av kostnaden.",
    "Vaktmesteren har laget et system for vanning i ferien, slik at ingen bed tørker ut mens familiene er bortreist.",
    "Neste år vil hagelaget invitere nabobarnehagen til å plante egne bær og urter langs gjerdet.",
    "Erfaringene skal deles med andre borettslag i bydelen på et åpent møte i regi av frivilligsentralen.",
]))


def write_doc(root: Path, doc_id: str, lang: str, title: str, body: str, repeat: int = 3) -> Path:
    path = root / "corpus" / f"{doc_id}.md"
    path.parent.mkdir(parents=True, exist_ok=True)
    paragraphs = "\n\n".join([body] * repeat)
    path.write_text(
        f"---\nid: {doc_id}\ntitle: {title}\nlanguage: {lang}\nkind: report\n---\n# {title}\n\n{paragraphs}\n",
        encoding="utf-8",
    )
    return path


def kb(root: Path, *args: str) -> str:
    """`kb ARGS` in-process, which must succeed; its stderr (progress and summary)."""
    run = run_kb(root, *args)
    run.assert_no_traceback()
    assert run.exit_code == 0, f"kb {' '.join(args)} failed ({run.exit_code}): {run.stderr}"
    return run.stderr


def summary(stderr: str) -> dict[str, int]:
    line = stderr.strip().splitlines()[-1]
    match = re.search(r"added (\d+), changed (\d+), removed (\d+), unchanged (\d+) .* (\d+) passages \((\d+) embedded\)", line)
    assert match, line
    keys = ("added", "changed", "removed", "unchanged", "passages", "embedded")
    return dict(zip(keys, map(int, match.groups())))


def doc_ids(root: Path, query: str) -> set[str]:
    kb = KnowledgeBase.open(root)
    try:
        return {hit.doc_id for hit in kb.search(query, k=20).hits}
    finally:
        kb.close()


@pytest.fixture(scope="module", params=STORES)
def indexed_template(request, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An indexed knowledge base, its index in the local files or in PostgreSQL: every test of
    this module runs against both stores."""
    root = tmp_path_factory.mktemp("template")
    for doc_id, (lang, title, body) in DOCS.items():
        write_doc(root, doc_id, lang, title, body)
    # small batches so a crash "during embedding" leaves some vectors done, some not
    (root / "kb.toml").write_text('[embedder]\nbackend = "fake"\nbatch_size = 1\n', encoding="utf-8")
    place_index(root, request.param, request)
    first = summary(kb(root, "index"))
    assert first["added"] == 3 and first["embedded"] == first["passages"]
    return root


@pytest.fixture
def indexed(indexed_template: Path, tmp_path: Path, request) -> Path:
    """A fresh copy of an indexed knowledge base (index files or database included) for each test."""
    root = tmp_path / "kb"
    shutil.copytree(indexed_template, root)
    template_database = database_of(root)
    if template_database:
        repoint_database(root, request.getfixturevalue("postgres").new_database(copy_of=template_database))
    return root


def live_generation(root: Path) -> str:
    url = database_of(root)
    if url is None:
        return (root / ".kb" / "CURRENT").read_text().strip()
    with psycopg.connect(url) as conn:
        return conn.execute("SELECT live FROM kb.state").fetchone()[0]


def test_adding_one_case_embeds_only_its_passages(indexed: Path) -> None:
    before = KnowledgeBase.open(indexed).manifest.chunks
    write_doc(indexed, "hagelag", *NEW_CASE, repeat=1)
    counts = summary(kb(indexed, "index"))
    after = KnowledgeBase.open(indexed).manifest.chunks
    assert (counts["added"], counts["changed"], counts["unchanged"]) == (1, 0, 3)
    assert counts["embedded"] == after - before > 0
    assert "hagelag" in doc_ids(indexed, "parsellhage naboer")


def test_unchanged_corpus_embeds_nothing(indexed: Path) -> None:
    counts = summary(kb(indexed, "index"))
    assert counts["unchanged"] == 3 and counts["embedded"] == 0


def test_changing_one_document_reembeds_only_it(indexed: Path) -> None:
    write_doc(indexed, "frivillige", "da", "Frivillige i ældreplejen", "Frivillige kører ældre borgere til lægen og hjælper med indkøb, koordineret af kommunens frivilligcenter.")
    counts = summary(kb(indexed, "index"))
    assert (counts["changed"], counts["unchanged"]) == (1, 2)
    own = KnowledgeBase.open(indexed).generation.documents(["frivillige"])[0].passages
    assert 0 < counts["embedded"] <= own


def test_removed_document_never_appears_again(indexed: Path) -> None:
    assert "ungdom" in doc_ids(indexed, "ungdomsråd budsjett møteplasser")
    (indexed / "corpus" / "ungdom.md").unlink()
    counts = summary(kb(indexed, "index"))
    assert counts["removed"] == 1
    for query in ("ungdomsråd budsjett møteplasser", "Ungdomsråd i bydelen", "ungdom"):
        assert "ungdom" not in doc_ids(indexed, query)
    assert "no changes" in run_kb(indexed, "status").stdout


# Each step of `kb index` that can be killed, in order, with what the next generation's folder
# holds by then: the test checks on disk that the kill landed there.
WRITTEN = ["dense.faiss", "views.npy", "lexical", "chunks.sqlite", "manifest.json"]
STEPS_BEFORE_COMMIT = {
    "during-embedding": None,  # after the first batch of vectors; no generation folder yet
    "during-write": WRITTEN[:2],
    "after-lexical": WRITTEN[:3],
    "after-chunks": WRITTEN[:4],
    "after-manifest": WRITTEN,
    "before-rename": WRITTEN,
    "before-current": WRITTEN,  # renamed into place, not yet pointed to
}
LOCAL_FILE_STEPS = {"after-manifest", "before-rename"}  # PostgreSQL commits one transaction instead


def embedding_total(stderr: str) -> int:
    """How many vectors the run set out to compute (its progress line), 0 if none."""
    match = re.search(r"^embedding: (\d+) …$", stderr, re.M)
    return int(match.group(1)) if match else 0


def next_generation(root: Path, live: str) -> tuple[str, list[str]] | None:
    """The generation a killed run left behind besides the live one, and its files (in the
    database, the killed writer's transaction is rolled back: there is never one)."""
    url = database_of(root)
    if url is not None:
        with psycopg.connect(url) as conn:
            schemas = [r[0] for r in conn.execute("SELECT nspname FROM pg_namespace WHERE nspname LIKE 'kb_gen_%'")]
        return None if schemas == ["kb_gen_" + live.removeprefix("gen-")] else (str(schemas), [])
    left = [p for p in (root / ".kb").glob("gen-*") if p.name != live]
    if not left:
        return None
    (folder,) = left
    return folder.name, sorted(p.name for p in folder.iterdir())


@pytest.mark.parametrize("point", list(STEPS_BEFORE_COMMIT))
def test_killed_index_leaves_previous_index_searchable(indexed: Path, point: str) -> None:
    database = database_of(indexed) is not None
    if database and point in LOCAL_FILE_STEPS:
        pytest.skip("a step of writing the local files")
    write_doc(indexed, "hagelag", *NEW_CASE, repeat=1)
    live = live_generation(indexed)
    killed = run_kb_process(indexed, "index", env={"KB_FAULT_POINT": point})
    assert killed.returncode == -signal.SIGKILL
    # the kill landed at that step: the live generation unchanged, the next one written so far
    assert live_generation(indexed) == live
    left = next_generation(indexed, live)
    if STEPS_BEFORE_COMMIT[point] is None or database:
        assert left is None
    else:
        staged = "" if point == "before-current" else ".tmp"
        assert left is not None and left[0].endswith(staged) and left[1] == sorted(STEPS_BEFORE_COMMIT[point]), left
    # the previous index answers, without the document that was being added
    assert "tillid" in doc_ids(indexed, "skeptiske borgere tillid")
    assert "hagelag" not in doc_ids(indexed, "parsellhage naboer")
    # the next run completes the work, computing only the vectors the killed run did not keep
    completed = kb(indexed, "index")
    counts = summary(completed)
    assert counts["added"] == 1
    if point == "during-embedding":
        batch = 4  # batch_size 1 in kb.toml: vectors are kept four at a time
        assert embedding_total(completed) == embedding_total(killed.stderr) - batch > 0
    else:
        assert embedding_total(killed.stderr) > 0 and embedding_total(completed) == 0
        assert counts["embedded"] == 0, "vectors computed before the crash must be reused"
    assert "hagelag" in doc_ids(indexed, "parsellhage naboer")
    assert database or not list((indexed / ".kb").glob("*.tmp")), "the killed run's staging folder is cleared"


def test_killed_after_commit_has_new_content(indexed: Path) -> None:
    write_doc(indexed, "hagelag", *NEW_CASE, repeat=1)
    killed = run_kb_process(indexed, "index", env={"KB_FAULT_POINT": "after-current"})
    assert killed.returncode == -signal.SIGKILL
    assert "hagelag" in doc_ids(indexed, "parsellhage naboer")
    assert summary(kb(indexed, "index"))["unchanged"] == 4


@contextlib.contextmanager
def writer_lock_held(root: Path) -> Iterator[str]:
    """Another writer holding the lock of this knowledge base's store; yields who it says it is."""
    url = database_of(root)
    if url is None:
        with KnowledgeBase.open(root).store.writer():  # this test process, as a running `kb index` would
            yield f"kb index (pid {os.getpid()})"
        return
    from kb.store.postgres import WRITER_LOCK

    with psycopg.connect(url, autocommit=True, application_name="kb index (pid 4242)") as conn:
        assert conn.execute("SELECT pg_try_advisory_lock(%s)", (WRITER_LOCK,)).fetchone()[0]
        yield "kb index (pid 4242)"


def test_second_writer_is_refused_while_one_holds_the_lock(indexed: Path) -> None:
    with writer_lock_held(indexed) as holder:
        result = run_kb_process(indexed, "index")  # another process, as a second writer would be
    assert result.returncode == 1
    assert f"being written by {holder}" in result.stderr and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert summary(kb(indexed, "index"))["unchanged"] == 3  # the lock went with its holder


def test_searches_during_a_write_see_old_or_new_index(indexed: Path) -> None:
    kb = KnowledgeBase.open(indexed)
    old_count = kb.manifest.chunks
    write_doc(indexed, "hagelag", *NEW_CASE, repeat=1)
    writer = subprocess.Popen([*KB, "--kb", str(indexed), "index"], cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    seen: set[int] = set()
    errors: list[BaseException] = []
    while writer.poll() is None:
        try:
            result = kb.search("borgere og kommunen", k=50)
            gen = kb.generation
            seen.add(gen.manifest.chunks)
            assert len(result.hits) <= gen.manifest.chunks
        except BaseException as exc:  # any failure is a finding
            errors.append(exc)
        time.sleep(0.02)
    assert writer.returncode == 0, writer.stderr.read()
    assert not errors, errors[:3]
    new_count = KnowledgeBase.open(indexed).manifest.chunks
    assert seen <= {old_count, new_count}


def test_a_truncated_index_file_is_reported_by_status_and_repaired_by_index(indexed: Path) -> None:
    if database_of(indexed):
        pytest.skip("index files are the local store's")
    generation = (indexed / ".kb" / "CURRENT").read_text().strip()
    dense_file = indexed / ".kb" / generation / "dense.faiss"
    dense_file.write_bytes(dense_file.read_bytes()[:1000])
    status = run_kb(indexed, "status")
    status.assert_no_traceback()
    assert status.exit_code == 1 and "damaged" in status.stdout and "dense.faiss" in status.stdout
    repaired = kb(indexed, "index")
    assert "dense.faiss" in repaired and summary(repaired)["embedded"] == 0
    assert "tillid" in doc_ids(indexed, "skeptiske borgere tillid")
