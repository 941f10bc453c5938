"""Every error answer is JSON `{"error": "<one line>"}` with a fitting status, never a traceback."""

from __future__ import annotations

from starlette.responses import JSONResponse

from kb.errors import KBError, PassageNotFound, UsageError


class Busy(KBError):
    """More requests wait for the worker than the server queues: come back in a moment."""


def error_response(status: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": one_line(message)}, status_code=status, headers=headers)


def one_line(message: str) -> str:
    return " ".join(str(message).split())


def status_of(exc: KBError) -> int:
    """Bad input is the client's to fix (400, 404); everything else is the server's (503): no
    index yet, a damaged one, an encoder that does not match it, too many requests waiting."""
    if isinstance(exc, PassageNotFound):
        return 404
    if isinstance(exc, UsageError):
        return 400
    return 503


def kb_error_response(exc: KBError) -> JSONResponse:
    status = status_of(exc)
    headers = {"Retry-After": "1"} if isinstance(exc, Busy) else None
    return error_response(status, str(exc), headers)


def describe_validation_error(err: dict) -> str:
    """One pydantic/FastAPI validation error as one line naming the parameter or field."""
    loc = [str(part) for part in err.get("loc", ())]
    what = "parameter" if loc[:1] == ["query"] or loc[:1] == ["path"] else "field"
    name = ".".join(part for part in loc if part not in ("query", "body", "path"))
    kind = err.get("type", "")
    if kind in ("json_invalid", "json_type"):
        return f"the body is not valid JSON ({err.get('msg', '')}); send a JSON object"
    if not name:
        return f"the body must be a JSON object ({err.get('msg', 'invalid')})"
    if kind == "extra_forbidden":
        return f"unknown {what} '{name}'; see /openapi.json for what this endpoint takes"
    if kind == "missing":
        return f"{what} '{name}' is required"
    return f"{what} '{name}': {err.get('msg', 'invalid')}"
