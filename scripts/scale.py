"""Scale checks: a synthetic 1,000,000-section index, FAISS structures compared, a 50k-section text build.

    scale.py corpus     --sections 50000 --out DIR     real-looking .txt articles recombined from the seed corpus
    scale.py textbuild  --sections 50000               generate that corpus and time `qa.build.build` on it
    scale.py synth      --sections 1000000 --out DIR   write a synthetic index (store.py format) without a model
    scale.py measure    --index DIR                    load time, query p50, recall@10 vs exact, RSS
    scale.py structures --vectors N                    compare FAISS structures on synthetic vectors

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
sys.path.insert(0, str(ROOT))

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


def generate_article(rng: random.Random, seed: Seed, n_sections: int, sentences: tuple[int, int],
                     pick: list[int] | None = None) -> GeneratedArticle:
    """A .txt article: title, notice, an introduction, then n_sections - 1 headed sections.

    `sentences` is the (min, max) number of sentences per section; `pick`, when given, is the
    pool of sentence ids to draw from (so a synthetic vector can follow its text).
    """
    pool = pick if pick is not None else range(len(seed.sentences))
    title = rng.choice(TITLE_FORMS).format(topic=rng.choice(TITLE_TOPICS), place=rng.choice(PLACES))
    notice = rng.choice(NOTICES)
    parts: list[str] = [title, "\n\n", notice, "\n\n"]
    pos = sum(len(p) for p in parts)
    out: list[GeneratedSection] = []
    used: set[str] = set()
    for number in range(n_sections):
        heading = "" if number == 0 else _heading(rng, seed, used)
        if heading:
            parts.append(heading + "\n\n")
            pos += len(heading) + 2
        ids = [rng.choice(pool) for _ in range(rng.randint(*sentences))]
        start, spans = pos, []
        for i, sid in enumerate(ids):
            sentence = seed.sentences[sid]
            # Paragraphs of up to three sentences, one per line, as in the seed articles.
            sep = "" if i == 0 else ("\n\n" if i % 3 == 0 else " ")
            parts.append(sep + sentence)
            pos += len(sep)
            spans.append((pos, pos + len(sentence)))
            pos += len(sentence)
        out.append(GeneratedSection(heading, start, pos, spans, ids))
        parts.append("\n\n")
        pos += 2
    return GeneratedArticle(title, notice, "".join(parts), out)


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
        article = generate_article(rng, seed, max(n, 1), sentences)
        (out / f"{articles // 1000:03d}" ).mkdir(exist_ok=True)
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
        "sentences": report.sentences, "seconds": round(seconds, 1),
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
    p.add_argument("--sections", type=int, default=50_000)
    p.add_argument("--out", type=Path, required=True)
    p = sub.add_parser("textbuild", help="time a real build of a generated corpus")
    p.add_argument("--sections", type=int, default=50_000)
    p.add_argument("--work", type=Path, help="working directory (default: a temporary one)")
    p.add_argument("--keep", action="store_true", help="keep the corpus and index")
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
    return 2


def _emit(result: dict, path: Path | None) -> None:
    text = json.dumps(result, indent=2)
    print(text)
    if path:
        path.write_text(text + "\n")


if __name__ == "__main__":
    raise SystemExit(main())
