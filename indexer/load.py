"""From a file in the corpus to a validated Document (text + metadata)."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

from pydantic import ValidationError

from kb.config import INDEX_DIR
from kb.errors import CorpusError
from kb.models import Document, DocumentMeta
from kb.yamlfile import parse_yaml

TEXT_SUFFIXES = (".txt", ".md")
CONVERTED_SUFFIXES = (".pdf", ".docx", ".html", ".htm")
SOURCE_SUFFIXES = TEXT_SUFFIXES + CONVERTED_SUFFIXES
SIDECAR_SUFFIX = ".meta.yaml"
_FRONT_MATTER = re.compile(r"\A---[ \t]*\r?\n(.*?)\r?\n---[ \t]*(\r?\n|\Z)", re.S)


def discover(corpus_dir: Path) -> list[Path]:
    """Source files of a corpus folder; READMEs, templates (_*) and hidden files are not documents."""
    if not corpus_dir.is_dir():
        return []
    found = []
    for path in sorted(corpus_dir.rglob("*")):
        rel_parts = path.relative_to(corpus_dir).parts
        if any(part.startswith((".", "_")) for part in rel_parts):
            continue
        if path.is_file() and path.suffix.lower() in SOURCE_SUFFIXES:
            if path.stem.upper().startswith("README"):
                continue
            found.append(path)
    return found


def sidecar_path(path: Path) -> Path:
    return path.with_name(path.stem + SIDECAR_SUFFIX)


def format_validation_error(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors():
        field = ".".join(str(p) for p in err["loc"]) or "metadata"
        given = err.get("input")
        shown = f" (got {given!r})" if err["type"] not in ("missing", "extra_forbidden") and isinstance(given, (str, int, float)) else ""
        parts.append(f"field '{field}': {err['msg']}{shown}")
    return "; ".join(parts)


def parse_meta(data: object, where: str) -> DocumentMeta:
    if not isinstance(data, dict):
        raise CorpusError(f"{where}: metadata must be a YAML mapping of fields (see corpus/README.md)")
    try:
        return DocumentMeta.model_validate(data)
    except ValidationError as exc:
        raise CorpusError(f"{where}: {format_validation_error(exc)}") from None


def read_text_file(path: Path, label: str) -> str:
    data = path.read_bytes()
    if b"\x00" in data[:8192]:
        raise CorpusError(f"{label}: looks like a binary file, not text; remove it or convert it")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise CorpusError(
            f"{label}: not UTF-8 (byte 0x{data[exc.start]:02x} at offset {exc.start}); re-save it as UTF-8"
        ) from None
    return text.replace("\r\n", "\n")


def split_front_matter(text: str, label: str) -> tuple[object | None, str]:
    """Front matter and the body, the matter blanked so offsets and lines stay those of the file."""
    match = _FRONT_MATTER.match(text)
    if not match:
        return None, text
    data = parse_yaml(match.group(1), f"{label} (front matter)", CorpusError)
    blanked = re.sub(r"[^\n]", " ", match.group(0))
    return data, blanked + text[match.end() :]


def load_meta(path: Path, root: Path, front_matter: object | None) -> DocumentMeta:
    label = _rel(path, root)
    sidecar = sidecar_path(path)
    if front_matter is not None:
        return parse_meta(front_matter, f"{label} (front matter)")
    if not sidecar.exists():
        raise CorpusError(
            f"{label}: no metadata; add front matter or {_rel(sidecar, root)} (see corpus/README.md)"
        )
    text = read_text_file(sidecar, _rel(sidecar, root))
    return parse_meta(parse_yaml(text, _rel(sidecar, root), CorpusError), _rel(sidecar, root))


def load_document(path: Path, root: Path) -> Document:
    """Read, extract and validate one source file; CorpusError names the file and what to do."""
    label = _rel(path, root)
    if not path.is_file():
        raise CorpusError(f"{label}: no such file")
    suffix = path.suffix.lower()
    pages: list[int] = []
    front_matter = None
    if suffix in TEXT_SUFFIXES:
        text = read_text_file(path, label)
        if suffix == ".md":
            front_matter, text = split_front_matter(text, label)
    else:
        from indexer import extract

        text, pages = extract.extract(path, label, root / INDEX_DIR)
    meta = load_meta(path, root, front_matter)
    if not text.strip():
        raise CorpusError(f"{label}: has no text; remove the file or fill it in")
    digest = hashlib.sha256()
    digest.update(text.encode("utf-8"))
    digest.update(meta.model_dump_json().encode("utf-8"))
    return Document(meta=meta, path=label, text=text, pages=pages, content_hash=digest.hexdigest())


def _rel(path: Path, root: Path) -> str:
    try:
        return path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return str(path)
