"""YAML the user writes (metadata, query sets, handout plans): one parser, one kind of error."""

from __future__ import annotations

import yaml

from kb.errors import KBError, UsageError


def parse_yaml(text: str, where: str, error: type[KBError] = UsageError) -> object:
    """The data in `text`; a syntax error is one line naming `where` and the line."""
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f"{mark.line + 1}:" if mark is not None else ""
        problem = getattr(exc, "problem", None) or "cannot be parsed"
        hint = "the indentation and quoting on that line" if mark is not None else "indentation and quoting"
        raise error(f"{where}:{line} not valid YAML ({problem}); check {hint}") from None
    except ValueError as exc:  # a date YAML recognises but the calendar does not (2021-02-30)
        raise error(f"{where}: {exc}; write dates as YYYY-MM-DD") from None
