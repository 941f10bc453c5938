"""Two `kb serve` processes on one PostgreSQL database under the serving benchmark's soak load:
bench/postgres.py's `serve2` stage.

The shipped corpus is indexed locally with the real encoder and moved with `kb store migrate`
into a fresh database; two `kb serve` processes (same knowledge base folder, KB_DATABASE_URL
naming the database, each on its own port) take the soak's clients, even-numbered ones the
first server, odd-numbered ones the second, while `kb index` (a third process on the same
database) adds the soak's documents in two batches. Every answer is checked as bench/serve.py's
soak checks it; a watcher polls kb.state to time each commit, and each server's first answer
from the new generation is timed against it. Then the same with one server taking every client,
on a fresh database: the baseline.
"""

from __future__ import annotations

import os
import shutil
import threading
import time
from pathlib import Path

from bench import serve, synthetic
from bench.measure import checked, load, run_timed
from bench.run import INDEX_LINE, child_env, kb_command, log

SECONDS = 60.0
CLIENTS = 8
SERVERS = ("a", "b")
WATCH_EVERY_S = 0.01


def live_manifest(url: str) -> dict:
    from kb.store.postgres import PostgresStore

    store = PostgresStore(url)
    try:
        return store.open_reader().manifest.model_dump()
    finally:
        store.close()


def database_truth(url: str, doc_ids: set[str], probe_passages: int) -> tuple[str, dict]:
    """serve.generation_truth for a knowledge base whose index is in a database."""
    manifest = live_manifest(url)
    return manifest["generation"], {"documents": manifest["documents"], "passages": manifest["chunks"],
                                    "doc_ids": sorted(doc_ids), "probe_passages": probe_passages}


def prefill_database_cache(url: str, base, keys: list[str], seed: int) -> int:
    """synthetic.prefill_cache for the database's embedding cache: a synthetic vector around a real
    one for every key it lacks, so that `kb index` embeds nothing and both swaps fit the window."""
    import numpy as np

    from kb.store.postgres import PostgresStore

    store = PostgresStore(url)
    cache = store.embedding_cache(base.shape[1])
    try:
        missing = cache.missing(keys)
        if missing:
            vectors, _ = synthetic.synthetic_vectors(base, len(missing), np.random.default_rng(seed))
            cache.put(missing, vectors)
        return len(missing)
    finally:
        cache.close()
        store.close()


class CommitWatcher:
    """Polls kb.state on its own connection; the perf_counter() at which each live generation
    was first seen (within WATCH_EVERY_S of its commit, on a loaded machine a little more)."""

    def __init__(self, url: str):
        self.url = url
        self.seen: dict[str, float] = {}
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._watch, daemon=True)

    def _watch(self) -> None:
        import psycopg

        with psycopg.connect(self.url, autocommit=True) as conn:
            while not self.stop.is_set():
                live = conn.execute("SELECT live FROM kb.state").fetchone()[0]
                self.seen.setdefault(live, time.perf_counter())
                time.sleep(WATCH_EVERY_S)

    def __enter__(self) -> "CommitWatcher":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop.set()
        self.thread.join(10)


def pick_up(samples: list, generation: str, committed_s: float, older: set[str]) -> dict:
    """When one server first answered from `generation`, counted from its commit; and how many of
    its requests sent after the commit still answered from an older generation."""
    new = [s for s in samples if s.status == 200 and s.generation == generation]
    first = min((s.start + s.ms / 1000 for s in new), default=None)
    return {"first_answer_s": None if first is None else round(first, 3),
            "after_commit_ms": None if first is None else round((first - committed_s) * 1000, 1),
            "sent_after_commit_answered_older": sum(1 for s in samples if s.status == 200 and s.start > committed_s
                                                    and s.generation in older)}


def stage_serve2(work: Path, server) -> dict:
    """Two servers, then one alone as the baseline: each on a fresh database of the same corpus,
    under the same load and the same two `kb index` runs."""
    folder = work / "serve2"
    source = serve.shipped_kb(folder)  # the shipped corpus indexed locally (reused when there)
    staging = folder / "staging"
    shutil.rmtree(staging, ignore_errors=True)
    batches = serve.write_soak_batches(staging, synthetic.sentence_pools())
    questions = synthetic.real_questions(200)
    out = soak_on_database(folder, source, server, SERVERS, batches, questions)
    out["one_server"] = soak_on_database(folder, source, server, SERVERS[:1], batches, questions)
    return out


def soak_on_database(folder: Path, source: Path, server, names: tuple[str, ...], batches: list, questions: list[str]) -> dict:
    """The soak against `kb serve` processes (one per name) on a fresh database holding `source`."""
    what = f"{len(names)} server{'s' if len(names) > 1 else ''}"
    kb_dir = folder / "kb"
    shutil.rmtree(kb_dir, ignore_errors=True)
    shutil.copytree(source, kb_dir, ignore=shutil.ignore_patterns("*.log"))
    url = server.database("bench_serve2")
    log(f"serve2, {what}: kb store migrate of the shipped corpus into a fresh database")
    moved = checked(run_timed([*kb_command(), "--kb", str(kb_dir), "store", "migrate", "--to", url], env=child_env()),
                    "kb store migrate (serve2)")
    env = {"KB_DATABASE_URL": url}
    base = serve.real_vectors(kb_dir)
    servers = {name: serve.start_server(kb_dir, f"serve2-{len(names)}-{name}", env=env) for name in names}
    out: dict = {"clients": CLIENTS, "seconds": SECONDS, "servers": len(servers), "added_documents": serve.SOAK_DOCS,
                 "cores": os.cpu_count(), "migrate_s": round(moved["wall_s"], 1), "server_start_s": {n: s.started_s for n, s in servers.items()},
                 "batches": []}
    try:
        import httpx

        listed = httpx.get(f"{servers[names[0]].url}/v1/documents", timeout=60).json()["documents"]
        shipped_ids = {d["doc_id"] for d in listed}
        truth: dict[str, dict] = {}
        name, facts = database_truth(url, shipped_ids, 0)
        truth[name] = facts
        urls = [servers[n].url for n in names]

        def ask(i: int, n: int):  # the soak's mix, each client on one server: client i on server i % servers
            kind, path, params = serve.soak_ask(i, n, questions)
            return kind, urls[i % len(urls)] + path, params

        clients = serve.Clients(urls[0], CLIENTS, SECONDS, ask, keep_bodies=True)
        runner = threading.Thread(target=clients.run, daemon=True)
        log(f"serve2, {what}: {CLIENTS} clients for {SECONDS:.0f} s")
        out["load_before"] = load()
        with CommitWatcher(url) as watcher:
            runner.start()
            while not clients.began:
                time.sleep(0.001)
            began = clients.began
            have_ids, probe = set(shipped_ids), 0
            for b, batch in enumerate(batches):
                time.sleep(max(0.0, began + SECONDS * (b + 1) / (serve.SOAK_BATCHES + 2) - time.perf_counter()))
                for doc_id, _chunks, _keys in batch:
                    shutil.copy(folder / "staging" / "corpus" / "documents" / f"{doc_id}.md", kb_dir / "corpus" / "documents")
                prefill_database_cache(url, base, [k for _, _, keys in batch for k in keys], seed=b)
                at = time.perf_counter() - began
                log(f"serve2, {what}: kb index adds {len(batch)} documents ({at:.0f} s into the load)")
                indexed = checked(run_timed([*kb_command(), "--kb", str(kb_dir), "index"], env=child_env(**env)),
                                  f"kb index (serve2 batch {b + 1})")
                exited = time.perf_counter() - began
                match = INDEX_LINE.search(indexed["stderr"])
                have_ids |= {doc_id for doc_id, _, _ in batch}
                probe += sum(chunks for _, chunks, _ in batch)
                name, facts = database_truth(url, have_ids, probe)
                truth[name] = facts
                out["batches"].append({"documents": len(batch), "started_at_s": round(at, 2), "kb_index_s": round(indexed["wall_s"], 2),
                                       "exited_at_s": round(exited, 2), "embedded": int(match.group(3)) if match else None,
                                       "generation": name, "passages": facts["passages"], "load": load()})
            runner.join(SECONDS + 90)
        out["load_after"] = load()
        out["servers_ran_throughout"] = all(s.proc.poll() is None for s in servers.values())  # the same processes
    finally:
        for s in servers.values():
            s.stop()
    return out | verdicts(clients.samples, truth, watcher.seen, began, out["batches"], names)


def verdicts(samples: list, truth: dict[str, dict], seen: dict[str, float], began: float, batches: list[dict],
             names: tuple[str, ...]) -> dict:
    for s in samples:
        if s.status == 200:
            s.error = serve.check_answer(s, truth)
    mixed = [s for s in samples if s.status == 200 and s.error]
    order = list(truth)  # the generations in the order they were committed
    out: dict = {"overall": serve.latency(samples, SECONDS), "per_server": {}}
    out["answers_checked"] = sum(1 for s in samples if s.status == 200)
    out["answers_not_from_one_generation"] = len(mixed)
    out["mix_examples"] = sorted({f"{s.kind}: {s.error}" for s in mixed})[:5]
    out["generations"] = {name: {k: v for k, v in facts.items() if k != "doc_ids"} for name, facts in truth.items()}
    for b in batches:
        b["commit_seen_at_s"] = round(seen[b["generation"]] - began, 3) if b["generation"] in seen else None
    for index, name in enumerate(names):
        mine = [s for s in samples if s.client % len(names) == index]
        part = serve.latency(mine, SECONDS) | {"answers_by_generation": {g: sum(1 for s in mine if s.status == 200 and s.generation == g)
                                                                        for g in order}}
        part["pick_up"] = {b["generation"]: pick_up(mine, b["generation"], b["commit_seen_at_s"], set(order[:order.index(b["generation"])]))
                           for b in batches if b["commit_seen_at_s"] is not None}
        out["per_server"][name] = part
    picked = [p for part in out["per_server"].values() for p in part["pick_up"].values()]
    out["ok"] = (out["overall"]["errors"] == 0 and not mixed and len(picked) == len(names) * serve.SOAK_BATCHES
                 and all(p["after_commit_ms"] is not None and p["sent_after_commit_answered_older"] == 0 for p in picked))
    return out


def render(part: dict) -> list[str]:
    o, one = part["overall"], part.get("one_server")
    lines = ["## Two `kb serve` processes on one database", "",
             f"The shipped corpus (real encoder) moved into a fresh database with `kb store migrate` ({part['migrate_s']} s); "
             f"{part['servers']} `kb serve` processes on the same knowledge base folder and database (KB_DATABASE_URL), "
             f"ready in {', '.join(f'{v} s' for v in part['server_start_s'].values())}. {part['clients']} clients for "
             f"{part['seconds']:.0f} s, even-numbered ones on server a, odd-numbered ones on server b, each in turn asking "
             "bench/serve.py's soak mix (GET /v1/documents, a lexical search for a word only the added documents hold, two "
             f"hybrid searches), while `kb index` in a third process added {part['added_documents']} documents in "
             f"{len(part['batches'])} batches (their vectors put in the database's embedding cache beforehand, as the soak "
             "does). Every answer is checked against the generation its `KB-Generation` header names. Then the same again "
             "with one server taking all the clients, on a fresh database: the baseline. Load average "
             f"{part['load_before']} → {part['load_after']}"
             + (f", baseline {one['load_before']} → {one['load_after']}" if one else "")
             + f" on {part['cores']} cores" + (": **the machine was loaded (1-minute load above its core count), so these are "
                                                 "loaded-machine latencies**." if max(part["load_before"][0], part["load_after"][0]) > part["cores"] else "."), "",
             f"- failed requests: {o['errors']} of {o['requests']}" + (f" (baseline {one['overall']['errors']} of {one['overall']['requests']})" if one else ""),
             f"- answers not from one complete generation: {part['answers_not_from_one_generation']} of {part['answers_checked']}"
             + (f" (baseline {one['answers_not_from_one_generation']} of {one['answers_checked']})" if one else ""),
             f"- both servers ran throughout, neither restarted: {'yes' if part['servers_ran_throughout'] else 'no'}",
             "- every server answered from every new generation, and every request sent after a commit from it or a newer one: "
             + ("yes" if part["ok"] and (not one or one["ok"]) else "**no**"), "",
             "| server | requests/s | p50 | p95 | p99 | max | errors | answers by generation |", "|---|---|---|---|---|---|---|---|"]
    rows = [*part["per_server"].items(), ("a and b", o)] + ([("one server alone (baseline)", one["overall"] | one["per_server"]["a"])] if one else [])
    for name, p in rows:
        by = ", ".join(f"{g} {n}" for g, n in p.get("answers_by_generation", {}).items())
        lines.append(f"| {name} | {p['rps']:.1f} | {p['p50_ms']:.1f} ms | {p['p95_ms']:.1f} ms | {p['p99_ms']:.1f} ms | "
                     f"{p['max_ms']:.1f} ms | {p['errors']} of {p['requests']} | {by} |")
    lines += ["", "| run | batch | `kb index` | commit seen | server | first answer from it | after the commit | "
              "requests sent after the commit answered from an older generation |", "|---|---|---|---|---|---|---|---|"]
    for run, r in (("two servers", part), ("baseline", one)) if one else (("two servers", part),):
        for b in r["batches"]:
            for name, p in r["per_server"].items():
                up = p["pick_up"].get(b["generation"], {})
                lines.append(f"| {run} | {b['documents']} documents → {b['generation']} | {b['started_at_s']:.1f} → "
                             f"{b['exited_at_s']:.1f} s ({b['embedded']} embedded) | {b['commit_seen_at_s']} s | {name} | "
                             f"{up.get('first_answer_s')} s | {up.get('after_commit_ms')} ms | {up.get('sent_after_commit_answered_older')} |")
    lines += ["", "Times count from the start of the load. The commit is when a watcher polling `kb.state` every "
              f"{WATCH_EVERY_S * 1000:.0f} ms first saw the new generation live; a server's first answer from it is the end "
              "of the first request it answered from it: the delay includes the wait behind the requests that server was "
              "already answering (one search at a time). The last column counts requests sent after the commit that were "
              "answered from an older generation.", ""]
    lines += [f"- {example}" for example in part["mix_examples"] + o["error_examples"]]
    return lines
