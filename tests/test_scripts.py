"""The benchmark, load and scale scripts work: real server, real model, real FAISS; no timing assertions."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from conftest import ROOT, Server

SCRIPTS = ROOT / "scripts"
sys.path.insert(0, str(SCRIPTS))

import load as loadgen  # noqa: E402
import scale  # noqa: E402


def run_script(name: str, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SCRIPTS / name), *args], capture_output=True, text=True,
                          timeout=timeout)


def test_load_32_clients_get_no_errors_and_rss_holds(server: Server) -> None:
    done = run_script("load.py", "--url", server.url, "--pid", str(server.proc.pid), "-c", "32", "-s", "5",
                      "--warmup", "1", "--json")
    assert done.returncode == 0, done.stdout + done.stderr
    report = json.loads(done.stdout)
    assert report["load"]["errors"] == 0, report["load"]["error_samples"]
    assert report["load"]["requests"] >= 32
    assert report["rss_start_mb"] > 0 and report["rss_end_mb"] > 0
    assert report["failed"] is False
    # The server's CPU per request, read from /proc: real work, and the rate it allows on these cores.
    cpu = report["load"]["server_cpu"]
    assert cpu["cpu_ms_per_request"] > 0
    assert cpu["cpu_bound_rps"] * cpu["cpu_ms_per_request"] == pytest.approx(os.cpu_count() * 1000, rel=0.02)


def test_load_counts_error_answers_and_keeps_their_bodies(server: Server) -> None:
    bad = [b"POST /ask HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 7\r\n\r\n{\"k\": 5"]
    result = loadgen.run_load(server.url, bad, concurrency=2, seconds=0.5)
    assert result.requests > 0
    assert result.errors == result.requests
    assert result.error_samples and result.error_samples[0].startswith("400: ")
    assert "JSON" in result.error_samples[0]


def test_load_finds_the_server_pid_by_its_port(server: Server) -> None:
    assert loadgen.pid_listening_on(server.port) == server.proc.pid


def test_cpu_seconds_of_a_process_count_its_work_and_a_missing_one_gives_none() -> None:
    before = loadgen.cpu_seconds(os.getpid())
    spun = 0
    while loadgen.cpu_seconds(os.getpid()) - before < 0.2:  # busy for 0.2 s of CPU
        spun += sum(range(1000))
    assert spun > 0
    assert loadgen.server_cpu(os.getpid(), before, requests=10)["cpu_ms_per_request"] >= 20
    assert loadgen.cpu_seconds(2**22 + 1) is None  # above pid_max's default: no such process
    assert loadgen.server_cpu(2**22 + 1, before, requests=10) == {}


def test_load_refuses_a_non_loopback_target_before_sending_anything() -> None:
    done = run_script("load.py", "--url", "http://192.0.2.1:8000", "-s", "1", timeout=30)
    assert done.returncode != 0
    assert "not a loopback address" in done.stderr


@pytest.mark.parametrize("script, args, needle", [
    ("bench.py", ["--index", "/nonexistent", "--quick"], "no index here"),
    ("bench.py", ["--table", "/nonexistent.json"], "No such file"),
    ("bench.py", ["--seconds", "-1", "--quick"], "must be more than 0"),  # ran with no end
    ("scale.py", ["measure", "--index", "/nonexistent"], "no index here"),
    ("scale.py", ["synth", "--sections", "-5", "--out", "/nonexistent"], "must be more than 0"),
    ("load.py", ["--url", "notaurl"], "must be an http:// address"),
    ("load.py", ["--index", "/nonexistent", "-s", "1"], "no index here"),
    ("load.py", ["--url", "http://127.0.0.1:1", "-c", "0"], "must be more than 0"),
])
def test_bad_arguments_are_one_error_line_not_a_traceback(script: str, args: list[str], needle: str) -> None:
    done = run_script(script, *args, timeout=120)
    assert done.returncode in (1, 2) and needle in done.stderr
    assert "Traceback" not in done.stderr


def test_bench_quick_run_prints_every_measure(seed_index: Path) -> None:
    done = run_script("bench.py", "--quick", "--json", "--index", str(seed_index), timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout)
    assert result["reference"]["p50_ms"] > 0
    assert result["library"]["ask_p50_ms"] > 0
    assert 0 < result["library"]["answer_p50_ms"] < result["library"]["ask_p50_ms"]  # a part of an ask
    assert result["library"]["encoder_ceiling_qps"] > 0
    levels = {lv["concurrency"]: lv for lv in result["http"]["levels"]}
    assert set(levels) == {1, 8}
    assert all(lv["errors"] == 0 and lv["requests"] > 0 for lv in levels.values())
    assert all(lv["server_cpu"]["cpu_ms_per_request"] > 0 for lv in levels.values())
    assert result["http"]["rss_mb"] > 0
    minimal = {lv["concurrency"]: lv for lv in result["minimal"]}  # scripts/minimal.py, the peer
    assert set(minimal) == {1, 8}
    assert all(lv["errors"] == 0 and lv["requests"] > 0 for lv in minimal.values())
    assert all(lv["server_cpu"]["cpu_ms_per_request"] > 0 for lv in minimal.values())
    assert result["cold_start"]["median_s"] > 0
    build = result["build"]
    assert build["warm"]["sections"] > 0 and build["plain_encode"]["sections_per_s"] > 0
    # Paired right: sentence vectors are the model's own; windows (maybe pooled) are still close to it.
    assert build["cosine"]["sentences"]["mean"] > 0.9
    assert build["cosine"]["windows"]["mean"] > 0.5


def test_generated_articles_parse_into_the_sections_they_were_made_of() -> None:
    from qa.articles import parse_article
    from qa.sections import split_sections

    seed = scale.seed_material()
    rng = random.Random(3)
    for number in range(50):
        plan = scale.random_plan(rng, seed, rng.randint(1, 12), (1, 9))
        article = scale.generate_article(rng, seed, plan)
        parsed = parse_article(article.text.encode(), f"gen_{number}.txt")
        sections = split_sections(parsed)
        assert (parsed.title, parsed.notice) == (article.title, article.notice)
        assert [(s.heading, s.start, s.end) for s in sections] == [(g.heading, g.start, g.end)
                                                                  for g in article.sections]
        assert [[(x.start, x.end) for x in s.sentences] for s in sections] == [g.sentences for g in article.sections]


@pytest.fixture(scope="module")
def synthetic_index(seed_index: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small synthetic index forced onto the approximate structure (exact only up to 500 windows)."""
    index = tmp_path_factory.mktemp("synthetic") / "index"
    scale.synth_index(3000, index, seed_index, exact_limit=500)
    return index


def test_synthetic_index_loads_answers_and_records_its_structure(synthetic_index: Path) -> None:
    import qa

    searcher = qa.load(synthetic_index)
    try:
        assert searcher.manifest["faiss"]["kind"] == "hnsw_sq8"
        assert searcher.manifest["counts"]["sections"] == 3000
        result = searcher.ask("How does NATO respond to an attack on a member?", k=5)
        assert len(result.passages) == 5
        doc, passage = result.passages[0].citation.doc, result.passages[0]
        plain = searcher.reader.article(doc)[1]
        assert plain[passage.answer.start : passage.answer.end] == passage.answer.text
        recall = scale.recall_at_10(searcher, scale.questions()[:10], 50)
        assert recall["held_out"]["recall@10"] > 0.8
    finally:
        searcher.close()


def test_measure_from_a_cold_cache_evicts_every_index_file_and_reports_it(synthetic_index: Path) -> None:
    files = [f for f in synthetic_index.rglob("*") if f.is_file()]
    assert scale.evict_from_page_cache(synthetic_index) == sum(f.stat().st_size for f in files)
    result = scale.measure(synthetic_index, reps=1, n_held_out=20, serve_seconds=0, cold=True)
    assert result["load_cache"] == "cold" and result["load_s"] > 0
    assert result["recall"]["held_out"]["recall@10"] > 0.8


def test_approximate_search_scores_are_exact_cosines(synthetic_index: Path) -> None:
    import qa

    searcher = qa.load(synthetic_index)
    try:
        windows = np.asarray(searcher.reader.windows, dtype=np.float32)
        query = windows[123] + 0.01
        query /= np.linalg.norm(query)
        scores, ids = searcher.retriever.neighbours.search(query[None, :], 10)
        assert ids[0][0] == 123
        np.testing.assert_allclose(scores[0], windows[ids[0]] @ query, rtol=1e-5, atol=1e-6)
        assert list(scores[0]) == sorted(scores[0], reverse=True)
    finally:
        searcher.close()


@pytest.mark.parametrize("structure", [{"kind": "flat"},
                                       {"kind": "hnsw_sq8", "M": 16, "ef_construction": 40, "ef_search": 64, "rerank": 4},
                                       {"kind": "ivf_sq8", "nlist": 16, "nprobe": 4, "rerank": 4}])
@pytest.mark.parametrize("rows", ["array", "file"])
def test_every_structure_round_trips_through_disk_with_exact_scores(structure: dict, rows: str, tmp_path: Path) -> None:
    from qa.neighbours import Neighbours, Structure, build_index, save_index
    from qa.store import RowFile

    rng = np.random.default_rng(0)
    vectors = rng.standard_normal((3000, 64)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    save_index(build_index(vectors, Structure.from_dict(structure)), tmp_path)
    np.save(tmp_path / "windows.npy", vectors)
    neighbours = Neighbours.load(tmp_path, vectors if rows == "array" else RowFile(tmp_path / "windows.npy"), structure)
    queries = vectors[[5, 500, 2500]] + 0.05 * vectors[[6, 501, 2501]]
    queries /= np.linalg.norm(queries, axis=1, keepdims=True)
    scores, ids = neighbours.search(queries, 5)
    assert list(ids[:, 0]) == [5, 500, 2500]
    np.testing.assert_allclose(scores, np.einsum("qkd,qd->qk", vectors[ids], queries), rtol=1e-5, atol=1e-6)


def test_unknown_structure_in_a_manifest_is_refused(tmp_path: Path) -> None:
    from qa.neighbours import Structure

    with pytest.raises(ValueError, match="unknown FAISS structure"):
        Structure.from_dict({"kind": "lsh"})
