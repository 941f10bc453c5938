"""Who may ask: the Host and Origin checks against DNS rebinding, and read tokens.

A page on another site that a user's browser opens can make it send requests to a server on the
user's own machine (its name made to resolve to 127.0.0.1): the Host header then names that other
site, and the Origin header too. Both are checked on every request but the public ones.
Tokens travel as `Authorization: Bearer TOKEN` and are compared in constant time.
"""

from __future__ import annotations

import hmac

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

from kb_server.errors import error_response
from kb_server.settings import ServerSettings

# No data behind these, so no token: load balancers probe /health. The web page at / is served
# by the server itself (it asks for the token and sends it with each API call).
PUBLIC_PATHS = frozenset({"/", "/health", "/openapi.json"})


def host_name(host_header: str) -> str:
    """'Example.org:8765' -> 'example.org'; '[::1]:8765' -> '[::1]'."""
    host = host_header.strip().lower()
    if host.startswith("["):
        return host[: host.find("]") + 1] if "]" in host else host
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def token_matches(given: str, tokens: tuple[str, ...]) -> bool:
    """Constant time in the token's content: every configured token is compared, always."""
    given_bytes = given.encode()
    matched = False
    for token in tokens:
        matched |= hmac.compare_digest(given_bytes, token.encode())
    return matched


class Guard:
    """Host and Origin checks, then the bearer token when tokens are configured."""

    def __init__(self, app: ASGIApp, settings: ServerSettings):
        self.app = app
        self.settings = settings
        self.hosts = frozenset(settings.host_names)
        self.cors_origins = frozenset(settings.cors_origins)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in PUBLIC_PATHS:
            await self.app(scope, receive, send)
            return
        refusal = self.refusal(Headers(scope=scope), scope["method"])
        if refusal is not None:
            await refusal(scope, receive, send)
            return
        await self.app(scope, receive, send)

    def refusal(self, headers: Headers, method: str):
        host = headers.get("host", "")
        if host_name(host) not in self.hosts:
            return error_response(421, f"this server does not answer to the host name {host!r}; "
                                       "its operator can add it with kb serve --allowed-host NAME")
        origin = headers.get("origin")
        if origin is not None and not self._origin_allowed(origin):
            return error_response(403, f"requests from pages on {origin} are not allowed; "
                                       "its operator can allow them with kb serve --cors-origin URL")
        if not self.settings.tokens or method == "OPTIONS":  # a CORS preflight carries no credentials
            return None
        scheme, _, given = headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not given.strip():
            return error_response(401, "this server needs a read token: send the header Authorization: Bearer TOKEN",
                                  {"WWW-Authenticate": 'Bearer realm="kb"'})
        if not token_matches(given.strip(), self.settings.tokens):
            return error_response(403, "the token is not accepted here: check it with the server's operator",
                                  {"WWW-Authenticate": 'Bearer realm="kb", error="invalid_token"'})
        return None

    def _origin_allowed(self, origin: str) -> bool:
        """A page this server serves itself (http(s)://one of its hosts[:port]), or a CORS origin."""
        if origin in self.cors_origins:
            return True
        scheme, _, rest = origin.partition("://")
        return scheme in ("http", "https") and host_name(rest) in self.hosts
