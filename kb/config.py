"""Where a knowledge base lives and how it is configured (kb.toml)."""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from kb.errors import NoKnowledgeBase, UsageError
from kb.models import EmbedderSpec
from kb.validation import one_line

CONFIG_FILE = "kb.toml"
CORPUS_DIR = "corpus"
INDEX_DIR = ".kb"


class SearchSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    candidates: int = Field(default=100, ge=10, le=10_000, description="per retriever, before fusion")
    lexical_weight: float = Field(default=0.5, ge=0.0, le=1.0, description="at full lexical coverage")


class KBConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    embedder: EmbedderSpec = Field(default_factory=EmbedderSpec)
    search: SearchSettings = Field(default_factory=SearchSettings)


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
