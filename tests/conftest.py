"""Shared fixtures: a real index of the seed articles built once, and a real server over it."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import settings

ROOT = Path(__file__).resolve().parent.parent
SEED_CORPUS = ROOT / "corpus"
DATA = Path(__file__).resolve().parent / "data"
DEV = DATA / "dev.jsonl"

# CI gates a landing on the same examples every run (HYPOTHESIS_PROFILE=ci in .ci/run); a run
# elsewhere draws new ones, so the property tests keep looking for inputs nobody thought of.
settings.register_profile("ci", derandomize=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))

sys.path.insert(0, str(ROOT / "scripts"))
from load import ServeProcess  # noqa: E402 - the benchmarks' server process, shared with the tests


def _accurate_installed() -> bool:
    from qa.packaged_models import ACCURATE

    return ACCURATE.installed() is not None


needs_accurate = pytest.mark.skipif(
    not _accurate_installed() and not os.environ.get("QA_TEST_ACCURATE"),
    reason="the accurate extra is not installed (CI sets QA_TEST_ACCURATE, so there they fail instead)")
"""For tests of all-mpnet-base-v2, which ships in the `accurate` extra."""


@pytest.fixture(scope="session", autouse=True)
def model_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """One exported model for the whole session, so each test build skips the torch export."""
    cache = Path(os.environ.get("QA_TEST_CACHE_DIR") or tmp_path_factory.mktemp("qa-cache"))
    old = os.environ.get("QA_CACHE_DIR")
    os.environ["QA_CACHE_DIR"] = str(cache)
    yield cache
    if old is None:
        os.environ.pop("QA_CACHE_DIR", None)
    else:
        os.environ["QA_CACHE_DIR"] = old


def build_index(corpus: Path, index: Path, **settings: object) -> Path:
    """Build a real index (real model, real FAISS) of corpus into index."""
    from qa.build import build
    from qa.settings import Settings

    build(Settings.from_env(corpus=corpus, index=index, **settings), progress=False)
    return index


def write_corpus(root: Path, files: dict[str, str | bytes]) -> Path:
    """A corpus directory holding the given files (str is written as UTF-8)."""
    root.mkdir(parents=True, exist_ok=True)
    for name, content in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content.encode("utf-8") if isinstance(content, str) else content)
    return root


@pytest.fixture(scope="session")
def seed_corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = tmp_path_factory.mktemp("seed") / "corpus"
    shutil.copytree(SEED_CORPUS, target)
    return target


@pytest.fixture(scope="session")
def seed_index(seed_corpus: Path, tmp_path_factory: pytest.TempPathFactory, model_cache: Path) -> Path:
    return build_index(seed_corpus, tmp_path_factory.mktemp("seed-index") / "index")


@pytest.fixture(scope="session")
def searcher(seed_index: Path):
    import qa

    s = qa.load(seed_index)
    yield s
    s.close()


class Server(ServeProcess):
    """A real `qa serve` process on a loopback port, with request helpers for tests."""

    def __init__(self, index: Path, env: dict[str, str] | None = None, log: Path | None = None) -> None:
        super().__init__(index, env=env, timeout=60.0, log=log)

    def request(self, method: str, path: str, body: bytes | None = None,
                headers: dict[str, str] | None = None) -> tuple[int, bytes, dict[str, str]]:
        req = urllib.request.Request(self.url + path, data=body, method=method, headers=headers or {})
        if body is not None and "Content-Type" not in (headers or {}):
            req.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(req, timeout=30) as resp:
                return resp.status, resp.read(), dict(resp.headers)
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read(), dict(exc.headers)

    def get_json(self, path: str) -> tuple[int, object]:
        status, body, _ = self.request("GET", path)
        return status, json.loads(body)

    def post_json(self, path: str, payload: object, headers: dict[str, str] | None = None) -> tuple[int, object]:
        status, body, _ = self.request("POST", path, json.dumps(payload).encode(), headers)
        return status, json.loads(body)


@pytest.fixture(scope="session")
def server(seed_index: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    srv = Server(seed_index, log=tmp_path_factory.mktemp("server") / "serve.log")
    yield srv
    srv.stop()


def run_cli(*args: str, env: dict[str, str] | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    """Run `python -m qa ARGS` as a user would, capturing its output."""
    return subprocess.run([sys.executable, "-m", "qa", *args], capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, **(env or {})})


def plain_text(corpus: Path, doc: str) -> str:
    return (corpus / doc).read_bytes().decode("utf-8").replace("\r\n", "\n").replace("\r", "\n")
