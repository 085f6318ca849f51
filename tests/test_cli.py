"""The command line as a user runs it: index, ask, eval, info, and one-line errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from pathlib import Path

from conftest import DEV, run_cli, write_corpus

METRIC_KEYS = ["questions", "out_of_scope", "recall@1", "recall@5", "mrr@10", "answer_exact@1", "oos_flagged",
               "in_scope_flagged"]


def no_traceback(text: str) -> bool:
    return "Traceback" not in text


def test_index_reports_what_it_built(tmp_path: Path, seed_corpus: Path):
    result = run_cli("index", "--corpus", str(seed_corpus), "--index", str(tmp_path / "index"))
    assert result.returncode == 0, result.stderr
    assert "indexed 2 articles, 36 sections" in result.stdout
    assert "2 added, 0 changed, 0 removed" in result.stdout
    assert "debug" not in result.stderr  # libraries' chatter (bm25s logs at DEBUG) stays out
    again = run_cli("index", "--corpus", str(seed_corpus), "--index", str(tmp_path / "index"))
    assert "0 added, 0 changed, 0 removed, 2 unchanged" in again.stdout
    assert "0 embedded" in again.stdout


def index_on_a_terminal(corpus: Path, index: Path, **env: str) -> str:
    """`qa index` run on a pseudo-terminal, as a person would; returns what the terminal showed."""
    import os
    import pty
    import subprocess
    import sys

    import fcntl
    import struct
    import termios

    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))  # a real terminal's size
    proc = subprocess.Popen([sys.executable, "-m", "qa", "index", "--corpus", str(corpus), "--index", str(index)],
                            stdout=follower, stderr=follower, env={**os.environ, **env})
    os.close(follower)
    output = b""
    while True:
        try:
            chunk = os.read(leader, 4096)
        except OSError:
            break
        if not chunk:
            break
        output += chunk
    proc.wait(120)
    text = output.decode(errors="replace")
    assert proc.returncode == 0, text
    return text


def test_index_shows_a_progress_bar_with_rate_and_eta_on_a_terminal(tmp_path: Path, seed_corpus: Path):
    text = index_on_a_terminal(seed_corpus, tmp_path / "index")
    assert "embedding" in text and "100%" in text and "text/s" in text and "<" in text  # tqdm: rate and ETA


def test_the_first_export_of_a_model_is_announced_on_a_terminal(tmp_path: Path):
    """The export has no bar and takes a while (torch loads first): one line says what is happening."""
    corpus = write_corpus(tmp_path / "corpus", {"a.txt": "Title\n\nHeading\nSome body text.\n"})
    cache = str(tmp_path / "fresh-cache")
    notice = "exporting model all-MiniLM-L6-v2 to ONNX"

    assert notice in index_on_a_terminal(corpus, tmp_path / "index", QA_CACHE_DIR=cache)
    assert notice not in index_on_a_terminal(corpus, tmp_path / "index", QA_CACHE_DIR=cache)  # cached now


def test_missing_and_empty_corpus_are_one_line_errors(tmp_path: Path):
    result = run_cli("index", "--corpus", str(tmp_path / "nope"), "--index", str(tmp_path / "index"))
    assert result.returncode != 0
    assert result.stderr.strip().splitlines() == [f"qa: error: {tmp_path / 'nope'}: no such corpus directory"]
    (tmp_path / "empty").mkdir()
    result = run_cli("index", "--corpus", str(tmp_path / "empty"), "--index", str(tmp_path / "index"))
    assert result.returncode != 0 and "no articles" in result.stderr and no_traceback(result.stderr)
    assert len(result.stderr.strip().splitlines()) == 1


def test_unknown_model_is_a_one_line_error(tmp_path: Path):
    corpus = write_corpus(tmp_path / "corpus", {"a.txt": "Title\n\nHeading\nSome body text.\n"})
    result = run_cli("index", "--corpus", str(corpus), "--index", str(tmp_path / "index"), "--model",
                     str(tmp_path / "no-such-model"), env={"HF_HUB_OFFLINE": "1"})
    assert result.returncode != 0 and no_traceback(result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "cannot load model" in lines[0] and "no-such-model" in lines[0]
    assert not (tmp_path / "index" / "CURRENT").exists()


def test_a_hub_model_with_no_reachable_hub_fails_at_once_instead_of_retrying(tmp_path: Path):
    """huggingface_hub retried for 78 s before the same error; `.invalid` never resolves."""
    corpus = write_corpus(tmp_path / "corpus", {"a.txt": "Title\n\nHeading\nSome body text.\n"})
    env = {k: v for k, v in os.environ.items() if k not in ("HF_HUB_OFFLINE", "HTTPS_PROXY", "https_proxy",
                                                            "ALL_PROXY", "all_proxy")}
    result = subprocess.run([sys.executable, "-m", "qa", "index", "--corpus", str(corpus), "--index",
                             str(tmp_path / "index"), "--model", "qa-tests/no-such-model"],
                            capture_output=True, text=True, timeout=60, env={**env, "HF_ENDPOINT": "https://hub.invalid"})
    assert result.returncode != 0 and no_traceback(result.stderr)
    warning, error = result.stderr.strip().splitlines()
    assert "hub.invalid can't be reached" in warning and "local cache only" in warning
    assert "cannot load model 'qa-tests/no-such-model'" in error
    assert not (tmp_path / "index" / "CURRENT").exists()


def test_ask_prints_readable_results_with_the_notice(seed_index: Path):
    result = run_cli("ask", "What does Article 5 say?", "-k", "2", "--index", str(seed_index))
    assert result.returncode == 0, result.stderr
    assert "NATO’s Collective Defense Mechanism" in result.stdout
    assert "It is enshrined in Article 5 of the NATO Charter" in result.stdout
    assert "⚠️ Please note:" in result.stdout
    assert "\033[" not in result.stdout  # no colour codes when not on a terminal


def test_ask_errors_are_one_line(seed_index: Path, tmp_path: Path):
    for args, needle in ((["ask", "  ", "--index", str(seed_index)], "empty"),
                         (["ask", "NATO", "-k", "0", "--index", str(seed_index)], "-k must be between 1 and 50"),
                         (["ask", "NATO", "--index", str(tmp_path)], "not an index directory")):
        result = run_cli(*args)
        assert result.returncode != 0 and needle in result.stderr and no_traceback(result.stderr)


def test_serve_on_a_missing_index_fails_with_one_line_before_listening(tmp_path: Path):
    """The index loads beside the web stack's imports; its error still ends the command cleanly."""
    result = run_cli("serve", "--index", str(tmp_path), "--port", "1")
    assert result.returncode != 0 and "not an index directory" in result.stderr
    assert no_traceback(result.stderr) and "Uvicorn running" not in result.stderr


def test_eval_prints_the_spec_metrics(seed_index: Path):
    result = run_cli("eval", str(DEV), "--json", "--index", str(seed_index))
    assert result.returncode == 0, result.stderr
    metrics = json.loads(result.stdout)
    assert list(metrics)[: len(METRIC_KEYS)] == METRIC_KEYS
    assert metrics["questions"] == 33 and metrics["out_of_scope"] == 3
    assert metrics["recall@5"] >= 0.85
    assert set(metrics["by_kind"]) == {"keyword", "lexical", "multi", "paraphrase", "typo"}


def test_eval_failures_list_each_miss(seed_index: Path):
    result = run_cli("eval", str(DEV), "--failures", "--index", str(seed_index))
    assert result.returncode == 0, result.stderr
    assert "recall@1" in result.stdout and "expected:" in result.stdout and "got:" in result.stdout


def test_bad_eval_line_names_file_and_line(seed_index: Path, tmp_path: Path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "a", "question": "What is NATO?"}\n{"id": "b", "question": \n')
    result = run_cli("eval", str(bad), "--index", str(seed_index))
    assert result.returncode != 0 and f"{bad}:2:" in result.stderr and no_traceback(result.stderr)
    bad.write_text('{"id": "a", "question": "What?", "doc": "x.txt", "section": 5}\n')
    result = run_cli("eval", str(bad), "--index", str(seed_index))
    assert result.returncode != 0 and f"{bad}:1:" in result.stderr
    result = run_cli("eval", str(tmp_path / "missing.jsonl"), "--index", str(seed_index))
    assert result.returncode != 0 and "missing.jsonl: no such file" in result.stderr


def test_info_prints_the_manifest_and_version_works(seed_index: Path):
    result = run_cli("info", "--index", str(seed_index))
    manifest = json.loads(result.stdout)
    assert manifest["counts"]["sections"] == 36 and manifest["model"]["name"] == "all-MiniLM-L6-v2"
    version = run_cli("--version")
    assert version.returncode == 0 and version.stdout.startswith("qa ")


def test_ask_works_on_a_console_that_is_not_utf8(seed_index: Path):
    question = "What does Article 5 say?"
    plain = run_cli("ask", question, "--index", str(seed_index), env={"PYTHONIOENCODING": "ascii"})
    assert plain.returncode == 0, plain.stderr  # was: 'ascii' codec can't encode character '\u2014'
    assert "NATO?s Collective Defense Mechanism" in plain.stdout
    as_json = subprocess.run([sys.executable, "-m", "qa", "ask", question, "--json", "--index", str(seed_index)],
                             capture_output=True, timeout=300, env={**os.environ, "PYTHONIOENCODING": "ascii"})
    assert as_json.returncode == 0, as_json.stderr
    body = json.loads(as_json.stdout.decode("utf-8"))  # JSON is UTF-8 whatever the console
    assert body["passages"][0]["citation"]["section"] == "NATO’s Collective Defense Mechanism"


def test_an_empty_model_name_is_refused_in_one_line(tmp_path: Path, seed_corpus: Path):
    result = run_cli("index", "--corpus", str(seed_corpus), "--index", str(tmp_path / "i"), "--model", "")
    assert result.returncode == 1 and no_traceback(result.stderr)
    assert result.stderr.strip() == "qa: error: model (QA_MODEL, --model) must name a model, not ''"
    assert not (tmp_path / "i").exists()


@pytest.mark.parametrize("args", [["index", "--corpus", "", "--index", "{i}"], ["index", "--index", " "],
                                  ["ask", "What?", "--index", ""]])
def test_an_empty_folder_is_refused_instead_of_taking_the_working_folder(tmp_path: Path, args: list[str]):
    result = subprocess.run([sys.executable, "-m", "qa", *[a.format(i=tmp_path / "i") for a in args]],
                            capture_output=True, text=True, cwd=tmp_path, timeout=60)
    assert result.returncode == 2 and no_traceback(result.stderr)
    assert result.stderr.strip().splitlines()[-1].endswith(f"must name a folder, not {' ' if ' ' in args else ''!r}")
    assert list(tmp_path.iterdir()) == []  # nothing indexed, nothing written


def test_serve_on_a_port_in_use_is_one_line_before_the_index_loads(tmp_path: Path):
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run_cli("serve", "--index", str(tmp_path / "no-index-needed"), "--port", str(port), timeout=60)
    assert result.returncode == 1 and no_traceback(result.stderr)
    assert result.stderr.strip() == (f"qa: error: cannot listen on 127.0.0.1:{port} (Address already in use); "
                                     "pick another --port or QA_PORT")


def test_env_vars_set_the_defaults(seed_index: Path):
    result = run_cli("ask", "What does Article 5 say?", "--json", env={"QA_INDEX": str(seed_index)})
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["passages"][0]["citation"]["section"] == "NATO’s Collective Defense Mechanism"
