"""Request logs: one structured line per request; question text only when the operator asks."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from conftest import Server


def json_lines(path: Path) -> list[dict]:
    out = []
    for line in path.read_text().splitlines():
        line = line.strip()
        if line.startswith("{"):
            out.append(json.loads(line))
    return out


def access_lines(path: Path) -> list[dict]:
    return [r for r in json_lines(path) if r.get("logger") == "qa.access"]


def wait_for_lines(path: Path, n: int) -> list[dict]:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        lines = access_lines(path)
        if len(lines) >= n:
            return lines
        time.sleep(0.05)
    return access_lines(path)


def test_json_logs_have_one_line_per_request_without_the_question(seed_index: Path, tmp_path: Path):
    log = tmp_path / "serve.log"
    server = Server(seed_index, env={"QA_LOG_FORMAT": "json"}, log=log)
    try:
        server.request("GET", "/ask?q=secret+question+about+NATO&k=3", headers={"X-Request-ID": "abc-123"})
        server.request("POST", "/ask", b'{"question": ""}')
        server.request("POST", "/ask", b'{"question": "' + b"a" * 70_000 + b'"}')
        lines = wait_for_lines(log, 4)
    finally:
        server.stop()
    ask_ok = [r for r in lines if r.get("route") == "/ask" and r.get("status") == 200]
    ask_bad = [r for r in lines if r.get("route") == "/ask" and r.get("status") == 422]
    too_big = [r for r in lines if r.get("status") == 413]
    assert len(ask_ok) == 1 and len(ask_bad) == 1 and len(too_big) == 1
    line = ask_ok[0]
    assert line["request_id"] == "abc-123" and line["method"] == "GET" and line["k"] == 3
    assert isinstance(line["ms"], float) and line["low_confidence"] in (True, False)
    assert "question" not in line
    assert "secret question" not in log.read_text()


def test_questions_are_logged_only_when_turned_on(seed_index: Path, tmp_path: Path):
    log = tmp_path / "serve.log"
    server = Server(seed_index, env={"QA_LOG_FORMAT": "json", "QA_LOG_QUESTIONS": "1"}, log=log)
    try:
        server.request("GET", "/ask?q=What+does+Article+5+say&k=2")
        lines = wait_for_lines(log, 2)
    finally:
        server.stop()
    (line,) = [r for r in lines if r.get("route") == "/ask"]
    assert line["question"] == "What does Article 5 say"


def test_text_logs_are_readable_lines(seed_index: Path, tmp_path: Path):
    log = tmp_path / "serve.log"
    server = Server(seed_index, log=log)
    try:
        server.request("GET", "/healthz")
        deadline = time.monotonic() + 10
        while "GET /healthz 200" not in log.read_text() and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        server.stop()
    lines = [ln for ln in log.read_text().splitlines() if "GET /healthz 200" in ln]
    line = lines[-1]  # the readiness probe made some too
    assert "request_id=" in line and "route=/healthz" in line and "status=200" in line


def test_a_path_or_question_with_a_line_break_cannot_forge_a_text_log_line(seed_index: Path, tmp_path: Path):
    log = tmp_path / "serve.log"
    server = Server(seed_index, env={"QA_LOG_QUESTIONS": "1"}, log=log)
    forged = "%0A08:49:00%20ERROR%20qa.admin:%20forged"
    try:
        server.request("GET", "/documents/x" + forged)
        server.request("GET", "/ask?q=llamas" + forged + "&k=1")
        deadline = time.monotonic() + 10
        while log.read_text().count("forged") < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        server.stop()
    lines = log.read_text().splitlines()
    assert not [ln for ln in lines if ln.startswith("08:49:00")]
    (path_line,) = [ln for ln in lines if "GET /documents/x" in ln]
    assert "/documents/x\\n08:49:00 ERROR qa.admin: forged 404" in path_line
    (ask_line,) = [ln for ln in lines if "route=/ask" in ln]
    assert 'question="llamas\\n08:49:00 ERROR qa.admin: forged"' in ask_line


def test_model_hub_retries_are_not_printed_on_top_of_the_one_line_error():
    """huggingface_hub warns on each retry through a handler of its own and ours: 67 lines once."""
    code = ("from qa.logs import configure_logging; from qa.settings import Settings; "
            "configure_logging(Settings(), service=False); "
            "from huggingface_hub.utils import logging as hub; "
            "hub.get_logger('huggingface_hub.utils._http').warning('retrying HEAD https://huggingface.co/x')")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                          env={k: v for k, v in os.environ.items() if k != "HF_HUB_VERBOSITY"})
    assert done.returncode == 0, done.stderr
    assert "retrying" not in done.stderr
