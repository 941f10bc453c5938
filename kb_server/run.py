"""Start serving: bind the socket (so a taken port is one clear line), warm the knowledge base,
then hand the socket to uvicorn. `kb mcp` runs the same engine over stdio."""

from __future__ import annotations

import logging.config
import socket
import sys

from kb.errors import KBError, UsageError
from kb.knowledge_base import KnowledgeBase
from kb_server.settings import ServerSettings

SERVER_EXTRA = "pip install 'kb-samskabelse[server]'"
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(message)s"}},
    "handlers": {"stderr": {"class": "logging.StreamHandler", "formatter": "plain", "stream": "ext://sys.stderr"}},
    "loggers": {
        "kb": {"handlers": ["stderr"], "level": "INFO", "propagate": False},
        "uvicorn.error": {"handlers": ["stderr"], "level": "INFO", "propagate": False},
        "mcp": {"handlers": ["stderr"], "level": "WARNING", "propagate": False},
    },
}


def require_server_extra() -> None:
    """Checked before the index loads; the MCP SDK is only looked up, not imported (an HTTP server
    imports it at its first MCP request)."""
    import importlib.util

    try:
        import fastapi  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError as exc:
        raise KBError(f"serving needs {exc.name}, which this install lacks: {SERVER_EXTRA}") from None
    if importlib.util.find_spec("mcp") is None:
        raise KBError(f"serving needs mcp, which this install lacks: {SERVER_EXTRA}")


def bind(host: str, port: int) -> socket.socket:
    """A listening socket; clients that connect during the warm-up wait in its backlog."""
    try:
        infos = socket.getaddrinfo(host.strip("[]"), port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise UsageError(f"--host {host}: not an address of this machine ({exc.strerror})") from None
    family, kind, proto, _, address = sorted(infos, key=lambda info: info[0] != socket.AF_INET)[0]
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
        sock.listen(128)
    except OSError as exc:
        sock.close()
        raise UsageError(f"cannot listen on {host}:{port} ({exc.strerror}): choose another --port or --host") from None
    return sock


def url_of(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def serve(kb: KnowledgeBase, settings: ServerSettings) -> None:
    import uvicorn

    from kb_server.app import create_app
    from kb_server.engine import Engine

    sock = bind(settings.host, settings.port)
    logging.config.dictConfig(LOGGING)
    engine = Engine(kb)
    try:
        if engine.warm_up() is None:
            print("kb: no index yet: searches answer 503 until `kb index` builds one (no restart needed)", file=sys.stderr)
        app = create_app(engine, settings)
        auth = f"{len(settings.tokens)} read token(s)" if settings.tokens else "no tokens (this machine only)"
        print(f"kb: serving {kb.paths.root} at {url_of(sock)} with {auth}; Ctrl-C stops", file=sys.stderr, flush=True)
        config = uvicorn.Config(app, log_config=None, access_log=False, server_header=False,
                                timeout_graceful_shutdown=5, lifespan="on")
        uvicorn.Server(config).run(sockets=[sock])
    finally:
        engine.close()
        sock.close()


def serve_mcp_stdio(kb: KnowledgeBase) -> None:
    import anyio

    from kb_server.app import kb_version
    from kb_server.engine import Engine
    from kb_server.mcp_tools import serve_stdio

    logging.config.dictConfig(LOGGING)
    engine = Engine(kb)
    try:
        if engine.warm_up() is None:
            print("kb: no index yet: tools answer with an error until `kb index` builds one", file=sys.stderr)
        anyio.run(serve_stdio, engine, kb_version())
    finally:
        engine.close()
