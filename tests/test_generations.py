"""Index generations: incremental builds, builds killed at any moment, hot swaps without downtime."""

from __future__ import annotations

import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest

import qa
from qa import store
from qa.build import BuildError, BuildReport, build
from qa.embedding import OnnxEncoder
from qa.settings import Settings
from qa.store import IndexReader

from conftest import DEV, Server, build_index, run_cli, write_corpus

TOKEN = "generations-test-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
CHANGED_DOC = "000_ccd1cb8f005a164f.txt"
CHANGED_SECTION = "The Significance of International Military Cooperation Roles in Global Security"
OLD_SENTENCE = "Such cooperation reduces the risk of misunderstandings and conflicts between nations."
NEW_SENTENCE = "Such cooperation lowers the risk of misunderstandings and conflicts between nations."
ZEBRA_DOC = "zebra_farming.txt"
ZEBRA = ("Zebra Farming in Xyloria\n\nStripes as a Crop\nIn the valley of Xyloria, farmers raise zebras for their "
         "stripes, which are woven into ceremonial banners. The stripe harvest happens every spring.\n")
ZEBRA_QUESTION = "Why do farmers in Xyloria raise zebras?"


@pytest.fixture
def corpus(seed_corpus: Path, tmp_path: Path) -> Path:
    """A private copy of the seed corpus, free to change."""
    return Path(shutil.copytree(seed_corpus, tmp_path / "corpus"))


@pytest.fixture
def index(seed_index: Path, tmp_path: Path) -> Path:
    """A private copy of the seed index (same vectors, so rebuilds of the seeds reuse them)."""
    return Path(shutil.copytree(seed_index, tmp_path / "index"))


@pytest.fixture
def encoded(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every text the ONNX encoder embeds from now on."""
    texts: list[str] = []
    original = OnnxEncoder._encode  # under encode and encode_with_tokens alike

    def counting(self: OnnxEncoder, batch: list[str], batch_size: int, alone: bool, *rest) -> np.ndarray:
        texts.extend(batch)
        return original(self, batch, batch_size, alone, *rest)

    monkeypatch.setattr(OnnxEncoder, "_encode", counting)
    return texts


def rebuild(corpus: Path, index: Path) -> BuildReport:
    return build(Settings.from_env(corpus=corpus, index=index), progress=False)


def current(index: Path) -> str:
    return (index / "CURRENT").read_text().strip()


# ---------------------------------------------------------------- incremental builds


def test_rebuilding_the_unchanged_seeds_embeds_no_text(corpus: Path, index: Path, encoded: list[str]):
    before = current(index)
    report = rebuild(corpus, index)
    assert encoded == [] and report.embedded == 0
    # Every sentence vector is reused; windows are pooled from them (none is long enough to embed).
    assert report.reused_vectors == report.sentences > 300
    assert sorted(report.reused) == sorted(p.name for p in corpus.iterdir())
    assert not report.added and not report.changed and not report.removed
    assert current(index) == report.generation != before


def test_changing_one_sentence_re_embeds_only_its_section(corpus: Path, index: Path, encoded: list[str]):
    path = corpus / CHANGED_DOC
    text = path.read_text(encoding="utf-8")
    assert text.count(OLD_SENTENCE) == 1
    path.write_text(text.replace(OLD_SENTENCE, NEW_SENTENCE), encoding="utf-8")

    report = rebuild(corpus, index)

    assert report.changed == [CHANGED_DOC] and report.reused == ["003_5980fc8c05fdc981.txt"]
    assert len(encoded) == report.embedded
    # Only the changed sentence is embedded; its section's windows are pooled again from sentences.
    assert encoded == [f"{CHANGED_SECTION}: {NEW_SENTENCE}"] and report.embedded == 1
    answer = qa.load(index).ask("What lowers the risk of misunderstandings and conflicts between nations?", k=5)
    assert any(p.citation.section == CHANGED_SECTION and NEW_SENTENCE in p.text for p in answer.passages)


def test_cli_reports_added_changed_removed_and_reused_articles(corpus: Path, index: Path):
    (corpus / "003_5980fc8c05fdc981.txt").unlink()
    (corpus / ZEBRA_DOC).write_text(ZEBRA, encoding="utf-8")

    done = run_cli("index", "--corpus", str(corpus), "--index", str(index), "--quiet")

    assert done.returncode == 0, done.stderr
    assert "articles: 1 added, 0 changed, 1 removed, 1 unchanged" in done.stdout
    embedded = int(re.search(r"vectors: (\d+) embedded", done.stdout).group(1))
    assert 0 < embedded < 10  # the zebra article's few windows and sentences only
    searcher = qa.load(index)
    assert [a.doc for a in searcher.reader.articles()] == ["000_ccd1cb8f005a164f.txt", ZEBRA_DOC]
    result = searcher.ask("How does NATO respond to an attack on a member?", k=10)
    assert all(p.citation.doc != "003_5980fc8c05fdc981.txt" for p in result.passages)
    assert searcher.ask(ZEBRA_QUESTION, k=1).passages[0].citation.doc == ZEBRA_DOC


def test_a_generation_in_use_is_never_pruned(corpus: Path, index: Path):
    held = qa.load(index)
    first = held.generation
    for n in range(3):  # more builds than generations kept
        (corpus / f"extra{n}.txt").write_text(ZEBRA.replace("Xyloria", f"Xyloria {n}"), encoding="utf-8")
        rebuild(corpus, index)
    assert (index / "gens" / first).is_dir()
    # A thread that never touched the index opens its own SQLite connection: the files must still be there.
    found: list[object] = []
    worker = threading.Thread(target=lambda: found.append(held.reader.article(CHANGED_DOC)))
    worker.start()
    worker.join()
    assert found[0] is not None
    assert held.ask("What does Article 5 say?").passages
    held.close()
    rebuild(corpus, index)
    assert not (index / "gens" / first).exists()


def test_a_second_build_into_the_same_index_is_refused_while_the_first_runs(corpus: Path, index: Path):
    before = current(index)
    with store.build_lock(index):  # as a running `qa index` holds it
        done = run_cli("index", "--corpus", str(corpus), "--index", str(index), "--quiet")
        with pytest.raises(BuildError, match="another `qa index` is writing to it"):
            rebuild(corpus, index)
    assert done.returncode != 0
    assert f"another `qa index` is writing to it (process {os.getpid()})" in done.stderr
    assert str(index) in done.stderr and "Traceback" not in done.stderr
    assert current(index) == before and not list((index / "gens").glob(".tmp-*"))
    assert rebuild(corpus, index).generation == current(index) != before  # the lock went with the first


def test_a_lock_file_another_user_left_or_a_file_system_without_locks_still_builds(
        corpus: Path, index: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture):
    (index / store.BUILD_LOCK).write_text("12345")
    opened = os.open

    def as_another_users_file(path, flags, *mode):  # noqa: ANN001, ANN202 - os.open's signature
        if Path(path).name == store.BUILD_LOCK and flags & os.O_RDWR:
            raise PermissionError(13, "Permission denied", str(path))
        return opened(path, flags, *mode)

    monkeypatch.setattr(store.os, "open", as_another_users_file)
    before = current(index)
    assert rebuild(corpus, index).generation == current(index) != before
    with store.build_lock(index):  # a read-only handle still excludes a second build
        with pytest.raises(BuildError, match="another `qa index` is writing to it"):
            rebuild(corpus, index)

    def no_locks(fd: int, operation: int) -> None:
        raise OSError(37, "No locks available")

    monkeypatch.setattr(store.fcntl, "flock", no_locks)
    assert rebuild(corpus, index).generation == current(index)
    assert "builds are not serialised here (No locks available)" in caplog.text


# ---------------------------------------------------------------- builds killed at any moment


def test_a_build_killed_at_any_moment_leaves_the_served_index_intact(tmp_path: Path, seed_corpus: Path):
    index = build_index(write_corpus(tmp_path / "tiny", {"lighthouse.txt": (
        "Lighthouses\n\nKeepers\nA lighthouse keeper tends the lamp through the night.\n")}), tmp_path / "index")
    served = current(index)
    server = Server(index, log=tmp_path / "serve.log")
    try:
        dead_temps: set[str] = set()
        # Before the build starts writing, just after, part-way, and as it publishes.
        for moment in ("start", 0.0, 0.3, 0.8, "publish"):
            proc = subprocess.Popen([sys.executable, "-m", "qa", "index", "--corpus", str(seed_corpus),
                                     "--index", str(index), "--quiet"],
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            if moment == "publish":
                _wait_for_new_generation(index, proc)
            elif moment == "start":
                time.sleep(0.3)
            else:
                _wait_for_temp_dir(index, proc)
                time.sleep(float(moment))
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            dead_temps |= {p.name for p in (index / "gens").glob(".tmp-*")}
            pointer = current(index)
            # Either untouched, or (killed after the switch) a complete new generation.
            assert pointer == served or qa.load(index).manifest["counts"]["articles"] == 2, moment
            assert qa.load(index).ask("Who tends the lamp?").passages, moment
            status, body = server.get_json("/ask?q=Who+tends+the+lamp%3F&k=1")
            assert status == 200 and body["passages"][0]["citation"]["doc"] == "lighthouse.txt", moment
            served = pointer
        assert dead_temps  # some kill did interrupt a build mid-way

        done = run_cli("index", "--corpus", str(seed_corpus), "--index", str(index), "--quiet")
        assert done.returncode == 0, done.stderr
        assert not list((index / "gens").glob(".tmp-*"))
        assert current(index) != served
        assert qa.load(index).manifest["counts"]["articles"] == 2
        assert server.get_json("/healthz")[0] == 200
    finally:
        server.stop()


def _wait_for_temp_dir(index: Path, proc: subprocess.Popen, timeout: float = 120) -> None:
    """Return once a build has created its temporary generation directory."""
    before = {p.name for p in (index / "gens").glob(".tmp-*")}
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any(p.name not in before for p in (index / "gens").glob(".tmp-*")):
            return
        if proc.poll() is not None:
            pytest.fail(f"the build exited ({proc.returncode}) before writing anything")
        time.sleep(0.002)
    pytest.fail("the build did not start writing within the time limit")


def _wait_for_new_generation(index: Path, proc: subprocess.Popen, timeout: float = 120) -> None:
    """Return the moment a build renames its finished generation into place (before or as CURRENT moves)."""
    before = {p.name for p in (index / "gens").iterdir()}
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any(not p.name.startswith(".") and p.name not in before for p in (index / "gens").iterdir()):
            return
        if proc.poll() is not None:
            pytest.fail(f"the build exited ({proc.returncode}) without publishing a generation")
        time.sleep(0.002)
    pytest.fail("the build did not publish within the time limit")


# ---------------------------------------------------------------- hot swap


@pytest.fixture
def admin_server(index: Path, tmp_path: Path) -> Iterator[Server]:
    srv = Server(index, env={"QA_ADMIN_TOKEN": TOKEN}, log=tmp_path / "serve.log")
    yield srv
    srv.stop()


def reload(server: Server) -> tuple[int, dict]:
    return server.post_json("/admin/reload", {}, headers=AUTH)  # type: ignore[return-value]


@dataclass
class Traffic:
    """Concurrent clients asking questions until stopped; every outcome recorded."""

    url: str
    questions: list[str]
    failures: list[str] = field(default_factory=list)
    zebra: list[tuple[float, str]] = field(default_factory=list)
    """(when the request was sent, the doc of the top passage) for the zebra question."""
    answered: int = 0
    stop: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def run(self, seed: int) -> None:
        rng = random.Random(seed)
        n = 0
        while not self.stop.is_set():
            n += 1
            question = ZEBRA_QUESTION if n % 3 == 0 else rng.choice(self.questions)
            query = urllib.parse.urlencode({"q": question, "k": rng.randint(1, 10)})
            sent = time.monotonic()
            try:
                with urllib.request.urlopen(f"{self.url}/ask?{query}", timeout=30) as resp:
                    body = json.loads(resp.read())
            except (urllib.error.URLError, OSError, ValueError) as exc:
                with self.lock:
                    self.failures.append(f"{question!r}: {exc}")
                continue
            with self.lock:
                self.answered += 1
                if question == ZEBRA_QUESTION:
                    self.zebra.append((sent, body["passages"][0]["citation"]["doc"]))


def test_rebuild_and_reload_under_load_fail_no_request_and_switch_answers(
    admin_server: Server, corpus: Path, index: Path
):
    questions = [json.loads(line)["question"] for line in DEV.read_text().splitlines()[:12]]
    traffic = Traffic(admin_server.url, questions)
    clients = [threading.Thread(target=traffic.run, args=(seed,)) for seed in range(3)]
    for client in clients:
        client.start()
    try:
        time.sleep(1.0)
        (corpus / ZEBRA_DOC).write_text(ZEBRA, encoding="utf-8")
        done = run_cli("index", "--corpus", str(corpus), "--index", str(index), "--quiet")
        assert done.returncode == 0, done.stderr
        old = admin_server.get_json("/healthz")[1]["generation"]  # type: ignore[index]
        asked_reload = time.monotonic()
        status, body = reload(admin_server)
        reloaded = time.monotonic()
        time.sleep(1.5)
    finally:
        traffic.stop.set()
        for client in clients:
            client.join(60)

    print(f"hot swap: {traffic.answered} answered, {len(traffic.failures)} failed, "
          f"{len(traffic.zebra)} zebra questions")
    assert status == 200, body
    assert body == {"generation": current(index), "previous": old, "changed": True, "articles": 3,
                    "sections": body["sections"]}
    assert traffic.failures == [] and traffic.answered > 20
    before = [doc for sent, doc in traffic.zebra if sent < asked_reload]
    after = [doc for sent, doc in traffic.zebra if sent > reloaded]
    assert before and ZEBRA_DOC not in before
    assert after and set(after) == {ZEBRA_DOC}
    assert admin_server.get_json("/healthz")[1]["generation"] == current(index)  # type: ignore[index]


def test_a_swapped_out_generation_is_released_once_its_requests_are_surely_done(
    corpus: Path, index: Path, tmp_path: Path
):
    first = current(index)
    server = Server(index, env={"QA_ADMIN_TOKEN": TOKEN, "QA_REQUEST_TIMEOUT_S": "0.5"}, log=tmp_path / "serve.log")
    try:
        (corpus / ZEBRA_DOC).write_text(ZEBRA, encoding="utf-8")
        rebuild(corpus, index)
        assert reload(server)[0] == 200
        time.sleep(0.5 + 5 + 1)  # the request timeout, the grace the server gives, and a margin
        for n in range(2):  # enough builds that only being held could keep the first generation
            (corpus / f"extra{n}.txt").write_text(ZEBRA.replace("Xyloria", f"Xyloria {n}"), encoding="utf-8")
            rebuild(corpus, index)
        assert not (index / "gens" / first).exists()
        # Nor does the process keep its files open or mapped (deleted files would hold their disk).
        assert not [path for path in files_in_use(server.pid) if first in path]
        assert server.get_json("/ask?q=Why+do+farmers+in+Xyloria+raise+zebras%3F")[0] == 200
    finally:
        server.stop()


def test_memory_of_swapped_out_generations_goes_back_to_the_system(corpus: Path, index: Path, tmp_path: Path):
    first = current(index)
    (corpus / ZEBRA_DOC).write_text(ZEBRA, encoding="utf-8")
    second = rebuild(corpus, index).generation
    server = Server(index, env={"QA_ADMIN_TOKEN": TOKEN, "QA_REQUEST_TIMEOUT_S": "0.5"}, log=tmp_path / "serve.log")
    try:
        assert server.get_json("/ask?q=What+is+NATO%3F")[0] == 200
        start = resident_mb(server.pid)
        for n in range(12):  # each reload loads a whole generation: encoder, arrays, tables
            (index / "CURRENT").write_text(f"{first if n % 2 else second}\n")
            assert reload(server)[0] == 200
            assert server.get_json("/ask?q=What+is+NATO%3F")[0] == 200
        time.sleep(0.5 + 5 + 1 + 1.5)  # until all but the last are closed and released (see the test above)
        # Measured idle: an idle worker once kept the last retired generation alive until the next question.
        # Kept by the C heap, the eleven closed generations held 680 MB more than at start (890 against 209).
        assert resident_mb(server.pid) < start + 250
        assert server.get_json("/ask?q=What+is+NATO%3F")[0] == 200
    finally:
        server.stop()


def resident_mb(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(r"^VmRSS:\s+(\d+) kB", status, re.MULTILINE).group(1)) // 1024


def files_in_use(pid: int) -> list[str]:
    """Paths a process holds open or memory-mapped (Linux /proc)."""
    proc = Path(f"/proc/{pid}")
    opened = []
    for fd in (proc / "fd").iterdir():
        try:
            opened.append(os.readlink(fd))
        except OSError:  # closed meanwhile
            continue
    mapped = [line.split(maxsplit=5)[5] for line in (proc / "maps").read_text().splitlines() if len(line.split()) > 5]
    return opened + mapped


def test_reloading_the_served_generation_is_a_no_op(admin_server: Server, index: Path):
    status, body = reload(admin_server)
    assert status == 200
    assert body["generation"] == body["previous"] == current(index) and body["changed"] is False


def test_a_failed_reload_answers_409_and_the_old_index_keeps_serving(admin_server: Server, index: Path):
    served = current(index)
    gens = index / "gens"
    (gens / "garbled").mkdir()
    (gens / "garbled" / "manifest.json").write_text("{not json")
    truncated = Path(shutil.copytree(gens / served, gens / "truncated"))
    with open(truncated / "windows.npy", "r+b") as fh:
        fh.truncate(100)
    for target in ("garbled", "truncated", "missing"):
        (index / "CURRENT").write_text(target + "\n")
        status, body, headers = admin_server.request("POST", "/admin/reload", b"", AUTH)
        assert status == 409 and headers["content-type"] == "application/json", (target, body)
        detail = json.loads(body)["detail"]
        assert target in detail and f"still serving generation {served}" in detail
        assert "Traceback" not in detail
        ask_status, answer = admin_server.get_json("/ask?q=What+does+Article+5+say%3F")
        assert ask_status == 200 and answer["passages"]  # type: ignore[index]
        assert admin_server.get_json("/healthz")[1]["generation"] == served  # type: ignore[index]
    (index / "CURRENT").write_text(served + "\n")
    assert reload(admin_server)[0] == 200


def test_with_qa_watch_s_the_server_reloads_by_itself(corpus: Path, index: Path, tmp_path: Path):
    server = Server(index, env={"QA_WATCH_S": "0.2"}, log=tmp_path / "watch.log")
    try:
        (corpus / ZEBRA_DOC).write_text(ZEBRA, encoding="utf-8")
        new = rebuild(corpus, index).generation
        deadline = time.monotonic() + 30
        while server.get_json("/healthz")[1]["generation"] != new:  # type: ignore[index]
            assert time.monotonic() < deadline, "the watcher never picked up the new generation"
            time.sleep(0.1)
        status, body = server.get_json("/ask?" + urllib.parse.urlencode({"q": ZEBRA_QUESTION, "k": 1}))
        assert status == 200 and body["passages"][0]["citation"]["doc"] == ZEBRA_DOC  # type: ignore[index]
        # A broken generation is refused once, and the server keeps serving the last good one.
        (index / "gens" / "broken").mkdir()
        (index / "CURRENT").write_text("broken\n")
        time.sleep(1.0)
        assert server.get_json("/healthz")[1]["generation"] == new  # type: ignore[index]
        assert server.get_json("/ask?q=Article+5")[0] == 200
    finally:
        server.stop()
    assert "not reloading broken" in (tmp_path / "watch.log").read_text()


def test_a_build_stopped_with_sigterm_cleans_up_as_after_ctrl_c(tmp_path: Path, seed_corpus: Path):
    """`timeout`, systemd and CI stop with SIGTERM: the temporary generation (a copy of the model
    when the index is on another disk than the model cache) was left behind."""
    index = build_index(seed_corpus, tmp_path / "index")
    proc = subprocess.Popen([sys.executable, "-m", "qa", "index", "--corpus", str(seed_corpus), "--index", str(index),
                             "--quiet"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    _wait_for_temp_dir(index, proc)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130 and err.strip() == "qa: interrupted"
    assert not list((index / "gens").glob(".tmp-*"))
