"""The command line: qa index | serve | ask | eval | info."""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import textwrap
import threading
from pathlib import Path

from . import __version__
from .logs import configure_logging
from .settings import Settings


class CLIError(Exception):
    """A failure to report as one line on stderr, without a traceback."""


def main(argv: list[str] | None = None) -> int:
    if hasattr(sys.stdout, "reconfigure") and (sys.stdout.encoding or "").lower().replace("-", "") != "utf8":
        # An ASCII or Windows console can't show an em dash: a "?" instead, not a failed command.
        sys.stdout.reconfigure(errors="replace")
    parser = make_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "command", None):
        parser.print_help()
        return 2
    try:
        settings = Settings.from_env(
            corpus=getattr(args, "corpus", None),
            index=getattr(args, "index", None),
            model=getattr(args, "model", None),
            partner_model=getattr(args, "partner_model", None),
            host=getattr(args, "host", None),
            port=getattr(args, "port", None),
        )
        configure_logging(settings, service=args.command == "serve")
        return int(args.run(args, settings) or 0)
    except KeyboardInterrupt:
        print("qa: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
    except Exception as exc:  # noqa: BLE001 - every known failure becomes one line
        known = _known_errors()
        if isinstance(exc, known):
            print(f"qa: error: {exc}", file=sys.stderr)
            return 1
        raise


def print_json(text: str) -> None:
    """JSON on stdout as UTF-8 bytes, whatever the console's encoding: the same bytes as the
    HTTP body (JSON is UTF-8), and never a command that fails on a ’."""
    buffer = getattr(sys.stdout, "buffer", None)
    if buffer is None:  # a stream of text only (a caller's StringIO)
        print(text)
        return
    sys.stdout.flush()
    buffer.write(text.encode() + b"\n")
    buffer.flush()


def _known_errors() -> tuple[type[BaseException], ...]:
    from .build import BuildError
    from .embedding import EncoderError
    from .evaluation import EvalFileError
    from .store import IndexLoadError

    return (CLIError, BuildError, EncoderError, EvalFileError, IndexLoadError, ValueError, OSError)


def folder(text: str) -> Path:
    """A --corpus or --index argument: Path("") would be the working folder, indexed unasked."""
    if not text.strip():
        raise argparse.ArgumentTypeError(f"must name a folder, not {text!r}")
    return Path(text)


def make_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="qa", description="Semantic search and cited answers over articles.")
    parser.add_argument("--version", action="version", version=f"qa {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("index", help="build the index from the corpus, with a progress bar")
    p.add_argument("--corpus", type=folder, help="articles directory (QA_CORPUS, default corpus/)")
    p.add_argument("--index", type=folder, help="index directory (QA_INDEX, default index/)")
    p.add_argument("--model", help="sentence-transformers name or path (QA_MODEL, default all-MiniLM-L6-v2)")
    p.add_argument("--partner-model", metavar="MODEL",
                   help="a second model whose scores are added to the first's, e.g. all-mpnet-base-v2: "
                        "better answers, slower questions (QA_PARTNER_MODEL, default none)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(run=cmd_index)

    p = sub.add_parser("serve", help="run the HTTP API")
    p.add_argument("--index", type=folder, help="index directory (QA_INDEX, default index/)")
    p.add_argument("--host", help="address to bind (QA_HOST, default 127.0.0.1)")
    p.add_argument("--port", type=int, help="port (QA_PORT, default 8000)")
    p.set_defaults(run=cmd_serve)

    p = sub.add_parser("ask", help="answer a question from the command line")
    p.add_argument("question")
    p.add_argument("-k", type=int, default=5, help="passages to show (1-50, default 5)")
    p.add_argument("--json", action="store_true", help="print the HTTP API's JSON body")
    p.add_argument("--index", type=folder, help="index directory (QA_INDEX, default index/)")
    p.set_defaults(run=cmd_ask)

    p = sub.add_parser("eval", help="score retrieval on a question file (JSON Lines)")
    p.add_argument("file", type=Path)
    p.add_argument("-k", type=int, default=10, help="passages per question (1-50, default 10)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--failures", action="store_true", help="list every miss with what came back")
    p.add_argument("--index", type=folder, help="index directory (QA_INDEX, default index/)")
    p.set_defaults(run=cmd_eval)

    p = sub.add_parser("info", help="print the manifest of an index")
    p.add_argument("--index", type=folder, help="index directory (QA_INDEX, default index/)")
    p.set_defaults(run=cmd_info)
    return parser


# ---------------------------------------------------------------- commands


def cmd_index(args: argparse.Namespace, settings: Settings) -> int:
    from .build import build

    progress = False if args.quiet else None  # None: a bar on a terminal only
    # Stopped by `timeout`, systemd or CI, a build cleans up as after Ctrl-C (its temporary
    # generation can hold a copy of the model: 100 MB and more).
    if threading.current_thread() is threading.main_thread():  # where signals are handled
        signal.signal(signal.SIGTERM, _interrupt)
    report = build(settings, progress=progress)  # logs a warning for every skipped file
    print(
        f"indexed {report.articles} articles, {report.sections} sections "
        f"({report.windows} windows, {report.sentences} sentences) into {report.path} in {report.seconds:.1f}s\n"
        f"articles: {len(report.added)} added, {len(report.changed)} changed, {len(report.removed)} removed, "
        f"{len(report.reused)} unchanged; vectors: {report.embedded} embedded, {report.reused_vectors} reused"
    )
    return 0


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
    check_free(settings.host, settings.port)  # before the index loads, not after, in uvicorn's log lines
    app = serving_app(settings)
    import uvicorn  # already imported by serving_app, beside the index load

    from .api.connections import fit_to_file_limit, guarded_protocol

    settings = fit_to_file_limit(settings)
    uvicorn.run(app, host=settings.host, port=settings.port, log_config=None, access_log=False,
                timeout_graceful_shutdown=5, http=guarded_protocol(settings))
    return 0


def check_free(host: str, port: int) -> None:
    """Raise CLIError when nothing could listen on host:port now (in use, or an address not here)."""
    import socket

    try:
        infos = socket.getaddrinfo(host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
        family, kind, proto, _, address = infos[0]
        with socket.socket(family, kind, proto) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds
            probe.bind(address)
    except OSError as exc:
        raise CLIError(f"cannot listen on {host}:{port} ({exc.strerror or exc}); "
                       "pick another --port or QA_PORT") from None


def serving_app(settings: Settings):  # noqa: ANN201 - FastAPI is imported here, not at module level
    """The app over settings.index. Only the app holds the first generation's searcher, so that
    it is freed, maps and all, once a reload swaps it out (a local of cmd_serve kept it for life)."""
    from concurrent.futures import ThreadPoolExecutor

    from .searcher import Searcher

    # The index loads (onnxruntime builds its session without the GIL) while the web stack is
    # imported: about a tenth of a second off start-up.
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="qa-load") as pool:
        loading = pool.submit(Searcher, settings.index, settings)
        import uvicorn  # noqa: F401 - imported here, beside the load; cmd_serve runs it

        from .api import create_app

        return create_app(settings, loading.result())


def cmd_ask(args: argparse.Namespace, settings: Settings) -> int:
    from .searcher import Searcher

    _check_k(args.k)
    searcher = Searcher(settings.index, settings)
    result = searcher.ask(args.question, k=args.k)
    if args.json:
        print_json(result.model_dump_json())
    else:
        print(render_answer(result, color=sys.stdout.isatty() and not os.environ.get("NO_COLOR")))
    return 0


def cmd_eval(args: argparse.Namespace, settings: Settings) -> int:
    from .evaluation import evaluate, read_questions
    from .searcher import Searcher

    _check_k(args.k)
    questions = read_questions(args.file)
    searcher = Searcher(settings.index, settings)
    report = evaluate(questions, lambda qs: searcher.ask_many(qs, k=args.k))
    metrics = report.metrics()
    if args.json:
        if args.failures:
            metrics = {**metrics, "failures": report.failures()}
        print_json(json.dumps(metrics, ensure_ascii=False))
        return 0
    print(f"{args.file}: {metrics['questions']} questions ({metrics['out_of_scope']} out of scope), k={args.k}")
    for key in ("recall@1", "recall@5", "mrr@10", "answer_exact@1", "oos_flagged", "in_scope_flagged"):
        print(f"  {key:17s} {metrics[key]:.3f}")
    for kind, m in (metrics.get("by_kind") or {}).items():  # type: ignore[union-attr]
        print(f"  {kind:12s} n={m['questions']:<3d} recall@1 {m['recall@1']:.3f}  recall@5 {m['recall@5']:.3f}  "
              f"mrr@10 {m['mrr@10']:.3f}  answer_exact@1 {m['answer_exact@1']:.3f}")
    if args.failures:
        for row in report.failures():
            got = row["got"] or {}
            print(f"\n{row['id']} (line {row['line']}, {row['kind'] or 'no kind'}): {', '.join(row['problems'])}")
            print(f"  question: {row['question']}")
            print(f"  expected: {'; '.join(' / '.join(g) for g in row['expected']) or 'out of scope'}")
            print(f"  got:      {got.get('doc')} / {got.get('section')!r} (score {got.get('score')}, "
                  f"gold rank {row['rank']})")
            if row["expected_answer"]:
                print(f"  answer expected: {row['expected_answer']}")
                print(f"  answer got:      {got.get('answer')}")
            print(f"  scores: {row['scores']}")
    return 0


def cmd_info(args: argparse.Namespace, settings: Settings) -> int:
    from .store import IndexReader

    reader = IndexReader(settings.index)
    print(json.dumps({"generation": reader.generation, "path": str(reader.path), **reader.manifest},
                     indent=2, ensure_ascii=False))
    return 0


def _check_k(k: int) -> None:
    from .models import MAX_K

    if not 1 <= k <= MAX_K:
        raise CLIError(f"-k must be between 1 and {MAX_K}, not {k}")


def render_answer(result: object, color: bool = False, width: int = 100) -> str:
    """A terminal rendering of a response: each passage with its answer highlighted, then the notices."""
    from .models import AskResponse

    assert isinstance(result, AskResponse)
    bold, dim, yellow, reset = ("\033[1m", "\033[2m", "\033[33m", "\033[0m") if color else ("", "", "", "")
    out = []
    if result.low_confidence:
        out.append(f"{yellow}Low confidence: the articles probably don't answer this.{reset}\n")
    for p in result.passages:
        c = p.citation
        out.append(f"{bold}{p.rank}. {c.title}{reset} — {c.section or '(introduction)'}  "
                   f"{dim}score {p.score:.3f}  {c.doc} [{c.start}:{c.end}]{reset}")
        answer = p.answer.text
        mark = f"{bold}{yellow}»{reset} " if color else "> "
        out.append(textwrap.fill(answer, width, initial_indent="   " + mark, subsequent_indent="     "))
    if result.notices:
        out.append("")
        for n in result.notices:
            out.append(f"{dim}Notice ({n.doc}):{reset} {n.text}")
    return "\n".join(out)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
