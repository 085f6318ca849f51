"""Benchmarks of the qa service in one run, each time also as a ratio to a reference measured in the same run.

    scripts/bench.py [--index index/] [--seconds 10] [--json] [--quick] [--profile FILE]

The reference (a) is bare `SentenceTransformer.encode` of one question (p50), the packaged
all-MiniLM-L6-v2 on torch. Other people share this machine, so absolute times drift between
runs; the ratios to (a) are what to compare across runs. Measured:

  (a) reference encode p50             (b) library qa.load(index).ask(q) p50/p99, in a fresh
                                           interpreter that never imported torch, as a user's;
                                           the encoder alone, the work after it, and the
                                           encoder's ceiling in questions/s on every core
  (c) HTTP POST /ask against a `qa serve` subprocess on a free loopback port: concurrency 1,
      8 and 32, closed loop, --seconds each, errors counted; the answer cache is off
      (QA_CACHE_SIZE=0) so every request does the work; one extra level with the default
      cache shows what repeated questions cost. Client overhead is measured on /healthz.
  (d) build sections/s of a generated corpus (warm and cold model-export cache) next to plain
      SentenceTransformer.encode of the same section texts, and the cosine of the build's
      vectors to SentenceTransformer vectors of the same texts
  (e) cold start: process start to the first /healthz 200 (median of --starts runs)
  (f) RSS of the serving process after the load (VmRSS, VmHWM)
  (g) the same load at concurrency 1 and 8 against scripts/minimal.py, which only encodes the
      question and searches FAISS behind FastAPI: the speed issue's hand-rolled int8 peer
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import Counter
from dataclasses import asdict
from pathlib import Path

import numpy as np

SCRIPTS = Path(__file__).resolve().parent
ROOT = SCRIPTS.parent
sys.path[:0] = [str(ROOT), str(SCRIPTS)]

import load as loadgen  # noqa: E402  (scripts/load.py)
import scale  # noqa: E402  (scripts/scale.py: the corpus generator)

TARGETS = {
    "http_c1_p50_ratio": 0.25,
    "c8_rps": 500.0,
    "c8_p99_ms": 25.0,
    "cold_start_s": 1.0,
    "rss_mb": 250.0,
    "build_speedup": 2.0,
    "build_cosine": 0.98,
}


C1_TARGET = f"<= {TARGETS['http_c1_p50_ratio']} x ref"


def c1_met(level: dict, ref_ms: float) -> bool:
    return level["p50_ms"] / ref_ms <= TARGETS["http_c1_p50_ratio"]


def c8_met(level: dict) -> bool:
    """Throughput, p99 and no errors: the concurrency-8 target as a whole."""
    return level["rps"] >= TARGETS["c8_rps"] and level["p99_ms"] <= TARGETS["c8_p99_ms"] and level["errors"] == 0


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def pct(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values, dtype=np.float64), q))


def timed_ms(fn, items: list, reps: int) -> list[float]:
    """Milliseconds of fn(item) for every item, reps times over (after one untimed pass)."""
    for item in items:
        fn(item)
    out = []
    for _ in range(reps):
        for item in items:
            started = time.perf_counter()
            fn(item)
            out.append((time.perf_counter() - started) * 1000)
    return out


# ---------------------------------------------------------------- (a) and (b)


def reference_model():
    from sentence_transformers import SentenceTransformer

    from qa.embedding import resolve_model

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    return SentenceTransformer(resolve_model("all-MiniLM-L6-v2"), device="cpu")


def reference_encode(model, questions: list[str], reps: int) -> list[float]:
    """(a) ms of bare SentenceTransformer.encode of one question at a time."""
    return timed_ms(lambda q: model.encode([q], show_progress_bar=False), questions, reps)


def library_ask_apart(index: Path, question_files: list[Path] | None, reps: int) -> dict:
    """(b) measured in a fresh interpreter: a library user's process has not imported torch, which
    this one has for (a) (its OpenMP threads cost asks here about 10 %, and sometimes double)."""
    command = [sys.executable, str(Path(__file__).resolve()), "--library-ask", str(index), "--lib-reps", str(reps)]
    for file in question_files or []:
        command += ["--questions", str(file)]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=1800)
    except subprocess.TimeoutExpired:
        raise RuntimeError("library measurement took over 30 minutes; lower --lib-reps") from None
    if done.returncode != 0:
        raise RuntimeError(f"library measurement failed: {done.stderr.strip()[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])  # the JSON is the last line


def library_ask(index: Path, questions: list[str], reps: int) -> dict:
    """(b) ms of qa.load(index).ask(q), and of its query encoder alone."""
    import qa

    searcher = qa.load(index)
    try:
        ask = timed_ms(lambda q: searcher.ask(q), questions, reps)
        encode = timed_ms(lambda q: searcher.encode([q]), questions, reps)
        answer = answer_after_encode_ms(searcher, questions, reps)
        ceiling = encoder_ceiling_qps(searcher, questions)
    finally:
        searcher.close()
    model = searcher.manifest["model"]
    return {"ask_p50_ms": pct(ask, 50), "ask_p99_ms": pct(ask, 99), "encode_p50_ms": pct(encode, 50),
            "answer_p50_ms": pct(answer, 50), "encoder_ceiling_qps": ceiling,
            "encoder": model.get("encoder"), "encoder_file": model.get("file"),
            "partner": (searcher.manifest.get("partner") or {}).get("model")}


def answer_after_encode_ms(searcher, questions: list[str], reps: int) -> list[float]:  # noqa: ANN001
    """ms of the work after encoding (search, ranking, answer sentence, confidence, JSON), each
    timed right after its own question's encoding, as a server runs them: the encoder's pass over
    its weights leaves the caches cold for it (about 1.4 against 1.0 ms when timed back to back)."""
    out = []
    for rep in range(reps + 1):
        for q in questions:
            vectors, pieces = searcher.embed([q], alone=True)
            started = time.perf_counter()
            searcher.answer(q, vectors[0], 5, pieces[0], alone=True).model_dump_json()
            if rep:  # the first pass warms up
                out.append((time.perf_counter() - started) * 1000)
    return out


def encoder_ceiling_qps(searcher, questions: list[str], seconds: float = 3.0) -> float:  # noqa: ANN001
    """Questions per second the query encoder alone sustains with every core encoding one question
    at a time (one thread each, as `qa serve` under load): what no server on this encoder can exceed."""
    import threading

    deadline = time.perf_counter() + seconds
    counts = [0] * (os.cpu_count() or 1)

    def encode(slot: int) -> None:
        i = slot
        while time.perf_counter() < deadline:
            searcher.encode([questions[i % len(questions)]])
            counts[slot] += 1
            i += len(counts)

    started = time.perf_counter()
    threads = [threading.Thread(target=encode, args=(slot,)) for slot in range(len(counts))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return round(sum(counts) / (time.perf_counter() - started), 1)


# ---------------------------------------------------------------- (c), (e), (f)


def server_metrics(url: str) -> dict[str, float]:
    """The server's Prometheus counters we split request time with (sum and count of each)."""
    try:
        with urllib.request.urlopen(url + "/metrics", timeout=5) as resp:
            text = resp.read().decode()
    except OSError:
        return {}
    out = {}
    for line in text.splitlines():
        name, _, value = line.partition(" ")
        if name in ("qa_encode_seconds_sum", "qa_encode_seconds_count", "qa_search_seconds_sum",
                    "qa_search_seconds_count", "qa_batch_size_sum", "qa_batch_size_count"):
            out[name] = float(value)
    return out


def split_of(before: dict[str, float], after: dict[str, float], requests: int) -> dict[str, float]:
    """Server-side encode and search ms per request, and mean batch size, between two metric reads."""
    d = {k: after.get(k, 0.0) - before.get(k, 0.0) for k in after}
    if not requests or not d.get("qa_batch_size_count"):
        return {}
    return {"encode_ms_per_request": round(d["qa_encode_seconds_sum"] * 1000 / requests, 2),
            "search_ms_per_request": round(d["qa_search_seconds_sum"] * 1000 / requests, 2),
            "mean_batch": round(d["qa_batch_size_sum"] / d["qa_batch_size_count"], 2)}


def http_levels(index: Path, questions: list[str], seconds: float, levels: list[int], cached_level: int | None,
                profile: Path | None) -> dict:
    """(c) and (f): load levels against one uncached server, then one level against a default one."""
    out: dict = {"levels": [], "overhead": []}
    with loadgen.ServeProcess(index, env={"QA_CACHE_SIZE": "0"}) as server:
        host, port = "127.0.0.1", server.port
        asks = loadgen.ask_requests(host, port, questions)
        health = [loadgen.get_request(host, port, "/healthz")]
        out["rss_idle_mb"] = loadgen.rss_mb(server.pid)
        log("warming up the server")
        loadgen.run_load(server.url, asks, 8, min(2.0, seconds))
        for c in sorted({1, max(levels)}):
            log(f"client overhead: GET /healthz at concurrency {c}")
            out["overhead"].append(asdict(loadgen.run_load(server.url, health, c, max(1.0, seconds / 2))))
        for c in levels:
            log(f"POST /ask at concurrency {c} for {seconds:g} s")
            before = server_metrics(server.url)
            result = asdict(loadgen.run_load(server.url, asks, c, seconds, server_pid=server.pid))
            result["server"] = split_of(before, server_metrics(server.url), result["requests"])
            out["levels"].append(result)
        out["rss_mb"], out["hwm_mb"] = _rss_and_peak(server.pid)
        if profile is not None:
            out["profile"] = profile_server(server, asks, 8, seconds, profile)
    if cached_level:
        with loadgen.ServeProcess(index) as server:
            asks = loadgen.ask_requests("127.0.0.1", server.port, questions)
            loadgen.run_load(server.url, asks, cached_level, min(2.0, seconds))
            log(f"POST /ask at concurrency {cached_level}, default settings (answer cache on)")
            out["cached"] = asdict(loadgen.run_load(server.url, asks, cached_level, seconds))
    return out


def minimal_levels(index: Path, questions: list[str], seconds: float) -> list[dict]:
    """(g) the same load against scripts/minimal.py: encode + FAISS behind FastAPI, nothing else."""
    with loadgen.ServeProcess(index, command=[sys.executable, str(SCRIPTS / "minimal.py")]) as server:
        asks = loadgen.ask_requests("127.0.0.1", server.port, questions)
        loadgen.run_load(server.url, asks, 8, min(2.0, seconds))
        levels = []
        for c in (1, 8):
            log(f"minimal server: POST /ask at concurrency {c} for {seconds:g} s")
            levels.append(asdict(loadgen.run_load(server.url, asks, c, seconds, server_pid=server.pid)))
        return levels


def _rss_and_peak(pid: int) -> tuple[float, float]:
    status = scale.rss_mb(pid)
    return round(status["VmRSS"], 1), round(status["VmHWM"], 1)


def profile_server(server: loadgen.ServeProcess, asks: list[bytes], concurrency: int, seconds: float,
                   out: Path) -> dict:
    """py-spy samples of the server under load (a separate run, so measured levels aren't slowed)."""
    py_spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    if not Path(py_spy).exists():
        log("py-spy not found; no profile (pip install py-spy)")
        return {}
    raw = out.with_suffix(".folded")
    log(f"profiling the server under concurrency {concurrency} with py-spy -> {raw}")
    spy = subprocess.Popen([py_spy, "record", "--pid", str(server.pid), "--rate", "250", "--nonblocking",
                            "--format", "raw", "--output", str(raw), "--duration", str(int(seconds) + 1)],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(0.5)
    result = loadgen.run_load(server.url, asks, concurrency, seconds)
    spy.wait()
    summary = summarise_profile(raw) if raw.exists() else {}
    summary["requests"] = result.requests
    out.write_text(json.dumps(summary, indent=2))
    return summary


# Frames that name a stage of a request, matched as "function (file" prefixes in py-spy's output.
STAGES = {
    "encode (onnx session + tokenizer)": ("encode (qa/embedding.py",),
    "retrieval candidates": ("candidates (qa/retrieval.py",),
    "bm25 scores": ("scores (qa/lexical.py",),
    "faiss search": ("search (qa/neighbours.py",),
    "answer building": ("build_response (qa/answering.py",),
    "response JSON": ("model_dump_json",),
    "access log line": ("info (logging/__init__.py", "handle (logging/__init__.py"),
    "metrics": ("inc (prometheus_client", "observe (prometheus_client", "labels (prometheus_client"),
    "h11 parsing/writing": ("h11",),
    "starlette/fastapi routing": ("fastapi/routing.py", "starlette/routing.py"),
    "event loop select": ("select (selectors.py",),
}


def summarise_profile(raw: Path) -> dict:
    """Shares of samples by stage (inclusive) and the top functions by own samples, busy threads only."""
    total = 0
    stages: Counter[str] = Counter()
    leaves: Counter[str] = Counter()
    threads: Counter[str] = Counter()
    for line in raw.read_text(errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        frames = stack.split(";")
        total += n
        threads[frames[0].split(" ")[0] if frames else "?"] += n
        leaves[frames[-1]] += n
        for stage, needles in STAGES.items():
            if any(needle in frame for frame in frames for needle in needles):
                stages[stage] += n
    share = lambda n: round(100 * n / total, 1) if total else 0.0  # noqa: E731
    return {
        "samples": total,
        "stages_pct": {k: share(v) for k, v in stages.most_common()},
        "top_self_pct": {k: share(v) for k, v in leaves.most_common(25)},
        "threads_pct": {k: share(v) for k, v in threads.most_common(8)},
    }


def cold_starts(index: Path, runs: int) -> dict:
    """(e) seconds from `qa serve` process start to the first /healthz 200, and RSS when ready."""
    times, rss = [], []
    for _ in range(runs):
        with loadgen.ServeProcess(index) as server:
            times.append(server.ready_s)
            rss.append(loadgen.rss_mb(server.pid) or 0.0)
    return {"runs_s": [round(t, 3) for t in times], "median_s": round(statistics.median(times), 3),
            "rss_ready_mb": round(statistics.median(rss), 1)}


# ---------------------------------------------------------------- (d)


def build_rates(model, sections: int, cold: bool, work: Path) -> dict:
    """(d) qa.build sections/s (warm and cold export cache) vs plain encode, and cosine to the reference."""
    from qa.build import build
    from qa.settings import Settings

    corpus = work / "corpus"
    scale.write_corpus(corpus, sections, scale.seed_material(), rng_seed=11)
    out: dict = {}
    warm_cache = Settings.from_env().cache_dir
    # Make sure the warm cache holds the export, so the warm run measures a warm build.
    build(Settings.from_env(corpus=corpus, index=work / "prime", cache_dir=warm_cache), progress=False)
    for label, cache_dir in (("warm", warm_cache), ("cold", work / "fresh-cache")) if cold else (("warm", warm_cache),):
        log(f"building {sections} generated sections, export cache {label}")
        started = time.perf_counter()
        report = build(Settings.from_env(corpus=corpus, index=work / label, cache_dir=cache_dir), progress=False)
        seconds = time.perf_counter() - started
        out[label] = {"seconds": round(seconds, 2), "sections": report.sections, "windows": report.windows,
                      "sentences": report.sentences, "embedded": report.embedded,
                      "sections_per_s": round(report.sections / seconds, 1)}
    texts, window_texts, sentence_texts, gen = _build_texts(work / "warm")
    log(f"plain SentenceTransformer.encode of the same {len(texts)} section texts")
    model.encode(texts[:8], batch_size=64)
    started = time.perf_counter()
    model.encode(texts, batch_size=64, show_progress_bar=False)
    seconds = time.perf_counter() - started
    out["plain_encode"] = {"seconds": round(seconds, 2), "sections_per_s": round(len(texts) / seconds, 1)}
    out["speedup_warm"] = round(out["warm"]["sections_per_s"] / out["plain_encode"]["sections_per_s"], 2)
    out["cosine"] = _cosines(model, gen, window_texts, sentence_texts)
    return out


def _build_texts(index: Path) -> tuple[list[str], list[str], list[str], Path]:
    """Section texts of a built index, and the window and sentence texts its vectors were made of."""
    from qa.build import make_units
    from qa.searcher import load_query_encoder
    from qa.settings import Settings
    from qa.store import IndexReader

    reader = IndexReader(index)
    texts = reader.section_texts()
    encoder = load_query_encoder(reader, Settings.from_env())
    sections, plain = _sections_of(reader)
    units = make_units(sections, plain, encoder)
    reader.close()
    return texts, _window_texts(units, sections, plain), units.sentence_texts, reader.path


def _window_texts(units, sections: list, plain: dict[str, str]) -> list[str]:  # noqa: ANN001
    """The text each window covers: its own text, or for a window pooled from sentence vectors,
    the heading and the sentences it averages, as a single embedding of that text would see them."""
    from qa.build import context_of

    ranges = getattr(units, "window_ranges", None)
    out = []
    for w, text in enumerate(units.window_texts):
        if text or ranges is None or ranges[w][1] <= ranges[w][0]:
            out.append(text)
            continue
        lo, hi = (int(x) for x in ranges[w])
        section = sections[int(units.sentences[lo][0])]
        body = " ".join(plain[section.doc][int(s):int(e)] for _, s, e in units.sentences[lo:hi])
        context = context_of(section)
        out.append(f"{context}\n{body}" if context else body)
    return out


def _sections_of(reader) -> tuple[list, dict[str, str]]:
    """The sections a build made, re-derived the way qa.build derives them from the corpus it records."""
    from qa.build import BuildReport, read_corpus
    from qa.sections import split_sections

    articles = read_corpus(Path(reader.manifest["corpus"]["path"]), BuildReport())
    return [s for a in articles for s in split_sections(a)], {a.doc: a.text for a in articles}


def _cosines(model, gen: Path, window_texts: list[str], sentence_texts: list[str], sample: int = 400) -> dict:
    """Cosine of stored vectors to SentenceTransformer vectors of the same texts (a random sample)."""
    windows = np.load(gen / "windows.npy", mmap_mode="r")
    sentences = np.load(gen / "sentence_vectors.npy", mmap_mode="r")
    if len(windows) != len(window_texts) or len(sentences) != len(sentence_texts):
        return {"error": "unit count differs from the index; cannot pair vectors with texts"}
    rng = np.random.default_rng(0)
    out = {}
    for name, stored, texts in (("windows", windows, window_texts), ("sentences", sentences, sentence_texts)):
        rows = np.sort(rng.choice(len(texts), size=min(sample, len(texts)), replace=False))
        ref = model.encode([texts[r] for r in rows], batch_size=64, normalize_embeddings=True,
                           show_progress_bar=False)
        got = np.asarray(stored[rows], dtype=np.float32)
        got /= np.linalg.norm(got, axis=1, keepdims=True)
        cos = (ref * got).sum(1)
        out[name] = {"n": int(len(rows)), "mean": round(float(cos.mean()), 4), "p1": round(pct(cos, 1), 4),
                     "min": round(float(cos.min()), 4)}
    return out


# ---------------------------------------------------------------- the run and its table


def run(args: argparse.Namespace) -> dict:
    questions = loadgen.load_questions(args.questions)
    work = Path(tempfile.mkdtemp(prefix="qa-bench-"))
    try:
        index = args.index or _seed_index(work)
        log(f"loading the reference model; {len(questions)} questions, {args.reps} reps")
        model = reference_model()
        ref_start = reference_encode(model, questions, args.reps)
        log("library qa.load(index).ask(q)")
        library = library_ask_apart(index, args.questions, args.lib_reps)
        levels = [1, 8] if args.quick else [1, 8, 32]
        http = http_levels(index, questions, args.seconds, levels, None if args.quick else 8, args.profile)
        minimal = minimal_levels(index, questions, args.seconds)
        log(f"cold start x {args.starts}")
        cold = cold_starts(index, args.starts)
        build = build_rates(model, args.build_sections, not args.quick, work)
        log("reference again (drift check)")
        ref_end = reference_encode(model, questions, args.reps)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    ref = pct(ref_start + ref_end, 50)
    return {
        "machine": {"cpus": os.cpu_count(), "load_avg": os.getloadavg(), "index": str(index),
                    "questions": len(questions), "seconds_per_level": args.seconds},
        "reference": {"p50_ms": round(ref, 3), "p50_start_ms": round(pct(ref_start, 50), 3),
                      "p50_end_ms": round(pct(ref_end, 50), 3), "p99_ms": round(pct(ref_start + ref_end, 99), 3)},
        "library": {k: (round(v, 3) if isinstance(v, float) else v) for k, v in library.items()},
        "http": http, "minimal": minimal, "cold_start": cold, "build": build,
    }


def _seed_index(work: Path) -> Path:
    """An index of the seed corpus (corpus/), built into the work directory."""
    from qa.build import build
    from qa.settings import Settings

    log("no --index: building one of corpus/")
    index = work / "seed-index"
    build(Settings.from_env(corpus=ROOT / "corpus", index=index), progress=False)
    return index


def rows_of(result: dict) -> list[tuple[str, str, str, str, str]]:
    """(measure, value, x ref, target, met) rows; x ref = time / reference p50 (per item for rates)."""
    ref = result["reference"]["p50_ms"]
    rows = []

    def add(name: str, value: str, ms: float | None, target: str = "", met: bool | None = None) -> None:
        ratio = f"{ms / ref:.3f}" if ms is not None and ref else ""
        rows.append((name, value, ratio, target, "" if met is None else ("yes" if met else "NO")))

    def add_cpu(c: int, level: dict) -> None:
        """Server CPU per request, and the rate it allows: why a throughput target can or can't be met."""
        if level.get("server_cpu"):
            cpu = level["server_cpu"]
            add(f"    server CPU per request c{c}; ceiling on {os.cpu_count()} cores",
                f"{cpu['cpu_ms_per_request']:.2f} ms; {cpu['cpu_bound_rps']:.0f} req/s", cpu["cpu_ms_per_request"])

    r = result["reference"]
    add("(a) ST encode p50 (reference)", f"{ref:.2f} ms", ref)
    add("    start / end of run", f"{r['p50_start_ms']:.2f} / {r['p50_end_ms']:.2f} ms", None)
    lib = result["library"]
    add("(b) library ask p50", f"{lib['ask_p50_ms']:.2f} ms", lib["ask_p50_ms"])
    add("    library ask p99", f"{lib['ask_p99_ms']:.2f} ms", lib["ask_p99_ms"])
    add(f"    query encoder alone p50 ({lib['encoder']} {lib.get('encoder_file') or ''})".rstrip(),
        f"{lib['encode_p50_ms']:.2f} ms", lib["encode_p50_ms"])
    if "answer_p50_ms" in lib:  # runs saved before these were measured lack them
        after = "search, answer" + (f", and {lib['partner']}'s encoding and search" if lib.get("partner") else "")
        add(f"    work after encoding p50 ({after})", f"{lib['answer_p50_ms']:.2f} ms", lib["answer_p50_ms"])
        add("    encoder ceiling, every core encoding", f"{lib['encoder_ceiling_qps']:.0f} questions/s",
            1000 / lib["encoder_ceiling_qps"] if lib["encoder_ceiling_qps"] else None)
    http = result["http"]
    for o in http["overhead"]:
        add(f"(c) GET /healthz c{o['concurrency']} (client+HTTP floor)",
            f"p50 {o['p50_ms']:.2f} ms, {o['rps']:.0f} req/s", o["p50_ms"])
        add(f"    load client CPU at c{o['concurrency']}",
            f"{o['client_us_per_request']:.0f} us/req, {o['client_cpu_share'] * 100:.0f} % of a core", None)
    for lv in http["levels"]:
        c = lv["concurrency"]
        errors = f", {lv['errors']} errors" if lv["errors"] else ", 0 errors"
        if c == 1:
            add("(c) HTTP /ask c1 p50", f"{lv['p50_ms']:.2f} ms{errors}", lv["p50_ms"], C1_TARGET, c1_met(lv, ref))
            add("    HTTP /ask c1 p99", f"{lv['p99_ms']:.2f} ms", lv["p99_ms"])
        else:
            add(f"(c) HTTP /ask c{c} throughput", f"{lv['rps']:.1f} req/s{errors}", 1000 / lv["rps"] if lv["rps"] else None,
                ">= 500 req/s, 0 errors" if c == 8 else "", (lv["rps"] >= TARGETS["c8_rps"] and lv["errors"] == 0)
                if c == 8 else None)
            add(f"    HTTP /ask c{c} p50 / p99", f"{lv['p50_ms']:.2f} / {lv['p99_ms']:.2f} ms", lv["p99_ms"],
                f"p99 <= {TARGETS['c8_p99_ms']:g} ms" if c == 8 else "", lv["p99_ms"] <= TARGETS["c8_p99_ms"] if c == 8 else None)
        if lv.get("server"):
            sv = lv["server"]
            add(f"    server split c{c}: encode / search per req",
                f"{sv['encode_ms_per_request']:.2f} / {sv['search_ms_per_request']:.2f} ms, batch {sv['mean_batch']:.1f}",
                None)
        add_cpu(c, lv)
    if "cached" in http:
        cv = http["cached"]
        add(f"    c{cv['concurrency']} with answer cache on (default)",
            f"{cv['rps']:.1f} req/s, p50 {cv['p50_ms']:.2f} / p99 {cv['p99_ms']:.2f} ms, {cv['errors']} errors",
            1000 / cv["rps"] if cv["rps"] else None)
    for lv in result.get("minimal", []):
        c = lv["concurrency"]
        if c == 1:
            add("(g) minimal server (scripts/minimal.py) c1 p50", f"{lv['p50_ms']:.2f} ms, {lv['errors']} errors", lv["p50_ms"],
                C1_TARGET, c1_met(lv, ref))
        else:
            add(f"(g) minimal server c{c} throughput, p99", f"{lv['rps']:.1f} req/s, p99 {lv['p99_ms']:.2f} ms, "
                f"{lv['errors']} errors", 1000 / lv["rps"] if lv["rps"] else None,
                f">= {TARGETS['c8_rps']:g} req/s, p99 <= {TARGETS['c8_p99_ms']:g} ms", c8_met(lv))
        add_cpu(c, lv)
    b = result["build"]
    for label in ("warm", "cold"):
        if label in b:
            x = b[label]
            add(f"(d) build, export cache {label}",
                f"{x['sections_per_s']:.1f} sections/s ({x['sections']} sections, {x['seconds']:.1f} s, "
                f"{x['embedded']} texts embedded)", 1000 / x["sections_per_s"],
                ">= 2 x plain encode" if label == "warm" else "",
                b["speedup_warm"] >= TARGETS["build_speedup"] if label == "warm" else None)
    add("    plain ST encode of the section texts", f"{b['plain_encode']['sections_per_s']:.1f} sections/s",
        1000 / b["plain_encode"]["sections_per_s"])
    add("    build / plain encode", f"{b['speedup_warm']:.2f} x", None)
    for name, cos in b["cosine"].items():
        if not isinstance(cos, dict):
            continue
        value = f"mean {cos['mean']:.4f}, p1 {cos['p1']:.4f}, min {cos['min']:.4f}"
        if name == "sentences":  # what the build runs the model on
            add("    cosine to ST, sentences", value, None, f"min >= {TARGETS['build_cosine']}",
                cos["min"] >= TARGETS["build_cosine"])
        else:  # a window is the mean of its sentence vectors by design (qa.build.make_units), not a model run
            add(f"    cosine to ST, {name} (most: means of sentence vectors)", value, None)
    cold = result["cold_start"]
    add("(e) cold start to /healthz 200", f"{cold['median_s']:.3f} s (runs {', '.join(map(str, cold['runs_s']))})",
        cold["median_s"] * 1000, f"<= {TARGETS['cold_start_s']:g} s", cold["median_s"] <= TARGETS["cold_start_s"])
    add("(f) serving RSS after load", f"{http['rss_mb']:.1f} MB (peak {http['hwm_mb']:.1f}, idle "
        f"{http['rss_idle_mb']:.1f})", None, f"<= {TARGETS['rss_mb']:g} MB", http["rss_mb"] <= TARGETS["rss_mb"])
    return rows


def print_table(result: dict) -> None:
    m = result["machine"]
    print(f"qa bench: {m['cpus']} CPUs, load average {', '.join(f'{x:.2f}' for x in m['load_avg'])}, "
          f"index {m['index']}, {m['questions']} questions, {m['seconds_per_level']:g} s per HTTP level")
    header = ("measure", "value", "x ref", "target", "met")
    rows = [header, *rows_of(result)]
    widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
    for i, row in enumerate(rows):
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip())
        if i == 0:
            print("  ".join("-" * w for w in widths))
    print("x ref: the time divided by the reference p50 (for rates, the time per request or section).")
    print("HTTP levels run with the answer cache off (QA_CACHE_SIZE=0), closed loop, loopback.")
    profile = result["http"].get("profile")
    if profile:
        print(f"profile of the server at c8 ({profile.get('samples', 0)} samples, busy threads): "
              + ", ".join(f"{k} {v:g} %" for k, v in profile.get("stages_pct", {}).items()))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--index", type=Path, help="index to serve (default: build one of corpus/ in a temp dir)")
    parser.add_argument("--seconds", type=loadgen.positive(float), default=10.0, help="seconds per HTTP load level (default 10)")
    parser.add_argument("--reps", type=loadgen.positive(int), default=3, help="repetitions of each question for (a) (default 3)")
    parser.add_argument("--lib-reps", type=loadgen.positive(int), default=10, help="repetitions of each question for (b)")
    parser.add_argument("--starts", type=loadgen.positive(int), default=5, help="cold starts to time (default 5)")
    parser.add_argument("--build-sections", type=loadgen.positive(int), default=300, help="sections of the generated build corpus")
    parser.add_argument("--questions", type=Path, action="append", help="JSON Lines question file (repeatable)")
    parser.add_argument("--profile", type=Path, help="also profile the server at c8 with py-spy; summary JSON here")
    parser.add_argument("--quick", action="store_true", help="a tiny run to check the script works (no timings)")
    parser.add_argument("--json", action="store_true", help="print the results as one JSON object")
    parser.add_argument("--table", type=Path, metavar="JSON", help="print the table of a saved --json result")
    parser.add_argument("--library-ask", type=Path, metavar="INDEX", help="only (b) on INDEX, as JSON (run apart by the bench)")
    args = parser.parse_args(argv)
    if args.library_ask:
        print(json.dumps(library_ask(args.library_ask, loadgen.load_questions(args.questions), args.lib_reps)))
        return 0
    if args.table:
        print_table(json.loads(args.table.read_text()))
        return 0
    if args.index is not None:  # a bad index is one line now, not a failure minutes into the run
        from qa.store import IndexReader

        IndexReader(args.index).close()
    if args.quick:
        args.seconds, args.reps, args.lib_reps, args.starts = min(args.seconds, 1.0), 1, 1, 1
        args.build_sections = min(args.build_sections, 20)
    result = run(args)
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print_table(result)
    return 0


if __name__ == "__main__":
    raise SystemExit(loadgen.exit_on_known_errors(main))
