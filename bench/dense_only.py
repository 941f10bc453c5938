"""Child process: the dense index alone at a size the full pipeline cannot reach in time.

    python bench/dense_only.py BASE_NPY QUERIES_NPY N [--sigma 0.6] [--nprobe 48,96,192]

Builds N synthetic vectors (as bench.synthetic does), the FAISS index kb would choose for them
(kb.store.dense.choose_index / build_index), and searches it with kb.store.dense.search; prints one JSON
object with build time, latency, recall@10 against exact search and memory.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.measure import proc_status, summary  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("base")
    parser.add_argument("queries")
    parser.add_argument("n", type=int)
    parser.add_argument("--sigma", type=float, default=0.6)
    parser.add_argument("--nprobe", default="48,96,192,256")
    parser.add_argument("--k", type=int, default=10)
    args = parser.parse_args()

    import numpy as np

    import faiss
    from bench.synthetic import synthetic_vectors
    from kb.store import dense

    base = np.load(args.base)
    queries = np.load(args.queries)
    before = proc_status()
    rng = np.random.default_rng(7)
    vectors = np.empty((args.n, base.shape[1]), dtype=np.float32)
    for start in range(0, args.n, 100_000):
        part, _ = synthetic_vectors(base, min(100_000, args.n - start), rng, args.sigma)
        vectors[start : start + len(part)] = part
    kind, params = dense.choose_index(args.n)
    t = time.perf_counter()
    index = dense.build_index(vectors, kind, params)
    build_s = time.perf_counter() - t
    exact = faiss.IndexFlatIP(vectors.shape[1])
    exact.add(vectors)
    _, truth = exact.search(queries, args.k)
    del exact, vectors
    index_only = proc_status()
    out: dict = {"n": args.n, "index": kind, "params": params, "build_s": round(build_s, 1), "sweep": []}
    configured = params.get("nprobe")
    for nprobe in [int(x) for x in args.nprobe.split(",")] if hasattr(index, "nprobe") else [None]:
        if nprobe is not None:
            index.nprobe = nprobe
        lat, hits = [], 0
        for qi, q in enumerate(queries):
            t = time.perf_counter()
            _, rows = dense.search(index, q, 400)
            lat.append((time.perf_counter() - t) * 1000)
            hits += len(set(rows[: args.k].tolist()) & set(truth[qi].tolist()))
        out["sweep"].append({"nprobe": nprobe, "configured": nprobe == configured, "search_400_ms": summary(lat, 3),
                             f"recall@{args.k}": round(hits / (args.k * len(queries)), 4)})
    out["memory_mb"] = {"before": before["rss_mb"], "index_loaded": index_only["rss_mb"], "peak": proc_status()["hwm_mb"]}
    print(json.dumps(out))


if __name__ == "__main__":
    main()
