"""A pydantic validation error as the line a person reads: which item, which field, what to do.

kb.toml, document metadata, query sets and handout plans all report their mistakes this way.
"""

from __future__ import annotations

from typing import Mapping

from pydantic import ValidationError
from pydantic_core import ErrorDetails


def describe(err: ErrorDetails, data: object = None, items: Mapping[str, tuple[str, str]] | None = None,
             unknown_hint: str = "") -> str:
    """One error of a validated file. `items` names the lists whose entries a person counts:
    {"themes": ("theme", "title")} turns themes.0.lang into "theme 1 ('Tillid'), field 'lang'"."""
    loc = list(err["loc"])
    item = ""
    if items and len(loc) >= 2 and loc[0] in items and isinstance(loc[1], int):
        noun, label_key = items[loc[0]]
        entries = data.get(loc[0]) if isinstance(data, dict) else None
        entry = entries[loc[1]] if isinstance(entries, list) and loc[1] < len(entries) else None
        label = entry.get(label_key) if isinstance(entry, dict) else None
        item = f"{noun} {loc[1] + 1}" + (f" ({label!r})" if isinstance(label, (str, int)) else "")
        loc = loc[2:]
    field = ".".join(str(part) for part in loc)
    subject = ", ".join(part for part in (item, f"field '{field}'" if field else "") if part)
    given = err.get("input")
    message = err["msg"].removeprefix("Value error, ")
    if err["type"] == "missing":
        return f"{subject} is required"
    if err["type"] == "extra_forbidden":
        return f"{item + ', ' if item else ''}unknown field '{field}'" + (f"; {unknown_hint}" if unknown_hint else "")
    if given is None:
        return f"{subject or 'the file'} is empty; give it a value"
    scalar = isinstance(given, (str, int, float))
    if err["type"] == "string_type" and scalar:
        return f"{subject or 'the file'}: YAML read {_shown(given)}, not text; put it in quotes"
    got = f" (got {_shown(given)})" if scalar else ""
    return f"{subject}: {message}{got}" if subject else f"{message}{got}"


def _shown(value: object, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def one_line(exc: ValidationError, data: object = None, items: Mapping[str, tuple[str, str]] | None = None,
             unknown_hint: str = "", all_errors: bool = False) -> str:
    """The first error (or all of them, joined by "; ") of a validated file as one line."""
    errors = exc.errors() if all_errors else exc.errors()[:1]
    return "; ".join(describe(err, data, items, unknown_hint) for err in errors)
