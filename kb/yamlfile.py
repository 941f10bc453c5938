"""YAML the user writes (metadata, query sets, handout plans): one parser, one kind of error.

Booleans follow YAML 1.2's core schema: only true/false (True, TRUE, False, FALSE) are booleans.
YAML 1.1, PyYAML's default, also reads yes/no/on/off/y/n that way, so `country: NO` (Norway)
became false and `tags: [ja, nej, on]` a mix of types. Everything else, unquoted dates
(2024-05-01) among it, reads as PyYAML reads it.
"""

from __future__ import annotations

import re

import yaml

from kb.errors import KBError, UsageError


# libyaml's parser where PyYAML has it (its wheels do): a document's front matter in 19 µs of CPU
# against 162 in the pure-Python one, read for every document by `kb index` and `kb status`.
_SafeLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _UserLoader(_SafeLoader):
    """PyYAML's safe loader with YAML 1.2 core booleans."""


_UserLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in _SafeLoader.yaml_implicit_resolvers.items()
}
_UserLoader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)


def parse_yaml_tree(text: str, where: str, error: type[KBError] = UsageError) -> tuple[object, yaml.Node | None]:
    """The data in `text` and its node tree (line numbers for error messages), parsed once;
    a syntax error is one line naming `where` and the line."""
    loader = None
    try:
        loader = _UserLoader(text)  # rejects control characters here, before parsing
        root = loader.get_single_node()
        return (loader.construct_document(root) if root is not None else None), root
    except yaml.reader.ReaderError as exc:
        line = text.count("\n", 0, exc.position) + 1
        code = ord(exc.character) if isinstance(exc.character, str) else exc.character
        raise error(f"{where}:{line}: not valid YAML (control character 0x{code:02x}); remove it") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f"{mark.line + 1}:" if mark is not None else ""
        problem = getattr(exc, "problem", None) or "cannot be parsed"
        hint = "the indentation and quoting on that line" if mark is not None else "indentation and quoting"
        raise error(f"{where}:{line} not valid YAML ({problem}); check {hint}") from None
    except ValueError as exc:  # a date YAML recognises but the calendar does not (2021-02-30)
        raise error(f"{where}: {exc}; write dates as YYYY-MM-DD") from None
    finally:
        if loader is not None:
            loader.dispose()


def parse_yaml(text: str, where: str, error: type[KBError] = UsageError) -> object:
    """The data in `text`; a syntax error is one line naming `where` and the line."""
    return parse_yaml_tree(text, where, error)[0]
