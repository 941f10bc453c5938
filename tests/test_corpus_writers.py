"""Corpus writers (`kb add`, `kb remove`) run side by side as real processes: nothing is lost or mixed up."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import yaml

from conftest import REPO

WRITERS = 8
HEADING = "# Samskabelse i praksis"  # every file has the same first heading: the same id is wanted by all
TOPICS = [
    "borgerbudgetter i landsbyerne", "frivillige i ældreplejen", "unge i idrætsforeningerne",
    "naboskab i boligområderne", "klimaråd med borgere", "skolens forældreråd", "biblioteket som mødested",
    "jobcentrets virksomhedspartnere",
]


def _body(topic: str) -> str:
    return (
        f"{HEADING}\n\nKommunen arbejder med {topic}. Vi har brug for nogle nye måder at arbejde sammen "
        f"med borgerne på, og efter mange år med høringer vil vi nu inddrage dem tidligt i arbejdet med {topic}.\n"
    )


def _kb_process(root: Path, *args: str) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    env.pop("KB_HOME", None)
    return subprocess.Popen(
        [sys.executable, "-m", "search_cli.app", "--kb", str(root), *args],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=str(root),
    )


def test_eight_concurrent_adds_keep_every_file_under_its_own_id(tmp_path):
    root = tmp_path / "kb"
    (root / "corpus" / "documents").mkdir(parents=True)
    sources = []
    for number, topic in enumerate(TOPICS[:WRITERS]):
        source = tmp_path / f"incoming{number}" / "note.md"
        source.parent.mkdir()
        source.write_text(_body(topic), encoding="utf-8")
        sources.append(source)

    processes = [_kb_process(root, "add", str(source), "--kind", "guidance", "--lang", "da") for source in sources]
    outcomes = [(proc.wait(timeout=300), proc.stdout.read(), proc.stderr.read()) for proc in processes]
    for proc in processes:
        proc.stdout.close()
        proc.stderr.close()

    reported: dict[str, str] = {}  # doc id -> the topic of the file that process added
    for (code, out, err), topic in zip(outcomes, TOPICS):
        assert code == 0, err
        assert "Traceback" not in err
        (line,) = out.splitlines()
        doc_id, _lang, rel_path = line.split()
        assert doc_id not in reported, f"two processes reported id {doc_id}"
        reported[doc_id] = topic
        # the id a process reported holds the text that process added, under that id
        text = (root / rel_path).read_text(encoding="utf-8")
        assert f"arbejder med {topic}." in text, (doc_id, topic, text)
        sidecar = (root / rel_path).with_suffix(".meta.yaml").read_text(encoding="utf-8")
        assert yaml.safe_load(sidecar)["id"] == doc_id
    assert len(reported) == WRITERS
    assert sorted(reported) == sorted(["samskabelse-i-praksis"] + [f"samskabelse-i-praksis-{n}" for n in range(2, WRITERS + 1)])

    documents = root / "corpus" / "documents"
    expected = sorted(f"{doc_id}{suffix}" for doc_id in reported for suffix in (".md", ".meta.yaml"))
    assert sorted(p.name for p in documents.iterdir()) == expected, "leftovers"
    checked = _kb_process(root, "validate")
    out, err = checked.communicate(timeout=120)
    assert checked.returncode == 0, out + err
    assert f"{WRITERS} files checked, 0 problems" in out


def test_concurrent_adds_of_one_text_add_it_once(tmp_path):
    """The duplicate check sees what the other writers added: the same text from four places lands once."""
    root = tmp_path / "kb"
    (root / "corpus").mkdir(parents=True)
    sources = []
    for number in range(4):
        source = tmp_path / f"copy{number}.md"
        source.write_text(_body(TOPICS[0]), encoding="utf-8")
        sources.append(source)
    processes = [_kb_process(root, "add", str(source), "--kind", "guidance", "--lang", "da") for source in sources]
    results = [proc.communicate(timeout=300) for proc in processes]
    codes = sorted(proc.returncode for proc in processes)
    assert codes == [0, 1, 1, 1], results
    refused = [err for (_out, err), proc in zip(results, processes) if proc.returncode == 1]
    for err in refused:
        (line,) = [line for line in err.splitlines() if line.startswith("kb: not added: ")]
        assert "same content as document 'samskabelse-i-praksis'" in line, err
    documents = root / "corpus" / "documents"
    assert sorted(p.name for p in documents.iterdir()) == ["samskabelse-i-praksis.md", "samskabelse-i-praksis.meta.yaml"]


def test_add_and_remove_wait_while_another_writer_holds_the_corpus(tmp_path):
    from filelock import FileLock

    root = tmp_path / "kb"
    (root / "corpus").mkdir(parents=True)
    first = tmp_path / "first.md"
    first.write_text(_body(TOPICS[0]), encoding="utf-8")
    second = tmp_path / "second.md"
    second.write_text(_body(TOPICS[1]), encoding="utf-8")
    assert _kb_process(root, "add", str(first), "--kind", "guidance", "--lang", "da").wait(timeout=120) == 0
    documents = root / "corpus" / "documents"

    with FileLock(root / "corpus" / ".lock"):  # as a `kb add` that is still running would
        remove = _kb_process(root, "remove", "samskabelse-i-praksis")
        add = _kb_process(root, "add", str(second), "--kind", "guidance", "--lang", "da")
        for proc in (remove, add):
            waiting = proc.stderr.readline()
            assert waiting.startswith("kb: waiting for another `kb add` or `kb remove`"), waiting
        assert remove.poll() is None and add.poll() is None
        assert (documents / "samskabelse-i-praksis.md").is_file()  # nothing changed while the lock is held
        assert len(list(documents.iterdir())) == 2
    results = [proc.communicate(timeout=120) for proc in (remove, add)]
    assert [proc.returncode for proc in (remove, add)] == [0, 0], results
    remaining = sorted(p.name for p in documents.iterdir())
    # one after the other: the add saw the first document (its id taken) or its removal (the id free)
    assert remaining in ([f"{doc_id}{suffix}" for suffix in (".md", ".meta.yaml")]
                         for doc_id in ("samskabelse-i-praksis", "samskabelse-i-praksis-2")), remaining
    assert "frivillige i ældreplejen" in (documents / remaining[0]).read_text(encoding="utf-8")
