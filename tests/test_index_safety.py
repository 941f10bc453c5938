"""Incremental indexing, crashes at every step of a write, the writer lock, and readers during writes."""

from __future__ import annotations

import fcntl
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from kb.knowledge_base import KnowledgeBase

KB = [sys.executable, "-m", "search_cli.app"]
REPO = Path(__file__).resolve().parents[1]

DOCS = {
    "tillid": ("da", "Tillid i lokalsamfundet", "Borgerne i Nordby var skeptiske over for kommunen. Medarbejderne mødte dem i øjenhøjde og byggede langsomt tillid op gennem faste møder i forsamlingshuset."),
    "frivillige": ("da", "Frivillige i ældreplejen", "Frivillige besøgsvenner samarbejder med plejecentret om ensomhed blandt ældre. Kommunen stiller lokaler og koordinering til rådighed."),
    "ungdom": ("nb", "Ungdomsråd i bydelen", "Ungdomsrådet planla nye møteplasser sammen med bydelsadministrasjonen. Ungdommene fikk eget budsjett og ansvar for gjennomføringen."),
}
NEW_CASE = ("nb", "Hagelag i borettslaget", "Beboerne i borettslaget startet et hagelag med støtte fra kommunen. Parsellhagen ble et sted der naboer møtes på tvers av generasjoner og språk.")


def write_doc(root: Path, doc_id: str, lang: str, title: str, body: str) -> Path:
    path = root / "corpus" / f"{doc_id}.md"
    path.parent.mkdir(parents=True, exist_ok=True)
    paragraphs = "\n\n".join([body] * 3)
    path.write_text(
        f"---\nid: {doc_id}\ntitle: {title}\nlanguage: {lang}\nkind: report\n---\n# {title}\n\n{paragraphs}\n",
        encoding="utf-8",
    )
    return path


def run_kb(root: Path, *args: str, env: dict | None = None, check: bool = True) -> subprocess.CompletedProcess:
    result = subprocess.run(
        [*KB, "--kb", str(root), *args], capture_output=True, text=True, cwd=REPO,
        env={**os.environ, **(env or {})}, timeout=300,
    )
    if check and result.returncode != 0:
        raise AssertionError(f"kb {' '.join(args)} failed ({result.returncode}): {result.stderr}")
    return result


def summary(result: subprocess.CompletedProcess) -> dict[str, int]:
    line = result.stderr.strip().splitlines()[-1]
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


@pytest.fixture(scope="module")
def indexed_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("template")
    for doc_id, (lang, title, body) in DOCS.items():
        write_doc(root, doc_id, lang, title, body)
    # small batches so a crash "during embedding" leaves some vectors done, some not
    (root / "kb.toml").write_text('[embedder]\nbackend = "fake"\nbatch_size = 1\n', encoding="utf-8")
    first = summary(run_kb(root, "index"))
    assert first["added"] == 3 and first["embedded"] == first["passages"]
    return root


@pytest.fixture
def indexed(indexed_template: Path, tmp_path: Path) -> Path:
    """A fresh copy of an indexed knowledge base (index files included) for each test."""
    root = tmp_path / "kb"
    shutil.copytree(indexed_template, root)
    return root


def test_adding_one_case_embeds_only_its_passages(indexed: Path) -> None:
    before = KnowledgeBase.open(indexed).manifest.chunks
    write_doc(indexed, "hagelag", *NEW_CASE)
    counts = summary(run_kb(indexed, "index"))
    after = KnowledgeBase.open(indexed).manifest.chunks
    assert (counts["added"], counts["changed"], counts["unchanged"]) == (1, 0, 3)
    assert counts["embedded"] == after - before > 0
    assert "hagelag" in doc_ids(indexed, "parsellhage naboer")


def test_unchanged_corpus_embeds_nothing(indexed: Path) -> None:
    counts = summary(run_kb(indexed, "index"))
    assert counts["unchanged"] == 3 and counts["embedded"] == 0


def test_changing_one_document_reembeds_only_it(indexed: Path) -> None:
    write_doc(indexed, "frivillige", "da", "Frivillige i ældreplejen", "Frivillige kører ældre borgere til lægen og hjælper med indkøb, koordineret af kommunens frivilligcenter.")
    counts = summary(run_kb(indexed, "index"))
    assert (counts["changed"], counts["unchanged"]) == (1, 2)
    own = KnowledgeBase.open(indexed).generation.documents(["frivillige"])[0].passages
    assert 0 < counts["embedded"] <= own


def test_removed_document_never_appears_again(indexed: Path) -> None:
    assert "ungdom" in doc_ids(indexed, "ungdomsråd budsjett møteplasser")
    (indexed / "corpus" / "ungdom.md").unlink()
    counts = summary(run_kb(indexed, "index"))
    assert counts["removed"] == 1
    for query in ("ungdomsråd budsjett møteplasser", "Ungdomsråd i bydelen", "ungdom"):
        assert "ungdom" not in doc_ids(indexed, query)
    status = run_kb(indexed, "status").stdout
    assert "no changes" in status


@pytest.mark.parametrize("point", ["during-embedding", "during-write", "before-current"])
def test_killed_index_leaves_previous_index_searchable(indexed: Path, point: str) -> None:
    write_doc(indexed, "hagelag", *NEW_CASE)
    killed = run_kb(indexed, "index", env={"KB_FAULT_POINT": point}, check=False)
    assert killed.returncode == -signal.SIGKILL
    # the previous index answers, without the document that was being added
    assert "tillid" in doc_ids(indexed, "skeptiske borgere tillid")
    assert "hagelag" not in doc_ids(indexed, "parsellhage naboer")
    # the next run completes the work
    counts = summary(run_kb(indexed, "index"))
    assert counts["added"] == 1
    if point != "during-embedding":
        assert counts["embedded"] == 0, "vectors computed before the crash must be reused"
    assert "hagelag" in doc_ids(indexed, "parsellhage naboer")


def test_killed_after_commit_has_new_content(indexed: Path) -> None:
    write_doc(indexed, "hagelag", *NEW_CASE)
    killed = run_kb(indexed, "index", env={"KB_FAULT_POINT": "after-current"}, check=False)
    assert killed.returncode == -signal.SIGKILL
    assert "hagelag" in doc_ids(indexed, "parsellhage naboer")
    assert summary(run_kb(indexed, "index"))["unchanged"] == 4


def test_kill_at_random_moments_never_breaks_the_index(indexed: Path) -> None:
    write_doc(indexed, "hagelag", *NEW_CASE)
    for delay in (0.3, 0.8, 1.5):
        proc = subprocess.Popen([*KB, "--kb", str(indexed), "index"], cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        assert "tillid" in doc_ids(indexed, "skeptiske borgere tillid")
    run_kb(indexed, "index")
    assert "hagelag" in doc_ids(indexed, "parsellhage naboer")


def test_second_writer_is_refused_while_one_holds_the_lock(indexed: Path) -> None:
    with open(indexed / ".kb" / "lock", "a+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        handle.write("kb index (pid 4242)")
        handle.flush()
        result = run_kb(indexed, "index", check=False)
    assert result.returncode == 1
    assert "being written" in result.stderr and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_searches_during_a_write_see_old_or_new_index(indexed: Path) -> None:
    kb = KnowledgeBase.open(indexed)
    old_count = kb.manifest.chunks
    write_doc(indexed, "hagelag", *NEW_CASE)
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


def test_a_truncated_index_file_is_reported_by_index_and_status(indexed: Path) -> None:
    generation = (indexed / ".kb" / "CURRENT").read_text().strip()
    dense_file = indexed / ".kb" / generation / "dense.faiss"
    dense_file.write_bytes(dense_file.read_bytes()[:1000])
    for command in ("index", "status"):
        result = run_kb(indexed, command, check=False)
        assert result.returncode == 1
        assert "damaged" in result.stderr and "kb index --rebuild" in result.stderr
        assert "Traceback" not in result.stderr
    assert summary(run_kb(indexed, "index", "--rebuild"))["added"] == 3
    assert "tillid" in doc_ids(indexed, "skeptiske borgere tillid")
