"""The README's examples run as written, and its configuration table matches the settings."""

from __future__ import annotations

import dataclasses
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from qa.settings import Settings

from conftest import DEV, ROOT

README = (ROOT / "README.md").read_text(encoding="utf-8")
BIN = Path(sys.executable).parent


def blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", README, flags=re.S)


def console_commands() -> list[str]:
    return [line[2:] for block in blocks("console") for line in block.splitlines() if line.startswith("$ ")]


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory, seed_corpus: Path) -> Path:
    """A folder laid out like a checkout: corpus/ and tests/data/dev.jsonl."""
    root = tmp_path_factory.mktemp("readme")
    shutil.copytree(seed_corpus, root / "corpus")
    (root / "tests" / "data").mkdir(parents=True)
    shutil.copy(DEV, root / "tests" / "data" / "dev.jsonl")
    return root


def run(command: str, cwd: Path, server_url: str) -> subprocess.CompletedProcess:
    command = command.replace("http://127.0.0.1:8000", server_url)
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"}
    env.pop("QA_INDEX", None)
    env.pop("QA_CORPUS", None)
    return subprocess.run(command, shell=True, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


def test_the_readme_opens_with_the_two_commands():
    first = blocks("sh")[0]
    assert first.splitlines()[0].startswith("make serve") and first.splitlines()[1].startswith("make test")


def test_console_examples_run_as_written(workdir: Path, server):
    commands = console_commands()
    assert any(c.startswith("qa index") for c in commands) and any(c.startswith("curl") for c in commands)
    for command in commands:  # qa index comes first, so the others find index/
        result = run(command, workdir, server.url)
        assert result.returncode == 0, f"{command}\n{result.stderr}"
        assert result.stdout.strip(), command
        if "--json" in command or command.startswith("curl") or command.startswith("qa info"):
            json.loads(result.stdout)


def test_python_examples_run_as_written(workdir: Path):
    for code in blocks("python"):
        result = subprocess.run([sys.executable, "-c", code], cwd=workdir, capture_output=True, text=True,
                                timeout=120, env={k: v for k, v in os.environ.items() if k != "QA_INDEX"})
        assert result.returncode == 0, result.stderr
        assert "NATO’s Collective Defense Mechanism" in result.stdout


def test_json_examples_are_valid_and_the_response_example_has_the_spec_shape():
    examples = [json.loads(b) for b in blocks("json") if b.strip().startswith("{\n")]
    (response,) = [e for e in examples if "passages" in e]
    assert set(response) == {"question", "passages", "notices", "low_confidence"}
    for line in [b for b in blocks("json") if not b.strip().startswith("{\n")][0].splitlines():
        json.loads(line)


def test_every_setting_is_documented_and_every_documented_variable_exists():
    documented = set(re.findall(r"^\| `(QA_[A-Z_]+)`", README, flags=re.M))
    settings = {f"QA_{f.name.upper()}" for f in dataclasses.fields(Settings)}
    assert documented == settings
