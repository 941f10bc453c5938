"""The glossary: sets of Danish, Norwegian and English words of one meaning, read from text files.

kb ships one (kb/data/glossary.txt); a knowledge base may add its own glossary.txt beside its
kb.toml, in the same format, for the words of its own field. A set there that names a word of a
shipped set extends that set. How the sets become index terms is kb.lexical's business.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path

from kb.errors import UsageError

GLOSSARY_FILE = "glossary.txt"
SHIPPED_GLOSSARY = Path(__file__).parent / "data" / GLOSSARY_FILE
_WORD = re.compile(r"\w+(?:-\w+)*")  # one token as the analyzer reads text


@dataclass(frozen=True)
class WordSet:
    words: tuple[str, ...]  # the first names the set
    where: str  # file:line, for messages

    @property
    def head(self) -> str:
        return self.words[0]


@dataclass(frozen=True)
class Glossary:
    sets: tuple[WordSet, ...]

    @property
    def fingerprint(self) -> str:
        """Changes when a word or a set changes, not with comments or layout."""
        content = json.dumps([list(s.words) for s in self.sets], ensure_ascii=False)
        return hashlib.sha256(content.encode()).hexdigest()[:12]

    def extended(self, extra: "Glossary") -> "Glossary":
        """This glossary with `extra`'s sets: one that names a word of a set here adds its other
        words to that set, the others are new sets."""
        sets = list(self.sets)
        owner = {word: i for i, s in enumerate(sets) for word in s.words}
        for added in extra.sets:
            targets = sorted({owner[w] for w in added.words if w in owner})
            if len(targets) > 1:
                first, second = (sets[i] for i in targets[:2])
                raise UsageError(
                    f"{added.where}: names words of two sets ('{first.head}' at {first.where}, '{second.head}' at "
                    f"{second.where}); a set may extend one other set"
                )
            target = targets[0] if targets else None
            if target is None:
                owner.update({w: len(sets) for w in added.words})
                sets.append(added)
                continue
            new = tuple(w for w in added.words if w not in owner)
            sets[target] = WordSet(sets[target].words + new, f"{sets[target].where} + {added.where}")
            owner.update({w: target for w in new})
        return Glossary(tuple(sets))


def parse_glossary(text: str, where: str) -> Glossary:
    """Sets from the text of a glossary file; a mistake is one line naming `where` and the line."""
    sets: list[WordSet] = []
    seen: dict[str, str] = {}
    lines: list[tuple[int, list[str]]] = []
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.split("#", 1)[0]
        if not line.strip():
            continue
        found = line.split()
        for word in found:
            if word != word.lower() or not _WORD.fullmatch(word):
                raise UsageError(f"{where}:{number}: '{word}' is not one lower-case word; write words in lower case, separated by spaces")
        if line[0].isspace() and lines:
            lines[-1][1].extend(found)
        else:
            lines.append((number, found))
    for number, found in lines:
        place = f"{where}:{number}"
        for word in found:
            if word in seen:
                raise UsageError(f"{place}: '{word}' is already in the set at {seen[word]}; keep it in one set")
            seen[word] = place
        if len(found) < 2:
            raise UsageError(f"{place}: a set needs two or more words of one meaning; add its translations or remove the line")
        sets.append(WordSet(tuple(found), place))
    return Glossary(tuple(sets))


def read_glossary(path: Path, where: str | None = None) -> Glossary:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"{where or path}: cannot be read ({exc.__class__.__name__}); save it as UTF-8 text") from None
    return parse_glossary(text, where or str(path))


def shipped_glossary() -> Glossary:
    return read_glossary(SHIPPED_GLOSSARY, f"kb/data/{GLOSSARY_FILE}")


def load_glossary(root: Path | None) -> Glossary:
    """The shipped glossary, extended by the knowledge base's own glossary.txt if it has one."""
    glossary = shipped_glossary()
    own = root / GLOSSARY_FILE if root is not None else None
    if own is not None and own.is_file():
        glossary = glossary.extended(read_glossary(own))
    return glossary
