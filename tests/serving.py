"""A real `kb serve` process on a free port, for the server and MCP tests."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import httpx

READY = re.compile(r"kb: serving .* at (http://\S+) with")
TOKEN = "test-token-0123456789abcdef"


@dataclass
class Served:
    proc: subprocess.Popen
    url: str
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8")

    def client(self, token: str | None = None, **kwargs) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=60, **kwargs)

    def stop(self) -> str:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.log()


def copy_kb(template: Path, tmp_path_factory, name: str) -> Path:
    """A private copy of an indexed knowledge base, for one module's server."""
    root = tmp_path_factory.mktemp(name) / "kb"
    shutil.copytree(template, root)
    return root


@contextlib.contextmanager
def serving(root: Path, *args: str, **kwargs) -> Iterator[Served]:
    """A server for the length of a `with` block (a fixture's life)."""
    served = start_server(root, *args, **kwargs)
    try:
        yield served
    finally:
        served.stop()


def start_server(root: Path, *args: str, env: dict | None = None, log_name: str = "serve.log",
                 timeout: float = 180) -> Served:
    """`kb --kb ROOT serve --port 0 ARGS...`; returns once it answers, with its URL and log file."""
    log_path = root.parent / f"{root.name}-{log_name}"
    full_env = {**os.environ, **(env or {})}
    full_env.pop("KB_HOME", None)
    with open(log_path, "w", encoding="utf-8") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "search_cli.app", "--kb", str(root), "serve", "--port", "0", *args],
            stdout=log, stderr=subprocess.STDOUT, env=full_env, cwd=str(root),
        )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        match = READY.search(log_path.read_text(encoding="utf-8"))
        if match:
            return Served(proc, match.group(1), log_path)
        if proc.poll() is not None:
            raise AssertionError(f"kb serve exited with {proc.returncode}:\n{log_path.read_text(encoding='utf-8')}")
        time.sleep(0.05)
    proc.kill()
    raise AssertionError(f"kb serve did not start in {timeout} s:\n{log_path.read_text(encoding='utf-8')}")


def assert_json_error(response: httpx.Response, status: int, *mentions: str) -> str:
    """An error answer: the status, JSON {"error": one line}, no traceback."""
    assert response.status_code == status, (response.status_code, response.text)
    assert response.headers["content-type"].startswith("application/json"), response.headers
    body = response.json()
    assert list(body) == ["error"], body
    error = body["error"]
    assert error and "\n" not in error and "Traceback" not in error, error
    for needle in mentions:
        assert needle in error, (needle, error)
    return error


def wait_for(condition, timeout: float = 30, every: float = 0.2):
    """Poll until `condition()` returns something true; return it."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(every)
