"""Scale checks: a synthetic 1,000,000-section index, its FAISS structure against exact search, a 50k-section text build.

    scale.py corpus     --sections 50000 --out DIR     real-looking .txt articles recombined from the seed corpus
    scale.py textbuild  --sections 50000               generate that corpus and time `qa.build.build` on it
    scale.py synth      --sections 1000000 --out DIR   write a synthetic index (store.py format) without a model
    scale.py measure    --index DIR [--cold]           load time (--cold: page cache dropped first), query p50, recall@10, RSS

The synthetic index has real text (seed sentences recombined under varied headings, one or two
sentences per section) but generated vectors: each section's vector is drawn around cluster
centres that are themselves mixtures of real sentence vectors, so real questions land in
meaningful neighbourhoods and the ANN structure has realistic work to do.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import random
import resource
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(Path(__file__).resolve().parent)]

from load import exit_on_known_errors, not_negative, positive  # noqa: E402  (scripts/load.py)

SEED_CORPUS = ROOT / "corpus"
QUESTION_FILES = (ROOT / "tests" / "data" / "dev.jsonl", ROOT / "tests" / "data" / "own.jsonl")

HEADING_PREFIXES = ("", "", "", "Regional ", "Maritime ", "Strategic ", "Emerging ", "Modern ", "Practical ",
                    "Future ", "Historical ", "Multilateral ", "Bilateral ", "Civilian ", "Operational ")
HEADING_SUFFIXES = ("", "", "", " in the Indo-Pacific", " Across Europe", " in Sub-Saharan Africa", " in Latin America",
                    " for Small States", " After the Cold War", " in the Arctic", " in the Middle East",
                    " Along the Baltic", " in Central Asia", " at Sea", " in Cyberspace", " Under Budget Pressure")
TITLE_TOPICS = ("Alliance Readiness", "Coalition Logistics", "Peace Support Operations", "Defence Diplomacy",
                "Joint Training", "Maritime Security", "Crisis Response", "Border Security", "Cyber Resilience",
                "Humanitarian Operations", "Intelligence Sharing", "Arms Control", "Security Sector Reform",
                "Military Education", "Disaster Relief", "Counterterrorism Cooperation")
TITLE_FORMS = ("{topic}: Lessons for {place}", "Understanding {topic} in {place}", "The Future of {topic}",
               "{topic} and the Changing Security Environment", "Building {topic} Capacity in {place}",
               "A Practical Guide to {topic}")
PLACES = ("Europe", "Africa", "Asia", "the Pacific", "the Americas", "Small States", "Coastal Nations",
          "the Nordic Region", "the Sahel", "the Balkans")
NOTICES = ("📝 Note for Readers: This piece includes AI-assisted content. It's always a good idea to verify key "
           "facts from trusted sources.",
           "⚠️ Please note: AI tools were used in crafting this content. For important matters, verify through "
           "trusted means.")


# ---------------------------------------------------------------- seed material


@dataclass(frozen=True)
class Seed:
    """What generated articles are made of: the seed corpus's headings and sentences."""

    headings: list[str]
    sentences: list[str]


def seed_material(corpus: Path = SEED_CORPUS) -> Seed:
    """Headings and sentences of the seed articles, as the project's own parser sees them."""
    from qa.articles import Skipped, iter_corpus
    from qa.sections import split_sections

    headings: list[str] = []
    sentences: list[str] = []
    for article in iter_corpus(corpus):
        if isinstance(article, Skipped):
            continue
        for section in split_sections(article):
            if section.heading:
                headings.append(section.heading)
            sentences.extend(article.text[s.start : s.end] for s in section.sentences)
    # Lead-ins ("... the following roles:") and list items only read well where they stood.
    whole = [s for s in dict.fromkeys(sentences) if s.endswith((".", "!", "?")) and s[:1].isupper()]
    return Seed(headings=sorted(set(headings)), sentences=whole)


@dataclass(frozen=True)
class GeneratedSection:
    heading: str
    start: int
    end: int
    sentences: list[tuple[int, int]]
    """(start, end) of each sentence in the article's text."""
    sentence_ids: list[int]
    """Index of each sentence in Seed.sentences (what its vector is made of)."""


@dataclass(frozen=True)
class GeneratedArticle:
    title: str
    notice: str
    text: str
    sections: list[GeneratedSection]


def generate_article(rng: random.Random, seed: Seed, plan: list[list[int]]) -> GeneratedArticle:
    """A .txt article: title, notice, an introduction, then headed sections.

    plan[i] lists the seed sentences of section i (section 0 is the introduction), so a
    synthetic vector can follow its section's text.
    """
    title = rng.choice(TITLE_FORMS).format(topic=rng.choice(TITLE_TOPICS), place=rng.choice(PLACES))
    notice = rng.choice(NOTICES)
    parts: list[str] = [title, "\n\n", notice, "\n\n"]
    pos = sum(len(p) for p in parts)
    out: list[GeneratedSection] = []
    used: set[str] = set()
    for number, ids in enumerate(plan):
        heading = "" if number == 0 else _heading(rng, seed, used)
        if heading:
            parts.append(heading + "\n\n")
            pos += len(heading) + 2
        start, spans = pos, []
        for i, sid in enumerate(ids):
            sentence = seed.sentences[sid]
            # Paragraphs of up to three sentences, one per line, as in the seed articles.
            sep = "" if i == 0 else ("\n\n" if i % 3 == 0 else " ")
            parts.append(sep + sentence)
            pos += len(sep)
            spans.append((pos, pos + len(sentence)))
            pos += len(sentence)
        out.append(GeneratedSection(heading, start, pos, spans, list(ids)))
        parts.append("\n\n")
        pos += 2
    return GeneratedArticle(title, notice, "".join(parts), out)


def random_plan(rng: random.Random, seed: Seed, n_sections: int, sentences: tuple[int, int]) -> list[list[int]]:
    """Seed sentence ids for each of n_sections sections, (min, max) sentences each."""
    return [[rng.randrange(len(seed.sentences)) for _ in range(rng.randint(*sentences))] for _ in range(n_sections)]


def _heading(rng: random.Random, seed: Seed, used: set[str]) -> str:
    """A varied seed heading, unique within its article."""
    for _ in range(20):
        base = rng.choice(seed.headings)
        prefix = rng.choice(HEADING_PREFIXES) if not base.startswith(("The ", "A ", "An ")) else ""
        heading = f"{prefix}{base}{rng.choice(HEADING_SUFFIXES)}"
        if heading not in used and len(heading.split()) <= 20:
            used.add(heading)
            return heading
    heading = f"{rng.choice(seed.headings)} {len(used) + 1}"
    used.add(heading)
    return heading


def write_corpus(out: Path, n_sections: int, seed: Seed, rng_seed: int = 7,
                 per_article: tuple[int, int] = (6, 14), sentences: tuple[int, int] = (3, 9)) -> int:
    """Write .txt articles holding about n_sections sections into out; returns the article count."""
    rng = random.Random(rng_seed)
    out.mkdir(parents=True, exist_ok=True)
    written = articles = 0
    while written < n_sections:
        n = min(rng.randint(*per_article), n_sections - written)
        article = generate_article(rng, seed, random_plan(rng, seed, max(n, 1), sentences))
        (out / f"{articles // 1000:03d}").mkdir(exist_ok=True)
        (out / f"{articles // 1000:03d}" / f"gen_{articles:07d}.txt").write_text(article.text, encoding="utf-8")
        written += len(article.sections)
        articles += 1
    return articles


# ---------------------------------------------------------------- measuring helpers


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values, dtype=np.float64), q)) if values else float("nan")


def rss_mb(pid: int | str = "self") -> dict[str, float]:
    """VmRSS, RssAnon, RssFile and VmHWM of a process, in MB (from /proc)."""
    out: dict[str, float] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "RssAnon", "RssFile", "VmHWM"):
            out[key] = int(value.split()[0]) / 1024
    return out


def questions() -> list[str]:
    """Questions of the dev and own question files (those present)."""
    out = []
    for path in QUESTION_FILES:
        if path.is_file():
            out += [json.loads(line)["question"] for line in path.read_text().splitlines() if line.strip()]
    return out


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------- synthetic vectors

VECTOR_CLUSTER = 0.55
"""Weight of an article's cluster centre in its sections' vectors."""
VECTOR_CONTENT = 0.65
"""Weight of the real vectors of the section's own sentences."""
VECTOR_NOISE = 0.55
"""Norm of the random part; sets how far apart sections with the same sentences are."""
CENTRE_NOISE = 1.0
"""Norm of the random direction that sets clusters apart."""
POOL = 8
"""Seed sentences a cluster (an article's topic) draws from."""
SECTIONS_PER_ARTICLE = 10


@dataclass(frozen=True)
class Space:
    """Cluster centres over real sentence vectors: what synthetic section vectors are drawn around."""

    sentence_vectors: np.ndarray
    centres: np.ndarray
    pools: np.ndarray


def seed_index(work: Path, given: Path | None = None) -> Path:
    """A real index of the seed corpus (for its ONNX encoder): the given one, or one built in work."""
    if given is not None:
        return given
    from qa.build import build
    from qa.settings import Settings

    index = work / "seed-index"
    if not (index / "CURRENT").exists():
        log("building a seed index of corpus/ (for its encoder)")
        build(Settings.from_env(corpus=SEED_CORPUS, index=index), progress=False)
    return index


def query_encoder(index: Path):
    from qa.searcher import load_query_encoder
    from qa.settings import Settings
    from qa.store import IndexReader

    reader = IndexReader(index)
    try:
        return load_query_encoder(reader, Settings.from_env())
    finally:
        reader.close()


def make_space(sentence_vectors: np.ndarray, n_clusters: int, rng: np.random.Generator) -> Space:
    """n_clusters centres, each a topic: the mean of POOL real sentence vectors plus a random direction."""
    n, dim = sentence_vectors.shape
    pools = np.stack([rng.choice(n, size=POOL, replace=False) for _ in range(n_clusters)])
    centres = sentence_vectors[pools].mean(1) + rng.standard_normal((n_clusters, dim)).astype(np.float32) * (
        CENTRE_NOISE / np.sqrt(dim))
    return Space(sentence_vectors, _unit(centres), pools)


def draw_sections(space: Space, n: int, rng: np.random.Generator, sentences: tuple[int, int] = (1, 2),
                  first_article: int = 0) -> tuple[np.ndarray, np.ndarray, list[np.ndarray]]:
    """(cluster of each section, unit vectors, seed sentence ids of each section) for n sections.

    Sections come in articles of SECTIONS_PER_ARTICLE, one cluster per article.
    """
    dim = space.centres.shape[1]
    articles = np.arange(n) // SECTIONS_PER_ARTICLE + first_article
    clusters = (articles * 2654435761 % 2**32) % len(space.centres)  # articles spread over clusters
    counts = rng.integers(sentences[0], sentences[1] + 1, size=n)
    picks = space.pools[clusters[:, None], rng.integers(0, POOL, size=(n, sentences[1]))]
    used = np.arange(sentences[1])[None, :] < counts[:, None]
    content = (space.sentence_vectors[picks] * used[:, :, None]).sum(1) / counts[:, None]
    noise = rng.standard_normal((n, dim)).astype(np.float32) * (VECTOR_NOISE / np.sqrt(dim))
    vectors = VECTOR_CLUSTER * space.centres[clusters] + VECTOR_CONTENT * content + noise
    ids = [row[:c] for row, c in zip(picks, counts)]
    return clusters, _unit(vectors), ids


def _unit(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32)
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


def synthetic_vectors(n: int, space: Space, seed: int = 0, chunk: int = 65536,
                      out: np.ndarray | None = None) -> np.ndarray:
    """n synthetic section vectors (float32), written into out (e.g. a memory map) when given."""
    out = np.zeros((n, space.centres.shape[1]), dtype=np.float32) if out is None else out
    rng = np.random.default_rng(seed)
    for lo in range(0, n, chunk):
        hi = min(n, lo + chunk)
        out[lo:hi] = draw_sections(space, hi - lo, rng, first_article=lo // SECTIONS_PER_ARTICLE)[1]
    return out


def query_sets(space: Space, encoder, n_held_out: int = 300) -> dict[str, np.ndarray]:
    """Queries for recall: held-out sections of the same distribution, and the real questions."""
    rng = np.random.default_rng(12345)
    held_out = draw_sections(space, n_held_out, rng, first_article=10**9)[1]
    real = encoder.encode(questions(), batch_size=1).astype(np.float32)
    return {"held_out": held_out, "questions": real}


# ---------------------------------------------------------------- the synthetic index

SENTENCE_NOISE = 0.3
"""Norm of the random part added to a seed sentence's real vector for each of its copies."""


def synth_index(n: int, index_dir: Path, seed_idx: Path, exact_limit: int | None = None,
                sentences: tuple[int, int] = (1, 2)) -> dict:
    """Write a generation of n synthetic sections into index_dir through qa.build's own writer.

    The text is parsed by the real parser and cut into windows and sentences by the real
    build; only the embedding step is replaced by generated vectors. Returns stage timings.
    """
    from qa import build as qb
    from qa import store
    from qa.articles import parse_article
    from qa.embedding import copy_encoder_files
    from qa.neighbours import choose_structure
    from qa.sections import split_sections
    from qa.settings import Settings

    times: dict[str, float] = {}
    clock = time.perf_counter()

    def lap(name: str) -> None:
        nonlocal clock
        times[name] = round(time.perf_counter() - clock, 1)
        log(f"{name}: {times[name]} s")
        clock = time.perf_counter()

    seed = seed_material()
    reader = store.IndexReader(seed_idx)
    seed_gen, model_info = reader.path, dict(reader.manifest["model"])
    reader.close()
    encoder = query_encoder(seed_idx)
    real = encoder.encode(seed.sentences, batch_size=1)
    space = make_space(real, max(1, n // 250), np.random.default_rng(0))
    section_vectors = synthetic_vectors(n, space)
    _, _, plan = draw_sections(space, n, np.random.default_rng(1), sentences)
    lap("vectors")

    rng = random.Random(0)
    articles, per = [], SECTIONS_PER_ARTICLE
    for number, lo in enumerate(range(0, n, per)):
        generated = generate_article(rng, seed, [list(p) for p in plan[lo : lo + per]])
        articles.append(parse_article(generated.text.encode("utf-8"), f"{number // 1000:03d}/syn_{number:07d}.txt"))
    sections = [s for a in articles for s in split_sections(a)]
    if len(sections) != n:
        raise RuntimeError(f"the parser found {len(sections)} sections in text generated with {n}")
    texts = {a.doc: a.text for a in articles}
    lap("text")
    units = qb.make_units(sections, texts, encoder)
    seed_ids = np.concatenate(plan)
    if len(units.sentence_texts) != len(seed_ids):
        raise RuntimeError("the build split the generated sentences differently from the generator")
    lap("units")

    dim = section_vectors.shape[1]
    n_windows = len(units.window_texts)
    vectors = np.empty((n_windows + len(seed_ids), dim), dtype=np.float32)
    vectors[:n_windows] = section_vectors[units.window_sections]
    del section_vectors
    noise_rng = np.random.default_rng(2)
    for lo in range(0, len(seed_ids), 65536):
        ids = seed_ids[lo : lo + 65536]
        noise = noise_rng.standard_normal((len(ids), dim)).astype(np.float32) * (SENTENCE_NOISE / np.sqrt(dim))
        vectors[n_windows + lo : n_windows + lo + len(ids)] = _unit(real[ids] + noise)
    key = f"synthetic:{model_info.get('name')}"
    digests = [qb.unit_hash(key, t) for t in units.window_texts + units.sentence_texts]
    for w, (lo, hi) in enumerate(getattr(units, "window_ranges", ())):
        if hi > lo:  # a window pooled from sentence vectors is named by its sentences, as qa.build does
            digests[w] = qb.unit_hash(key, "\x00pooled\x00" + "\x00".join(units.sentence_texts[lo:hi]))
    hashes = np.array(digests, dtype=f"S{qb.HASH_BYTES}")
    lap("sentence vectors and hashes")

    name, tmp = store.new_generation_dir(index_dir)
    copy_encoder_files(seed_gen / "encoder", tmp / "encoder")
    model = qb.PreparedModel(encoder, model_info, key)
    real_build_index, real_lexical_build = qb.build_index, qb.LexicalIndex.build

    def timed_index(windows: np.ndarray, structure):  # noqa: ANN202 - wraps qa.build's call
        started = time.perf_counter()
        index = real_build_index(windows, structure)
        times["faiss_build"] = round(time.perf_counter() - started, 1)
        log(f"faiss {structure.kind}: {times['faiss_build']} s")
        return index

    def timed_lexical(docs):  # noqa: ANN202
        started = time.perf_counter()
        lexical = real_lexical_build(docs)
        times["bm25_build"] = round(time.perf_counter() - started, 1)
        log(f"bm25: {times['bm25_build']} s")
        return lexical

    qb.build_index = timed_index
    qb.LexicalIndex.build = staticmethod(timed_lexical)
    if exact_limit is not None:
        qb.choose_structure = lambda count: choose_structure(count, exact_limit)
    try:
        qb._write(tmp, articles, sections, texts, units, vectors, hashes, model)
        lap("write (table, arrays, faiss, bm25)")
        report = qb.BuildReport(articles=len(articles), sections=n, windows=n_windows,
                                sentences=len(seed_ids), seconds=round(sum(times.values()), 1))
        settings = Settings.from_env(corpus=index_dir / "synthetic-corpus", index=index_dir)
        store.write_manifest(tmp, qb._manifest(settings, articles, report, model))
        store.publish_generation(index_dir, name, tmp)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    finally:
        qb.build_index, qb.LexicalIndex.build = real_build_index, real_lexical_build
        qb.choose_structure = choose_structure
    sizes = {p.name: round(p.stat().st_size / 2**20, 1) for p in (index_dir / "gens" / name).iterdir() if p.is_file()}
    return {"sections": n, "articles": len(articles), "windows": n_windows, "sentences": int(len(seed_ids)),
            "seconds": times, "file_mb": sizes}


# ---------------------------------------------------------------- measuring an index


def evict_from_page_cache(index: Path) -> int:
    """Drop the index's files from the page cache (so a load reads the disk); returns bytes evicted."""
    total = 0
    for file in index.rglob("*"):
        if file.is_file():
            fd = os.open(file, os.O_RDONLY)
            try:
                os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
            finally:
                os.close(fd)
            total += file.stat().st_size
    return total


def measure(index: Path, reps: int = 3, n_held_out: int = 300, serve_seconds: float = 10.0,
            cold: bool = False) -> dict:
    """Load time, query p50 end to end and by stage, recall@10 vs exact, RSS; then a served run.

    With `cold`, the index's files are dropped from the page cache before the first load.
    """
    import qa

    qs = questions()
    if cold:
        log(f"evicted {evict_from_page_cache(index) / 2**20:.0f} MiB of index files from the page cache")
    before = rss_mb()
    started = time.perf_counter()
    searcher = qa.load(index)
    load_s = time.perf_counter() - started
    after_load = rss_mb()
    manifest = searcher.manifest
    log(f"loaded {manifest['counts']['sections']} sections in {load_s:.2f} s; structure {manifest.get('faiss')}")

    stages: dict[str, list[float]] = {"ask": [], "encode": [], "terms": [], "faiss_64": [], "bm25": [],
                                      "retrieve": [], "answer": []}
    for q in qs:  # one untimed pass: first touches of the index files
        searcher.ask(q)
    for _ in range(reps):
        # A fresh reader each pass: rows it keeps once read would otherwise make repeats cheaper.
        searcher.close()
        searcher = qa.load(index)
        retriever = searcher.retriever
        for q in qs:
            stages["ask"].append(_ms(lambda: searcher.ask(q)))
            vector = searcher.encode([q])[0]
            terms = retriever.lexical.query_terms(q)
            stages["encode"].append(_ms(lambda: searcher.encode([q])))
            stages["terms"].append(_ms(lambda: retriever.lexical.query_terms(q)))
            stages["faiss_64"].append(_ms(lambda: retriever.neighbours.search(vector[None, :], 64)))
            stages["bm25"].append(_ms(lambda: retriever.lexical.scores(terms)))
            stages["retrieve"].append(_ms(lambda: retriever.candidates(vector, terms, 5)))
            stages["answer"].append(_ms(lambda: searcher.answer(q, vector, 5)))
    after_queries = rss_mb()
    latency = {k: {"p50_ms": round(percentile(v, 50), 2), "p99_ms": round(percentile(v, 99), 2)}
               for k, v in stages.items()}
    log(f"ask p50 {latency['ask']['p50_ms']} ms")
    recall = recall_at_10(searcher, qs, n_held_out)
    searcher.close()
    del searcher
    gc.collect()
    served = serve_check(index, serve_seconds) if serve_seconds > 0 else {}
    return {
        "index": str(index), "counts": manifest["counts"], "faiss": manifest.get("faiss"),
        "load_s": round(load_s, 3), "load_cache": "cold" if cold else "as found", "latency": latency, "recall": recall,
        "rss_mb": {"before_load": before, "after_load": after_load, "after_queries": after_queries},
        "served": served,
    }


def _ms(fn) -> float:  # noqa: ANN001
    started = time.perf_counter()
    fn()
    return (time.perf_counter() - started) * 1000


def recall_at_10(searcher, qs: list[str], n_held_out: int) -> dict:  # noqa: ANN001
    """recall@10 of the served structure against an exact scan of the same window vectors.

    Two query sets: the real questions (encoded), and held-out points near stored windows.
    Also the recall of the exact top 10 within the 64 windows the retriever actually asks for.
    """
    import faiss

    windows = searcher.reader.windows
    neighbours = searcher.retriever.neighbours
    rng = np.random.default_rng(7)
    rows = rng.choice(len(windows), size=min(n_held_out, len(windows)), replace=False)
    near = _unit(np.asarray(windows[np.sort(rows)], dtype=np.float32)
                 + rng.standard_normal((len(rows), windows.shape[1])).astype(np.float32) * (0.6 / np.sqrt(windows.shape[1])))
    sets = {"questions": searcher.encode(qs).astype(np.float32), "held_out": near}
    exact = faiss.IndexFlatIP(windows.shape[1])
    for lo in range(0, len(windows), 65536):
        exact.add(np.ascontiguousarray(windows[lo : lo + 65536], dtype=np.float32))
    out = {}
    for name, queries in sets.items():
        _, truth = exact.search(queries, 10)
        _, got10 = neighbours.search(queries, 10)
        _, got64 = neighbours.search(queries, 64)
        out[name] = {"queries": len(queries),
                     "recall@10": round(_overlap(truth, got10), 4),
                     "top10_in_64": round(_overlap(truth, got64), 4)}
    return out


def _overlap(truth: np.ndarray, got: np.ndarray) -> float:
    k = truth.shape[1]
    return float(np.mean([len(set(t.tolist()) & set(g.tolist())) / k for t, g in zip(truth, got)]))


def serve_check(index: Path, seconds: float) -> dict:
    """`qa serve` over the index: start to /healthz 200, then concurrency-8 load, RSS before and after."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import load as loadgen

    with loadgen.ServeProcess(index, env={"QA_CACHE_SIZE": "0"}) as server:
        ready = rss_mb(server.pid)
        asks = loadgen.ask_requests("127.0.0.1", server.port, questions())
        result = loadgen.run_load(server.url, asks, 8, seconds)
        after = rss_mb(server.pid)
    return {"ready_s": round(server.ready_s, 3), "rss_ready_mb": ready, "rss_after_load_mb": after,
            "c8": {k: getattr(result, k) for k in ("requests", "errors", "rps", "p50_ms", "p99_ms")},
            "error_samples": result.error_samples}


# ---------------------------------------------------------------- text build (real model)


def text_build(n_sections: int, work: Path, keep: bool = False) -> dict:
    """Generate a corpus of n_sections real-looking sections and time a full `qa.build.build` of it."""
    from qa.build import build
    from qa.settings import Settings

    corpus, index = work / "corpus", work / "index"
    started = time.perf_counter()
    articles = write_corpus(corpus, n_sections, seed_material())
    log(f"generated {articles} articles in {time.perf_counter() - started:.1f} s; building")
    started = time.perf_counter()
    report = build(Settings.from_env(corpus=corpus, index=index), progress=True)
    seconds = time.perf_counter() - started
    result = {
        "articles": report.articles, "sections": report.sections, "windows": report.windows,
        "sentences": report.sentences, "texts_embedded": report.embedded, "seconds": round(seconds, 1),
        "sections_per_s": round(report.sections / seconds, 1),
        "texts_per_s": round((report.windows + report.sentences) / seconds, 1),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "index": str(index) if keep else None,
    }
    if not keep:
        shutil.rmtree(work, ignore_errors=True)
    return result


# ---------------------------------------------------------------- command line


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("corpus", help="write real-looking .txt articles recombined from the seed corpus")
    p.add_argument("--sections", type=positive(int), default=50_000)
    p.add_argument("--out", type=Path, required=True)
    p = sub.add_parser("textbuild", help="time a real build of a generated corpus")
    p.add_argument("--sections", type=positive(int), default=50_000)
    p.add_argument("--work", type=Path, help="working directory (default: a temporary one)")
    p.add_argument("--keep", action="store_true", help="keep the corpus and index")
    p.add_argument("--json", type=Path, help="also write the result here")
    p = sub.add_parser("synth", help="write a synthetic index of --sections sections")
    p.add_argument("--sections", type=positive(int), default=1_000_000)
    p.add_argument("--out", type=Path, required=True, help="index directory to write")
    p.add_argument("--seed-index", type=Path, help="a real index whose encoder to copy (default: build one)")
    p.add_argument("--exact-limit", type=int, help="override the size up to which search is exact")
    p.add_argument("--json", type=Path, help="also write the result here")
    p = sub.add_parser("measure", help="load an index and measure it")
    p.add_argument("--index", type=Path, required=True)
    p.add_argument("--reps", type=positive(int), default=3)
    p.add_argument("--serve-seconds", type=not_negative(float), default=10.0, help="seconds of served load (0: skip)")
    p.add_argument("--cold", action="store_true", help="drop the index's files from the page cache before loading")
    p.add_argument("--json", type=Path, help="also write the result here")
    args = parser.parse_args(argv)

    if args.command == "corpus":
        n = write_corpus(args.out, args.sections, seed_material())
        print(f"wrote {n} articles (~{args.sections} sections) into {args.out}")
        return 0
    if args.command == "textbuild":
        work = args.work or Path(tempfile.mkdtemp(prefix="qa-textbuild-"))
        result = text_build(args.sections, work, keep=args.keep)
        _emit(result, args.json)
        return 0
    if args.command == "synth":
        work = Path(tempfile.mkdtemp(prefix="qa-synth-"))
        try:
            result = synth_index(args.sections, args.out, seed_index(work, args.seed_index), args.exact_limit)
        finally:
            shutil.rmtree(work, ignore_errors=True)
        _emit(result, args.json)
        return 0
    if args.command == "measure":
        _emit(measure(args.index, args.reps, serve_seconds=args.serve_seconds, cold=args.cold), args.json)
        return 0
    return 2


def _emit(result: dict, path: Path | None) -> None:
    text = json.dumps(result, indent=2)
    print(text)
    if path:
        path.write_text(text + "\n")


if __name__ == "__main__":
    raise SystemExit(exit_on_known_errors(main))
