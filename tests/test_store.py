"""The index directory: loading errors are one clear message; a failed build changes nothing."""

from __future__ import annotations

import json
import random
import shutil
from pathlib import Path

import numpy as np
import pytest

import qa
from qa.build import BuildError, build
from qa.settings import Settings
from qa.store import IndexLoadError, IndexReader, resolve_generation

from conftest import Server, build_index, write_corpus


@pytest.fixture()
def index_copy(seed_index: Path, tmp_path: Path) -> Path:
    target = tmp_path / "index"
    shutil.copytree(seed_index, target)
    return target


def test_manifest_records_model_corpus_counts_and_build(seed_index: Path):
    manifest = IndexReader(seed_index).manifest
    assert manifest["format_version"] == 1
    assert manifest["model"]["name"] == "all-MiniLM-L6-v2" and manifest["model"]["dim"] == 384
    assert manifest["model"]["encoder"] == "onnx"
    assert len(manifest["corpus"]["fingerprint"]) == 64
    assert manifest["counts"]["articles"] == 2 and manifest["counts"]["sections"] == 36
    assert manifest["counts"]["windows"] >= 36
    assert manifest["faiss"]["kind"] == "flat"
    assert "built_at" in manifest


def test_missing_index_is_one_clear_error(tmp_path: Path):
    with pytest.raises(IndexLoadError, match="no index here"):
        qa.load(tmp_path / "nowhere")
    with pytest.raises(IndexLoadError, match="not an index directory"):
        qa.load(tmp_path)


def test_truncated_file_is_detected(index_copy: Path):
    vectors = resolve_generation(index_copy) / "windows.npy"
    vectors.write_bytes(vectors.read_bytes()[:-100])
    with pytest.raises(IndexLoadError, match="truncated"):
        qa.load(index_copy)


@pytest.mark.parametrize("damage", [
    "DROP TABLE articles",
    "DROP TABLE sentence_terms",
    "ALTER TABLE sections DROP COLUMN raw",
])
def test_a_table_damaged_in_place_is_refused_at_load_not_at_the_first_question(index_copy: Path, damage: str):
    import sqlite3

    db = sqlite3.connect(resolve_generation(index_copy) / "sections.db")
    db.execute(damage)
    db.commit()
    db.close()
    with pytest.raises(IndexLoadError, match="sections.db: unreadable"):
        qa.load(index_copy)


def test_other_format_version_is_refused(index_copy: Path):
    manifest_path = resolve_generation(index_copy) / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    manifest["format_version"] = 99
    manifest_path.write_text(json.dumps(manifest))
    with pytest.raises(IndexLoadError, match="format version 99"):
        qa.load(index_copy)


def test_vectors_that_do_not_match_the_manifest_are_refused(index_copy: Path):
    gen = resolve_generation(index_copy)
    manifest = json.loads((gen / "manifest.json").read_text())
    windows = np.load(gen / "windows.npy")
    np.save(gen / "windows.npy", windows[:-1])
    manifest["files"]["windows.npy"] = (gen / "windows.npy").stat().st_size
    (gen / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(IndexLoadError, match="does not match the manifest"):
        qa.load(index_copy)


@pytest.mark.parametrize("name, row, value", [
    ("window_sections", (0,), 10_000),  # a section that isn't there: an IndexError on some question
    ("section_sentences", (3, 0), -7),  # a run that starts before the first sentence
    ("section_sentences", (3, 1), 0),  # a run that ends before it starts
])
def test_a_file_altered_in_place_is_refused_at_load(index_copy: Path, name: str, row: tuple, value: int):
    """Same size, so the manifest's byte counts can't tell: the values must."""
    file = resolve_generation(index_copy) / f"{name}.npy"
    array = np.load(file)
    array[row] = value
    np.save(file, array)
    with pytest.raises(IndexLoadError, match=f"{name}.npy: .*altered index"):
        qa.load(index_copy)


def _overwrite(file: Path, at: int, size: int) -> None:
    """Bytes of the file from `at` replaced by seeded noise: same size, so only its contents tell."""
    noise = random.Random(0).randbytes(size)
    with open(file, "r+b") as out:
        out.seek(at)
        out.write(noise[: file.stat().st_size - at])


def test_a_section_table_overwritten_in_place_is_refused_at_load(index_copy: Path):
    db = resolve_generation(index_copy) / "sections.db"
    _overwrite(db, db.stat().st_size // 2, 8000)
    with pytest.raises(IndexLoadError, match="sections.db: unreadable .*integrity check"):
        qa.load(index_copy)


@pytest.mark.parametrize("name", ["windows", "sentence_vectors"])
@pytest.mark.parametrize("value", [np.nan, np.inf, 0.5])
def test_vectors_overwritten_in_place_are_refused_at_load(index_copy: Path, name: str, value: float):
    file = resolve_generation(index_copy) / f"{name}.npy"
    vectors = np.load(file)
    vectors[5, :3] = value
    np.save(file, vectors)
    with pytest.raises(IndexLoadError, match=f"{name}.npy: holds vectors that are not unit length"):
        qa.load(index_copy)


def test_bm25_postings_overwritten_in_place_are_refused_at_load(index_copy: Path):
    file = resolve_generation(index_copy) / "lexical" / "indices.csc.index.npy"
    postings = np.load(file)
    postings[len(postings) // 2] = 10_000  # a section that isn't there
    np.save(file, postings)
    with pytest.raises(IndexLoadError, match="BM25 postings do not match its 36 sections"):
        qa.load(index_copy)


@pytest.fixture()
def large_index_checks(monkeypatch: pytest.MonkeyPatch) -> None:
    """Loading as for an index too large to read whole at load: files are checked as questions read them."""
    import qa.lexical
    import qa.store

    monkeypatch.setattr(qa.store, "CHECKED_DB_BYTES", 0)
    monkeypatch.setattr(qa.store, "CHECKED_VECTOR_BYTES", 0)
    monkeypatch.setattr(qa.lexical, "MMAP_ABOVE_BYTES", 0)


def test_a_large_index_damaged_in_place_fails_the_question_with_a_load_error(index_copy: Path, large_index_checks):
    gen = resolve_generation(index_copy)
    vectors = np.load(gen / "sentence_vectors.npy")
    np.save(gen / "sentence_vectors.npy", np.where(np.arange(len(vectors))[:, None] % 2, np.nan, vectors))
    searcher = qa.load(index_copy)  # nothing read whole at load: it loads
    with pytest.raises(IndexLoadError, match="vectors that are not numbers .*rebuild the index"):
        searcher.ask("How do allies train together?")
    searcher.close()
    np.save(gen / "sentence_vectors.npy", vectors)
    postings = gen / "lexical" / "indices.csc.index.npy"
    kept = np.load(postings)
    np.save(postings, np.full_like(kept, 10_000))  # sections that aren't there
    searcher = qa.load(index_copy)
    with pytest.raises(IndexLoadError, match="lexical: BM25 postings name sections that do not exist"):
        searcher.ask("How do allies train together?")
    searcher.close()
    np.save(postings, kept)
    db = gen / "sections.db"
    _overwrite(db, db.stat().st_size // 2, 8000)  # past the rows the load reads
    searcher = qa.load(index_copy)
    with pytest.raises(IndexLoadError, match="sections.db: damaged .*rebuild the index"):
        for question in [f"What is said about {word}?" for word in ("cyber", "peacekeeping", "NATO", "training")]:
            searcher.ask(question)
        for article in searcher.reader.articles():
            searcher.reader.article(article.doc)
    searcher.close()


def test_a_server_whose_index_is_damaged_under_it_answers_503_not_500(index_copy: Path, tmp_path: Path):
    server = Server(index_copy, log=tmp_path / "serve.log")
    try:
        db = resolve_generation(index_copy) / "sections.db"
        _overwrite(db, db.stat().st_size // 2, 8000)  # after the load's checks passed
        statuses = set()
        for path in ["/documents/000_ccd1cb8f005a164f.txt", "/documents/003_5980fc8c05fdc981.txt",
                     *[f"/ask?q=What+is+said+about+{word}%3F" for word in ("cyber", "peacekeeping", "NATO", "training")]]:
            status, body, _ = server.request("GET", path)
            statuses.add(status)
            if status == 503:
                assert "index is damaged" in json.loads(body)["detail"]
        assert statuses <= {200, 503} and 503 in statuses
        assert "sections.db: damaged" in (tmp_path / "serve.log").read_text()
    finally:
        server.stop()


def test_a_rebuild_embeds_again_what_was_altered_instead_of_carrying_it_over(index_copy: Path, seed_corpus: Path,
                                                                            large_index_checks):
    gen = resolve_generation(index_copy)
    vectors, ids = np.load(gen / "sentence_vectors.npy"), np.load(gen / "token_ids.npy")
    offsets = np.load(gen / "sentence_tokens.npy")
    altered = vectors.copy()
    altered[[3, 7], :] = np.nan
    np.save(gen / "sentence_vectors.npy", altered)
    damaged_ids = ids.copy()
    damaged_ids[offsets[11]] = 10**6  # a word piece of sentence 11 outside the vocabulary
    np.save(gen / "token_ids.npy", damaged_ids)
    report = build(Settings.from_env(corpus=seed_corpus, index=index_copy), progress=False)
    assert report.embedded == 3 and report.added == report.changed == []
    rebuilt = resolve_generation(index_copy)
    now = np.load(rebuilt / "sentence_vectors.npy").astype(np.float32)
    assert np.isfinite(now).all() and (np.sum(now * vectors.astype(np.float32), axis=1) > 0.98).all()
    assert np.array_equal(np.load(rebuilt / "token_ids.npy"), ids)
    assert qa.load(index_copy).ask("How do allies train together?").passages


def test_a_rebuild_over_an_index_that_fails_to_load_says_so_and_embeds_everything(
        index_copy: Path, seed_corpus: Path, caplog: pytest.LogCaptureFixture):
    gen = resolve_generation(index_copy)
    vectors = np.load(gen / "sentence_vectors.npy")
    vectors[3] = np.nan
    np.save(gen / "sentence_vectors.npy", vectors)
    report = build(Settings.from_env(corpus=seed_corpus, index=index_copy), progress=False)
    assert report.reused_vectors == 0 and report.embedded == len(vectors)
    assert "the current index can't be read, so nothing of it is reused" in caplog.text
    assert "sentence_vectors.npy: holds vectors that are not unit length" in caplog.text
    assert qa.load(index_copy).ask("How do allies train together?").passages


def test_a_model_file_altered_in_place_is_refused_at_load(index_copy: Path):
    gen = resolve_generation(index_copy)
    manifest = json.loads((gen / "manifest.json").read_text())
    served = gen / "encoder" / "model_int8.onnx"
    data = bytearray(served.read_bytes())
    data[len(data) // 2] ^= 0xFF  # one byte of the weights: it would still load, and answer wrongly
    served.unlink()  # a hard link to the export cache: write a file of its own
    served.write_bytes(bytes(data))
    with pytest.raises(IndexLoadError, match="model_int8.onnx: its bytes differ from what the build wrote"):
        qa.load(index_copy)
    del manifest["digests"]  # an index built before digests were kept loads as it is
    (gen / "manifest.json").write_text(json.dumps(manifest))
    qa.load(index_copy).close()


def test_dangling_pointer_is_refused(index_copy: Path):
    (index_copy / "CURRENT").write_text("no-such-generation\n")
    with pytest.raises(IndexLoadError, match="missing generation"):
        qa.load(index_copy)
    (index_copy / "CURRENT").write_text("g" * 100_000)
    with pytest.raises(IndexLoadError, match="missing generation 'g{79}…'$"):
        qa.load(index_copy)


def test_a_path_the_file_system_refuses_is_a_load_error(tmp_path: Path):
    with pytest.raises(IndexLoadError, match="cannot be read .*File name too long"):
        qa.load(tmp_path / ("x" * 5000))


def test_failed_build_leaves_the_previous_index_intact(index_copy: Path, tmp_path: Path):
    before = (index_copy / "CURRENT").read_text()
    with pytest.raises(BuildError):
        build(Settings.from_env(corpus=tmp_path / "no-corpus", index=index_copy), progress=False)
    empty = write_corpus(tmp_path / "empty", {"notes.bin": b"\x00\x01"})
    with pytest.raises(BuildError, match="no articles"):
        build(Settings.from_env(corpus=empty, index=index_copy), progress=False)
    assert (index_copy / "CURRENT").read_text() == before
    assert not list((index_copy / "gens").glob(".tmp-*"))
    assert qa.load(index_copy).ask("What does Article 5 say?").passages


def test_a_rebuild_switches_generations_and_keeps_the_previous_one(tmp_path: Path):
    corpus = write_corpus(tmp_path / "corpus", {"a.txt": "Alpha Title\n\nFirst Part\nThe alpha text is here.\n"})
    index = build_index(corpus, tmp_path / "index")
    first = (index / "CURRENT").read_text().strip()
    (corpus / "b.txt").write_text("Beta Title\n\nSecond Part\nThe beta text is here.\n")
    build_index(corpus, index)
    second = (index / "CURRENT").read_text().strip()
    assert second != first
    assert sorted(p.name for p in (index / "gens").iterdir()) == sorted([first, second])
    assert qa.load(index).manifest["counts"]["articles"] == 2


def test_rows_read_twice_come_from_memory_and_equal_the_table(seed_index: Path, monkeypatch: pytest.MonkeyPatch):
    reader = IndexReader(seed_index)
    try:
        ids = list(range(reader.section_count))
        first = reader.sections(ids[::-1])
        assert [r.id for r in first] == ids[::-1]
        terms = reader.sentence_terms([(0, 5), (10, 12)])
        assert sorted(terms) == [0, 1, 2, 3, 4, 10, 11]
        docs = sorted({r.doc for r in first}) + ["no-such-article.txt"]
        notices = reader.notices(docs)
        assert set(notices) == set(docs[:-1])

        def no_table() -> None:
            raise AssertionError("read the section table again")

        monkeypatch.setattr(reader, "_db", no_table)
        assert reader.sections(ids[::-1]) == first
        assert reader.sentence_terms([(0, 5), (10, 12)]) == terms
        assert reader.notices(docs) == notices
    finally:
        monkeypatch.undo()
        reader.close()


def test_recent_rows_start_afresh_when_full():
    from qa.store import Recent

    fetched: list[list[int]] = []

    def fetch(keys: list[int]) -> dict[int, str]:
        fetched.append(keys)
        return {k: f"row {k}" for k in keys if k != 99}

    recent: Recent[int, str] = Recent(capacity=4)
    assert recent.get_many([1, 2, 2, 99], fetch) == {1: "row 1", 2: "row 2"}
    assert recent.get_many([2, 1], fetch) == {1: "row 1", 2: "row 2"}
    assert fetched == [[1, 2, 99]]
    recent.get_many([3, 4, 5], fetch)  # over capacity: the old rows are dropped
    recent.get_many([1], fetch)
    assert fetched[-1] == [1]


def test_row_file_reads_the_same_rows_as_the_array(tmp_path: Path):
    from qa.store import RowFile

    rng = np.random.default_rng(5)
    array = rng.standard_normal((1000, 24)).astype(np.float16)
    np.save(tmp_path / "a.npy", array)
    rows = RowFile(tmp_path / "a.npy")
    try:
        assert rows.shape == array.shape and rows.dtype == array.dtype and len(rows) == 1000
        for ids in ([], [0], [999], [5, 6, 7, 8], [8, 7, 6, 5], [3, 3, 900, 4, 3], rng.integers(0, 1000, 300)):
            np.testing.assert_array_equal(rows[np.asarray(ids, dtype=np.int64)], array[np.asarray(ids, dtype=np.int64)])
        for bad in ([1000], [-1]):
            with pytest.raises(IndexError):
                rows[np.asarray(bad)]
    finally:
        rows.close()
    with pytest.raises(ValueError, match="closed"):
        rows[np.asarray([1])]


def test_answers_are_the_same_when_vectors_are_read_by_row(seed_index: Path, monkeypatch: pytest.MonkeyPatch):
    import qa.retrieval
    import qa.store

    questions = ["What does Article 5 say?", "How do peacekeepers cooperate with local forces?"]
    expected = [qa.load(seed_index).ask(q, k=5).model_dump() for q in questions]
    monkeypatch.setattr(qa.store, "PREAD_ABOVE_BYTES", 0)
    monkeypatch.setattr(qa.retrieval, "IN_MEMORY_BYTES", 0)
    searcher = qa.load(seed_index)
    try:
        assert isinstance(searcher.reader.sentence_rows, qa.store.RowFile)
        assert isinstance(searcher.retriever._sentence_vectors, qa.store.RowFile)
        got = [searcher.ask(q, k=5).model_dump() for q in questions]
    finally:
        searcher.close()
    for g, e in zip(got, expected):
        assert [p["citation"] for p in g["passages"]] == [p["citation"] for p in e["passages"]]
        assert [p["answer"] for p in g["passages"]] == [p["answer"] for p in e["passages"]]
        # float16 rows against float32 in RAM: scores agree to the rounding of the stored vectors
        np.testing.assert_allclose([p["score"] for p in g["passages"]], [p["score"] for p in e["passages"]], atol=2e-3)


def test_many_rows_are_read_within_sqlites_parameter_limit(seed_index: Path):
    import sqlite3

    reader = IndexReader(seed_index)
    try:
        reader._db().setlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER, 999)  # the limit of older SQLite builds
        count = reader.manifest["counts"]["sentences"]
        terms = reader.sentence_terms([(0, 5000)])  # rows past the end are simply absent
        assert sorted(terms) == list(range(count))
        assert len(reader.sections(list(range(2000)))) == reader.section_count
    finally:
        reader.close()


@pytest.mark.parametrize("size", [0, 5, 3 * 1024 + 7])
def test_read_ahead_reads_a_whole_file_once_and_leaves_it_unchanged(tmp_path: Path, size: int,
                                                                    monkeypatch: pytest.MonkeyPatch):
    import os

    from qa import store

    file = tmp_path / "blob"
    data = bytes(range(256)) * (size // 256) + bytes(size % 256)
    file.write_bytes(data)
    read: list[int] = []
    real_readv = os.readv

    def counting_readv(fd: int, buffers: list) -> int:
        n = real_readv(fd, buffers)
        read.append(n)
        return n

    monkeypatch.setattr(store.os, "readv", counting_readv)
    store.read_ahead(file, chunk_bytes=1024)
    assert sum(read) == size and read[-1] == 0
    assert file.read_bytes() == data


def test_a_bm25_variant_this_version_cannot_read_fails_to_load_clearly(seed_index: Path, tmp_path: Path):
    from qa.lexical import LexicalIndex

    lexical = shutil.copytree(resolve_generation(seed_index) / "lexical", tmp_path / "lexical")
    params = json.loads((lexical / "params.index.json").read_text())
    (lexical / "params.index.json").write_text(json.dumps({**params, "method": "bm25l"}))
    with pytest.raises(ValueError, match="BM25 variant 'bm25l' is not one this version reads"):
        LexicalIndex.load(lexical)
