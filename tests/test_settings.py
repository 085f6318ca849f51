"""Settings: defaults, QA_* variables and overrides, and a clear error for a value out of range."""

from __future__ import annotations

import subprocess
import sys

import pytest

from qa.settings import Settings


def test_variables_set_the_defaults_and_overrides_win():
    settings = Settings.from_env({"QA_PORT": "9001", "QA_LOG_QUESTIONS": "yes", "QA_CORS_ORIGINS": "a, b"}, port=9002)
    assert (settings.port, settings.log_questions, settings.cors_origins) == (9002, True, ("a", "b"))
    assert Settings.from_env({"QA_LOG_QUESTIONS": "off"}).log_questions is False


@pytest.mark.parametrize("env, needle", [
    ({"QA_PORT": "99999"}, "port (QA_PORT) must be between 1 and 65535"),  # uvicorn took it modulo 65536
    ({"QA_PORT": "0"}, "port (QA_PORT) must be between 1 and 65535"),
    ({"QA_REQUEST_TIMEOUT_S": "nan"}, "must be a finite number"),  # every /ask was a 500
    ({"QA_REQUEST_TIMEOUT_S": "0"}, "must be more than 0"),  # every /ask was a 504
    ({"QA_MAX_BODY_BYTES": "-1"}, "max_body_bytes (QA_MAX_BODY_BYTES) must be at least 1"),
    ({"QA_WATCH_S": "inf"}, "must be a finite number"),
    ({"QA_BATCH_MAX": "0"}, "must be at least 1"),
    ({"QA_LOG_FORMAT": "xml"}, "must be one of text, json"),
    ({"QA_LOG_QUESTIONS": "maybe"}, "is not a valid bool"),
    ({"QA_THREADS": "two"}, "is not a valid int"),
])
def test_a_value_out_of_range_is_an_error_naming_its_variable(env: dict[str, str], needle: str):
    with pytest.raises(ValueError) as err:
        Settings.from_env(env)
    assert needle in str(err.value)


def test_library_overrides_are_checked_too():
    with pytest.raises(ValueError, match="port"):
        Settings.from_env({}, port=70000)


@pytest.mark.parametrize("override, needle", [
    ({"threads": "x"}, "threads (QA_THREADS) must be a whole number, not 'x'"),
    ({"port": 80.5}, "port (QA_PORT) must be a whole number"),
    ({"log_questions": 1}, "log_questions (QA_LOG_QUESTIONS) must be true or false"),
    ({"cors_origins": ("a", 2)}, "cors_origins (QA_CORS_ORIGINS) must be a tuple of strings"),
    ({"request_timeout_s": "5"}, "request_timeout_s (QA_REQUEST_TIMEOUT_S) must be a number, not '5'"),
    ({"client_timeout_s": "5"}, "client_timeout_s (QA_CLIENT_TIMEOUT_S) must be a number, not '5'"),
    ({"corpus": ""}, "corpus (QA_CORPUS, --corpus) must name a folder, not ''"),  # not the working folder
    ({"index": " "}, "index (QA_INDEX, --index) must name a folder, not ' '"),
])
def test_a_library_override_of_the_wrong_type_is_a_value_error_naming_it(override: dict, needle: str):
    with pytest.raises(ValueError) as err:
        Settings.from_env({}, **override)
    assert needle in str(err.value)


def test_library_overrides_of_a_near_type_are_taken():
    settings = Settings.from_env({}, watch_s=2, cors_origins=["https://a.example"])
    assert settings.watch_s == 2 and settings.cors_origins == ("https://a.example",)


def test_the_cli_reports_a_bad_port_in_one_line_before_loading_anything(tmp_path):
    done = subprocess.run([sys.executable, "-m", "qa", "serve", "--index", str(tmp_path), "--port", "99999"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    assert done.stderr.strip() == "qa: error: port (QA_PORT) must be between 1 and 65535, not 99999"
