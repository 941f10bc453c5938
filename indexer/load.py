"""From a file in the corpus to a validated Document (text + metadata)."""

from __future__ import annotations

import codecs
import errno
import hashlib
import os
import re
import stat
from pathlib import Path

from pydantic import ValidationError

from kb.config import INDEX_DIR
from kb.errors import CorpusError
from kb.models import Document, DocumentMeta
from kb.validation import one_line
from kb.yamlfile import parse_yaml

TEXT_SUFFIXES = (".txt", ".md")
CONVERTED_SUFFIXES = (".pdf", ".docx", ".html", ".htm")
SOURCE_SUFFIXES = TEXT_SUFFIXES + CONVERTED_SUFFIXES
SIDECAR_SUFFIX = ".meta.yaml"
MAX_TEXT_BYTES = 50 * 1024 * 1024  # a plain-text file larger than this is not a document kb reads
_FRONT_MATTER = re.compile(r"\A---[ \t]*\r?\n(.*?)\r?\n---[ \t]*(\r?\n|\Z)", re.S)
# Encodings told by a byte-order mark (UTF-32 first: its LE mark starts with UTF-16's); else UTF-8.
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32-le"), (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"), (codecs.BOM_UTF16_LE, "utf-16-le"), (codecs.BOM_UTF16_BE, "utf-16-be"),
)
_NOT_REGULAR = ((stat.S_ISFIFO, "a pipe"), (stat.S_ISCHR, "a device"), (stat.S_ISBLK, "a device"),
                (stat.S_ISSOCK, "a socket"), (stat.S_ISDIR, "a folder"))


def is_skipped(rel_parts: tuple[str, ...]) -> bool:
    """Not a document, wherever kb looks (corpus or a folder given to `kb add`): hidden files and
    folders, templates and notes whose name starts with '_', and READMEs."""
    return any(part.startswith((".", "_")) for part in rel_parts) or Path(rel_parts[-1]).stem.upper().startswith("README")


def discover(corpus_dir: Path) -> list[Path]:
    """Source files of a corpus folder (pipes and devices too: loading them names the problem)."""
    if not corpus_dir.is_dir():
        return []
    return [
        path for path in sorted(corpus_dir.rglob("*"))
        if path.suffix.lower() in SOURCE_SUFFIXES and not is_skipped(path.relative_to(corpus_dir).parts)
        and not path.is_dir()
    ]


def content_key(text: str) -> str:
    """Two documents hold the same content when they have the same words, whatever the line
    breaks and spacing; the key is a digest, so a corpus of large files is cheap to compare."""
    return hashlib.sha256(" ".join(text.split()).encode("utf-8")).hexdigest()


def sidecar_path(path: Path) -> Path:
    return path.with_name(path.stem + SIDECAR_SUFFIX)


def parse_meta(data: object, where: str) -> DocumentMeta:
    if not isinstance(data, dict):
        raise CorpusError(f"{where}: metadata must be a YAML mapping of fields (see corpus/README.md)")
    try:
        return DocumentMeta.model_validate(data)
    except ValidationError as exc:
        raise CorpusError(f"{where}: {one_line(exc, data, all_errors=True)}") from None


def unreadable(label: str, exc: OSError, path: Path | None = None) -> CorpusError:
    """An OSError on a corpus or source file as one line that names the file."""
    if isinstance(exc, FileNotFoundError):
        return CorpusError(f"{label}: no such file" + (" (a broken link)" if path and path.is_symlink() else ""))
    if exc.errno == errno.ENAMETOOLONG:
        return CorpusError(f"{label}: its name is too long for this file system; rename it shorter")
    return CorpusError(f"{label}: cannot read it ({exc.strerror or exc}); check it exists and is readable")


def require_regular_file(path: Path, label: str) -> os.stat_result:
    """The file's status; a pipe, device, socket or folder under a document's name is refused
    (reading one can block forever or never end)."""
    try:
        status = path.stat()
    except OSError as exc:
        raise unreadable(label, exc, path) from None
    _check_regular(status, label)
    return status


def _check_regular(status: os.stat_result, label: str) -> None:
    for test, name in _NOT_REGULAR:
        if test(status.st_mode):
            raise CorpusError(f"{label}: is {name}, not a regular file; save its content as a file and add that")


def read_file_bytes(path: Path, label: str, limit: int = MAX_TEXT_BYTES) -> bytes:
    """The bytes of a regular file of at most `limit` bytes; anything else is a CorpusError.
    Opened without blocking and checked on the open file, so a pipe put in its place cannot hang us."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    except OSError as exc:
        raise unreadable(label, exc, path) from None
    with open(fd, "rb", closefd=True) as handle:
        status = os.fstat(fd)
        _check_regular(status, label)
        data = b""
        if status.st_size <= limit:
            try:
                data = handle.read(limit + 1)  # no more than the limit, should the file grow meanwhile
            except OSError as exc:
                raise unreadable(label, exc) from None
    if status.st_size > limit or len(data) > limit:
        raise CorpusError(
            f"{label}: larger than {limit // (1024 * 1024)} MB, the most kb reads from a text file; split it into parts"
        )
    return data


def decode_text(data: bytes, label: str) -> str:
    """Text from a file's bytes: UTF-8, or UTF-16/32 and UTF-8 with a byte-order mark; line ends as \\n."""
    encoding, start = next(((enc, len(bom)) for bom, enc in _BOMS if data.startswith(bom)), ("utf-8", 0))
    if start == 0 and b"\x00" in data[:8192]:
        raise CorpusError(f"{label}: looks like a binary file, not text; remove it or convert it")
    try:
        text = data[start:].decode(encoding)
    except UnicodeDecodeError as exc:
        name = encoding.upper().replace("-LE", "").replace("-BE", "")
        raise CorpusError(
            f"{label}: not {name} (byte 0x{data[start + exc.start]:02x} at offset {start + exc.start}); re-save it as UTF-8"
        ) from None
    return text.replace("\r\n", "\n")


def read_text_file(path: Path, label: str) -> str:
    return decode_text(read_file_bytes(path, label), label)


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
    try:
        found = sidecar.exists()
    except OSError as exc:
        if exc.errno != errno.ENAMETOOLONG:
            raise
        raise CorpusError(f"{label}: no metadata, and its name is too long for a sidecar beside it; rename it shorter") from None
    if not found:
        raise CorpusError(f"{label}: no metadata; add front matter or {_rel(sidecar, root)} (see corpus/README.md)")
    text = read_text_file(sidecar, _rel(sidecar, root))
    return parse_meta(parse_yaml(text, _rel(sidecar, root), CorpusError), _rel(sidecar, root))


def load_document(path: Path, root: Path) -> Document:
    """Read, extract and validate one source file; CorpusError names the file and what to do."""
    label = _rel(path, root)
    try:
        return _load_document(path, root, label)
    except OSError as exc:
        raise unreadable(label, exc, path) from None


def _load_document(path: Path, root: Path, label: str) -> Document:
    require_regular_file(path, label)
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
    """The path from the knowledge base root, as the user sees it (a link by its own name)."""
    try:
        return Path(os.path.abspath(path)).relative_to(os.path.abspath(root)).as_posix()
    except ValueError:
        pass
    try:
        return path.resolve().relative_to(root.resolve()).as_posix()
    except (ValueError, OSError, RuntimeError):  # RuntimeError: a link loop (Python < 3.13)
        return str(path)
