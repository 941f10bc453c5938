"""What a server listens on and whom it answers: address, tokens, allowed hosts and origins.

Tokens come from a file (`--token-file`, `KB_TOKEN_FILE`) or the environment (`KB_TOKENS`), never
from the command line, where every user of the machine can read them in the process list.
"""

from __future__ import annotations

import ipaddress
import os
import string
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from kb.errors import UsageError

LOOPBACK_NAMES = ("127.0.0.1", "localhost", "[::1]")
WILDCARDS = ("0.0.0.0", "::", "")
MIN_TOKEN_CHARS = 16
TOKEN_CHARS = frozenset(string.ascii_letters + string.digits + "-._~+/=")  # what a Bearer header carries
MAKE_TOKEN = "python -c 'import secrets; print(secrets.token_urlsafe(32))'"


class ServerSettings(BaseModel):
    model_config = ConfigDict(frozen=True)

    host: str
    port: int
    tokens: tuple[str, ...] = ()
    allowed_hosts: tuple[str, ...] = ()  # names clients use besides the listening address
    cors_origins: tuple[str, ...] = ()
    log_queries: bool = False

    @property
    def loopback(self) -> bool:
        return is_loopback(self.host)

    @property
    def host_names(self) -> tuple[str, ...]:
        """Host header values (without port) this server answers to: DNS-rebinding protection."""
        names = list(LOOPBACK_NAMES)
        if self.host not in WILDCARDS:
            names.append(f"[{self.host}]" if ":" in self.host else self.host)
        names += [name.lower() for name in self.allowed_hosts]
        return tuple(dict.fromkeys(names))

    def mcp_transport_security(self):
        """The same Host and Origin rules for the MCP SDK's own checks (patterns: 'name:*' is any port)."""
        from mcp.server.transport_security import TransportSecuritySettings

        hosts = [pattern for name in self.host_names for pattern in (name, f"{name}:*")]
        origins = [f"{scheme}://{host}" for host in hosts for scheme in ("http", "https")]
        return TransportSecuritySettings(enable_dns_rebinding_protection=True, allowed_hosts=hosts,
                                         allowed_origins=origins + list(self.cors_origins))


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def read_tokens(token_file: str | None, environ: dict[str, str] | None = None) -> tuple[str, ...]:
    """Tokens from the file (one a line, # comments) and from KB_TOKENS (separated by spaces or commas)."""
    environ = os.environ if environ is None else environ
    found: list[tuple[str, str]] = []  # (where, token)
    path = token_file or environ.get("KB_TOKEN_FILE")
    if path:
        source = "--token-file" if token_file else "KB_TOKEN_FILE"
        try:
            text = Path(path).read_text(encoding="utf-8")
        except FileNotFoundError:
            raise UsageError(f"{source} {path}: no such file; write one token a line into it") from None
        except (IsADirectoryError, PermissionError, UnicodeDecodeError) as exc:
            raise UsageError(f"{source} {path}: cannot read it ({exc.__class__.__name__}); give a readable text file") from None
        lines = [(n, line.strip()) for n, line in enumerate(text.splitlines(), start=1)]
        tokens = [(f"{path}:{n}", line) for n, line in lines if line and not line.startswith("#")]
        if not tokens:
            raise UsageError(f"{source} {path}: holds no token; write one a line (make one with {MAKE_TOKEN})")
        found += tokens
    for token in environ.get("KB_TOKENS", "").replace(",", " ").split():
        found.append(("KB_TOKENS", token))
    for where, token in found:
        if len(token) < MIN_TOKEN_CHARS or not set(token) <= TOKEN_CHARS:
            raise UsageError(
                f"{where}: a token needs at least {MIN_TOKEN_CHARS} letters, digits or -._~+/= "
                f"(make one with {MAKE_TOKEN})"
            )
    return tuple(dict.fromkeys(token for _, token in found))


def make_settings(host: str, port: int, token_file: str | None, allowed_hosts: tuple[str, ...] = (),
                  cors_origins: tuple[str, ...] = (), log_queries: bool = False) -> ServerSettings:
    """Validated settings; refuses to listen beyond this machine without tokens."""
    if not 0 <= port <= 65535:
        raise UsageError(f"--port {port}: use a port from 1 to 65535 (0 picks a free one)")
    for origin in cors_origins:
        if not origin.startswith(("http://", "https://")) or origin.rstrip("/") != origin:
            raise UsageError(f"--cors-origin {origin!r}: give a scheme and host, e.g. https://intranet.example.org")
    settings = ServerSettings(host=host, port=port, tokens=read_tokens(token_file), allowed_hosts=tuple(allowed_hosts),
                              cors_origins=tuple(cors_origins), log_queries=log_queries)
    if not settings.loopback and not settings.tokens:
        raise UsageError(
            f"--host {host} answers other machines, so it needs read tokens: put them in a file "
            "(one a line) and pass --token-file FILE, or set KB_TOKEN_FILE or KB_TOKENS"
        )
    if host in WILDCARDS and not allowed_hosts:
        raise UsageError(
            f"--host {host} listens on every address: name the host clients connect to with "
            "--allowed-host NAME (or KB_ALLOWED_HOSTS), e.g. --allowed-host kb.example.org"
        )
    return settings
