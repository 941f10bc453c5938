"""A knowledge base served by `kb serve`, asked over HTTP: what the terminal client talks to.

It answers the calls the CLI makes of a local KnowledgeBase (search_answer, passage_answer, status,
handout): searches and passages as the JSON data the server sends, which the CLI renders as it
renders a local answer, and reports as the same records. Only the standard library on the search
and passage path (pydantic only for status and handout): a client needs no encoder, FAISS or numpy.
"""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Optional, Sequence

from kb.errors import IndexMissing, KBError, PassageNotFound, UsageError

SERVER_ENV = "KB_SERVER"
TOKEN_ENV = "KB_TOKEN"
TOKEN_FILE_ENV = "KB_TOKEN_FILE"
TIMEOUT_SECONDS = 120  # a handout of many questions on a busy server takes a while
# what the CLI reads of an answer: anything else did not come from a kb server
SEARCH_FIELDS = ("query", "weak_match", "confidence", "results", "highlights")
PASSAGE_FIELDS = ("passage", "before", "after")


class ServerError(KBError):
    """The server could not be reached, refused the request, or could not answer it."""


def read_token(environ: os._Environ | dict = os.environ) -> Optional[str]:
    """KB_TOKEN, else the first line of the file KB_TOKEN_FILE names; never a command-line argument
    (other users of the machine can read those)."""
    if environ.get(TOKEN_ENV):
        return environ[TOKEN_ENV].strip()
    path = environ.get(TOKEN_FILE_ENV)
    if not path:
        return None
    try:
        return Path(path).expanduser().read_text(encoding="utf-8").strip().splitlines()[0].strip()
    except (OSError, UnicodeDecodeError, IndexError) as exc:
        reason = getattr(exc, "strerror", None) or "empty or not text"
        raise UsageError(f"{TOKEN_FILE_ENV} {path}: cannot read the token ({reason})") from None


class RemoteKnowledgeBase:
    def __init__(self, url: str, token: Optional[str] = None):
        parsed = urllib.parse.urlsplit(url)
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise UsageError(f"server {url!r}: not an http(s) address; e.g. --server http://127.0.0.1:8765")
        self.url = url.rstrip("/")
        self.token = token
        self._analyzer_outdated = False

    # -- the calls the CLI makes ---------------------------------------------------------------
    def search_answer(self, query: str, k: int = 5, lang: Optional[str] = None, kind: Optional[str] = None,
                      mode: str = "hybrid", doc_ids: Optional[Sequence[str]] = None) -> dict:
        """The server's answer as it sent it: the JSON contract with highlights (details)."""
        params = [("q", query), ("top_k", k), ("lang", lang or "all"), ("mode", mode), ("details", "true")]
        params += [("kind", kind)] if kind else []
        params += [("doc", doc) for doc in doc_ids or ()]
        answer = self._request("GET", "/v1/search?" + urllib.parse.urlencode(params), fields=SEARCH_FIELDS)
        self._analyzer_outdated = bool(answer.get("analyzer_outdated"))
        return answer

    @property
    def analyzer_outdated(self) -> bool:
        """As the server said with its last search."""
        return self._analyzer_outdated

    def passage_answer(self, chunk_id: str, context: int = 1) -> dict:
        path = f"/v1/passages/{urllib.parse.quote(chunk_id, safe='')}?context={context}"
        return self._request("GET", path, fields=PASSAGE_FIELDS)

    def status(self):
        from kb.reports import StatusReport

        return StatusReport.model_validate(self._request("GET", "/v1/status"))

    def handout(self, plan_text: str):
        from kb.handout import Handout

        answer = self._request("POST", "/v1/handout?format=json", plan_text.encode("utf-8"), "application/yaml")
        return Handout.model_validate(answer)

    # -- HTTP ----------------------------------------------------------------------------------
    def _request(self, method: str, path: str, body: bytes | None = None, content_type: str | None = None,
                 fields: Sequence[str] = ()) -> dict:
        request = urllib.request.Request(self.url + path, data=body, method=method)
        request.add_header("Accept", "application/json")
        if content_type:
            request.add_header("Content-Type", content_type)
        if self.token:
            request.add_header("Authorization", f"Bearer {self.token}")
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:
                answer = json.loads(response.read().decode("utf-8"))
        except urllib.error.HTTPError as exc:
            raise self._refusal(exc) from None
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", None) or exc
            raise ServerError(f"cannot reach the kb server at {self.url} ({reason}); "
                              f"start it with `kb serve`, or check --server / {SERVER_ENV}") from None
        except (ValueError, UnicodeDecodeError):
            raise ServerError(f"{self.url} did not answer as a kb server (no JSON); check --server / {SERVER_ENV}") from None
        if not isinstance(answer, dict) or any(field not in answer for field in fields):
            raise ServerError(f"{self.url} did not answer as a kb server (not the fields of kb's API); "
                              f"check --server / {SERVER_ENV}")
        return answer

    def _refusal(self, exc: urllib.error.HTTPError) -> KBError:
        """The server's own one-line error, as the exception a local call would have raised."""
        try:
            message = json.loads(exc.read().decode("utf-8"))["error"]
        except Exception:
            message = f"the server answered {exc.code} {exc.reason}"
        if exc.code == 404:
            return PassageNotFound(message)
        if exc.code in (400, 413):
            return UsageError(message)
        if exc.code == 401:
            return ServerError(f"{message} (set {TOKEN_ENV} or {TOKEN_FILE_ENV})")
        if exc.code == 503 and "kb index" in message:
            return IndexMissing(message)
        return ServerError(message)
