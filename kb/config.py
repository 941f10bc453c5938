"""Where a knowledge base lives and how it is configured (kb.toml, and its glossary.txt)."""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass
from pathlib import Path

from typing import Optional

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, field_validator

from kb.errors import NoKnowledgeBase, UsageError
from kb.glossary import Glossary, load_glossary
from kb.models import EmbedderSpec
from kb.validation import one_line

CONFIG_FILE = "kb.toml"
CORPUS_DIR = "corpus"
INDEX_DIR = ".kb"
DATABASE_URL_ENV = "KB_DATABASE_URL"
DATABASE_SCHEMES = ("postgresql://", "postgres://")


class SearchSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    candidates: int = Field(default=100, ge=10, le=10_000, description="per retriever, before fusion")
    lexical_weight: float = Field(default=0.5, ge=0.0, le=1.0, description="at full lexical coverage")


class StoreSettings(BaseModel):
    """Where the index lives: the `.kb/` folder (default), or a PostgreSQL database."""

    model_config = ConfigDict(extra="forbid")

    url: Optional[str] = Field(default=None, description="postgresql://user@host/db; KB_DATABASE_URL overrides it")

    @field_validator("url")
    @classmethod
    def _postgresql(cls, url: Optional[str]) -> Optional[str]:
        if url is not None and not url.startswith(DATABASE_SCHEMES):
            raise ValueError("must start with postgresql:// (or be left out for the local index files)")
        return url or None


class KBConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    embedder: EmbedderSpec = Field(default_factory=EmbedderSpec)
    search: SearchSettings = Field(default_factory=SearchSettings)
    store: StoreSettings = Field(default_factory=StoreSettings)
    _glossary: Glossary | None = PrivateAttr(default=None)

    @property
    def glossary(self) -> Glossary:
        """The shipped glossary, with the knowledge base's glossary.txt when read by load_config."""
        if self._glossary is None:
            self._glossary = load_glossary(None)
        return self._glossary


@dataclass(frozen=True)
class KBPaths:
    root: Path

    @property
    def corpus(self) -> Path:
        return self.root / CORPUS_DIR

    @property
    def index(self) -> Path:
        return self.root / INDEX_DIR

    @property
    def config_file(self) -> Path:
        return self.root / CONFIG_FILE


def find_root(explicit: str | os.PathLike | None = None) -> KBPaths:
    """--kb DIR, else $KB_HOME, else the nearest folder upwards that holds kb.toml or corpus/."""
    chosen = explicit or os.environ.get("KB_HOME")
    if chosen:
        root = Path(chosen).expanduser()
        if not root.is_dir():
            source = "--kb" if explicit else "KB_HOME"
            raise UsageError(f"{source} {root}: no such folder; create it or point at a knowledge base")
        return KBPaths(root.resolve())
    here = Path.cwd().resolve()
    for folder in (here, *here.parents):
        if (folder / CONFIG_FILE).is_file() or (folder / CORPUS_DIR).is_dir():
            return KBPaths(folder)
    raise NoKnowledgeBase(
        "no knowledge base here: run inside one (a folder with corpus/), or pass --kb DIR or set KB_HOME"
    )


def load_config(paths: KBPaths) -> KBConfig:
    """kb.toml, with the index database of KB_DATABASE_URL when that is set, and the glossary."""
    config = _config_file(paths)
    config._glossary = load_glossary(paths.root)
    url = os.environ.get(DATABASE_URL_ENV, "").strip()
    if url:
        if not url.startswith(DATABASE_SCHEMES):
            raise UsageError(f"{DATABASE_URL_ENV} must start with postgresql:// (or be unset for the local index files)")
        config = config.model_copy(update={"store": StoreSettings(url=url)})
    return config


def _config_file(paths: KBPaths) -> KBConfig:
    path = paths.config_file
    if not path.is_file():
        return KBConfig()
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise UsageError(f"{path}: not valid TOML: {exc}") from None
    try:
        return KBConfig.model_validate(data)
    except ValidationError as exc:
        raise UsageError(f"{path}: {one_line(exc, data)}") from None
