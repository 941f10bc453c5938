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
        at = f", line {mark.line + 1}" if mark is not None else ""
        raise error(f"{where}:{line} not valid YAML ({problem}{at}); check indentation and quoting") from None
