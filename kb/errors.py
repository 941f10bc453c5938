"""User-facing errors: each carries one line that says what is wrong and what to do."""


class KBError(Exception):
    """A problem the user can fix; the CLI prints it as one line and exits non-zero."""

    exit_code = 1


class UsageError(KBError):
    """Bad arguments or query text."""

    exit_code = 2


class PassageNotFound(UsageError):
    """No passage has the given chunk id."""


class NoKnowledgeBase(UsageError):
    """No folder given, and none found here or above."""


class CorpusError(KBError):
    """A corpus file or its metadata is unusable."""


class IndexMissing(KBError):
    """No index has been built yet."""


class IndexCorrupt(KBError):
    """Index files exist but cannot be read."""


class ModelMismatch(KBError):
    """The configured encoder differs from the one the index was built with."""


class IndexBusy(KBError):
    """Another process holds the index lock."""


class IndexWriteError(KBError):
    """The index folder cannot take a write: the disk is full, or it is read-only."""


class IndexOutdated(IndexCorrupt):
    """The index was written in an older format; `kb index` rebuilds it."""


class StoreUnavailable(KBError):
    """The index database cannot be reached or used."""
