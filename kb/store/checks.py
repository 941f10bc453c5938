"""Integrity of a local index: checksums of its files, the structure of what a search loads, and
one line for a write the disk refuses.

Checksums are xxh3-64 (several GB/s: the 1.5 GB vector file of a million passages takes well under
a second; blake2b would take seconds). `kb status` and `kb index` hash every file; a search hashes
only files small enough to cost nothing (VERIFY_ON_LOAD_BYTES) and checks the structure of the rest.
"""

from __future__ import annotations

import contextlib
import errno
import shutil
import sqlite3
from pathlib import Path
from typing import TYPE_CHECKING, Iterator, Optional

from kb.errors import IndexWriteError

if TYPE_CHECKING:
    import numpy as np

    from kb.models import IndexManifest

CHECKSUM = "xxh3_64"
READ_BLOCK = 1 << 22
VERIFY_ON_LOAD_BYTES = 8 << 20  # a search hashes files up to this size as it loads them (a few ms at most)
LOW_SPACE_BYTES = 1 << 20  # a write that failed with less than this free failed for lack of space


def checksum(path: Path) -> str:
    import xxhash

    digest = xxhash.xxh3_64()
    with open(path, "rb") as fh:
        while block := fh.read(READ_BLOCK):
            digest.update(block)
    return f"{CHECKSUM}:{digest.hexdigest()}"


def file_problem(folder: Path, name: str, manifest: "IndexManifest", hash_up_to: float = float("inf")) -> Optional[str]:
    """What is wrong with one file of a generation (None: it is as written). Files larger than
    `hash_up_to` bytes are checked by size only."""
    path = folder / name
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        return "missing"
    written = manifest.file_sizes.get(name)
    if written is not None and size != written:
        return f"{size} bytes where {written} were written"
    digest = manifest.checksums.get(name)
    if digest and size <= hash_up_to and checksum(path) != digest:
        return "its contents differ from what was written"
    return None


def views_problem(views: "np.ndarray", chunks: int, vectors: int) -> Optional[str]:
    """The view map lists each passage row's vectors in row order, every row at least once."""
    if views.ndim != 1 or len(views) != vectors:
        return "it does not match its manifest"
    if not len(views):
        return None if chunks == 0 else "it lists no vectors"
    steps = views[1:] - views[:-1]
    if views[0] != 0 or views[-1] != chunks - 1 or (len(steps) and (steps.min() < 0 or steps.max() > 1)):
        return "its passage rows are out of order"
    return None


def write_failure(exc: BaseException, folder: Path) -> Optional[str]:
    """The cause of a failed write that the user can fix, or None for any other failure."""
    if isinstance(exc, OSError) and exc.errno is not None:
        if exc.errno in (errno.ENOSPC, errno.EDQUOT):
            return "no space left on the device"
        if exc.errno == errno.EROFS:
            return "the file system is read-only"
        if exc.errno in (errno.EACCES, errno.EPERM):
            return "permission denied"
    text = str(exc).lower()
    if "disk is full" in text or "no space left" in text:
        return "no space left on the device"
    if "readonly database" in text or "read-only file system" in text:
        return "the file system is read-only"
    try:  # numpy and FAISS report a short write without its cause
        if shutil.disk_usage(folder).free < LOW_SPACE_BYTES:
            return "no space left on the device"
    except OSError:
        pass
    return None


ADVICE = {
    "no space left on the device": "free some space there and run `kb index` again",
    "the file system is read-only": "make it writable (or copy the knowledge base where it can be written) and run `kb index` again",
    "permission denied": "make it writable for this user and run `kb index` again",
}


def write_error(folder: Path, cause: str) -> IndexWriteError:
    return IndexWriteError(f"cannot write the index in {folder}: {cause}; {ADVICE[cause]} (nothing was lost)")


@contextlib.contextmanager
def writing(folder: Path) -> Iterator[None]:
    """Turn a write the disk refuses (full, read-only) into one line naming the folder."""
    try:
        yield
    except (OSError, sqlite3.Error, RuntimeError) as exc:
        cause = write_failure(exc, folder)
        if cause is None:
            raise
        raise write_error(folder, cause) from None


def probe_writable(folder: Path) -> None:
    """Fail early, before any work, when the index folder cannot be written at all."""
    import tempfile

    with writing(folder):
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            pass
