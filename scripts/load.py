"""Loopback load: N keep-alive clients for S seconds against `qa serve`, from a separate process.

    scripts/load.py --url http://127.0.0.1:8000 [-c 32] [-s 60] [--pid PID]
    scripts/load.py --index index/ [-c 32] [-s 60]          starts its own `qa serve` on a free port

Each client sends POST /ask (questions of tests/data/dev.jsonl and own.jsonl, cycled), waits for
the answer and sends the next (closed loop). Prints requests, errors (and the first few error
bodies), req/s, p50/p99 latency, and the server's RSS after a short warm-up and at the end.
Exits 1 on any error or when RSS grew by --max-rss-growth percent (default 10) or more.

The clients run in their own process (asyncio over raw sockets, no HTTP library) so the
measuring side stays cheap; its CPU time per request is reported so it can be checked.
Only loopback addresses are accepted.
"""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import json
import os
import resource
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Awaitable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "tests" / "data"
QUESTION_FILES = (DATA / "dev.jsonl", DATA / "own.jsonl")
ERROR_SAMPLES = 5
REQUEST_TIMEOUT_S = 30.0


# ---------------------------------------------------------------- questions and requests


def load_questions(files: list[Path] | None = None) -> list[str]:
    """Questions of the given JSON Lines files, or of dev.jsonl and own.jsonl (those present)."""
    out: list[str] = []
    for path in files or [p for p in QUESTION_FILES if p.is_file()]:
        for line in Path(path).read_text(encoding="utf-8").splitlines():
            if line.strip():
                out.append(json.loads(line)["question"])
    if not out:
        raise SystemExit("no questions found")
    return out


def ask_requests(host: str, port: int, questions: list[str], k: int = 5, unique: int = 0) -> list[bytes]:
    """Raw HTTP/1.1 POST /ask requests, one per question (times `unique` numbered variants)."""
    variants = [f"{q} ({n})" for n in range(unique) for q in questions] if unique else questions
    out = []
    for question in variants:
        body = json.dumps({"question": question, "k": k}).encode()
        head = (f"POST /ask HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(body)}\r\n\r\n").encode()
        out.append(head + body)
    return out


def get_request(host: str, port: int, path: str) -> bytes:
    return f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\n\r\n".encode()


def check_loopback(host: str) -> str:
    """The host's loopback address; refuses anything else (this tool never leaves the machine)."""
    address = socket.gethostbyname(host)
    if not ipaddress.ip_address(address).is_loopback:
        raise SystemExit(f"{host}: not a loopback address; load is only ever sent to this machine")
    return address


# ---------------------------------------------------------------- the client process


@dataclass
class Sample:
    """What one client process measured."""

    requests: int = 0
    errors: int = 0
    error_samples: list[str] = field(default_factory=list)
    latencies_ms: list[float] = field(default_factory=list)
    wall_s: float = 0.0
    cpu_s: float = 0.0


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, bytes, bool]:
    """(status, body, server wants to close) of one HTTP/1.1 response."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    if "content-length" in headers:
        body = await reader.readexactly(int(headers["content-length"]))
    elif headers.get("transfer-encoding", "").lower() == "chunked":
        chunks = []
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            chunks.append(await reader.readexactly(size + 2))
            if size == 0:
                break
        body = b"".join(c[:-2] for c in chunks)
    else:
        body = b""
    return status, body, headers.get("connection", "").lower() == "close"


async def _bounded(response: Awaitable[tuple[int, bytes, bool]]) -> tuple[int, bytes, bool]:
    """The response, or TimeoutError after REQUEST_TIMEOUT_S (asyncio.timeout is cheaper where it exists)."""
    if hasattr(asyncio, "timeout"):
        async with asyncio.timeout(REQUEST_TIMEOUT_S):
            return await response
    return await asyncio.wait_for(response, REQUEST_TIMEOUT_S)  # Python 3.10


async def _client(address: str, port: int, requests: list[bytes], counter: list[int], deadline: float,
                  sample: Sample, record: bool) -> None:
    """One closed-loop connection: send, await the full answer, repeat until the deadline."""
    reader = writer = None
    while time.perf_counter() < deadline:
        request = requests[counter[0] % len(requests)]
        counter[0] += 1
        started = time.perf_counter()
        try:
            if writer is None:
                reader, writer = await asyncio.open_connection(address, port)
            writer.write(request)
            status, body, close = await _bounded(_read_response(reader))
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError, ValueError) as exc:
            status, body, close = 0, f"{type(exc).__name__}: {exc}".encode(), True
        elapsed = time.perf_counter() - started
        if record:
            sample.requests += 1
            sample.latencies_ms.append(elapsed * 1000)
            if status != 200:
                sample.errors += 1
                if len(sample.error_samples) < ERROR_SAMPLES:
                    sample.error_samples.append(f"{status or 'transport'}: {body[:300].decode('utf-8', 'replace')}")
        if close and writer is not None:
            writer.close()
            reader = writer = None
            if status == 0:
                await asyncio.sleep(0.05)  # a refused or reset connection: don't spin
    if writer is not None:
        writer.close()


async def _run_clients(address: str, port: int, requests: list[bytes], concurrency: int, seconds: float,
                       offset: int) -> Sample:
    sample = Sample()
    counter = [offset]
    cpu0 = _cpu_seconds()
    started = time.perf_counter()
    deadline = started + seconds
    await asyncio.gather(*(_client(address, port, requests, counter, deadline, sample, True)
                           for _ in range(concurrency)))
    sample.wall_s = time.perf_counter() - started
    sample.cpu_s = _cpu_seconds() - cpu0
    return sample


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _worker() -> int:
    """The client process: config as JSON on stdin, a Sample as JSON on stdout."""
    config = json.loads(sys.stdin.read())
    requests = [r.encode("latin-1") for r in config["requests"]]
    sample = asyncio.run(_run_clients(config["address"], config["port"], requests, config["concurrency"],
                                      config["seconds"], config["offset"]))
    sample.latencies_ms = [round(x, 3) for x in sample.latencies_ms]
    json.dump(asdict(sample), sys.stdout)
    return 0


# ---------------------------------------------------------------- driving it


@dataclass
class LoadResult:
    """A load run, summarised."""

    concurrency: int
    seconds: float
    requests: int
    errors: int
    error_samples: list[str]
    rps: float
    p50_ms: float
    p99_ms: float
    max_ms: float
    client_cpu_share: float
    """Client CPU time / wall time: the share of one core the load generator used."""
    client_us_per_request: float
    server_cpu: dict[str, float] = field(default_factory=dict)
    """The server's CPU per request and the rate it allows (server_cpu), when its pid was given."""


def run_load(url: str, requests: list[bytes], concurrency: int, seconds: float, procs: int = 1,
             server_pid: int | None = None) -> LoadResult:
    """Closed-loop load from `procs` client processes sharing `concurrency` connections; with
    `server_pid`, also the server's CPU time per request over the run."""
    cpu_before = cpu_seconds(server_pid) if server_pid else None
    parts = urlsplit(url)
    address, port = check_loopback(parts.hostname or "127.0.0.1"), parts.port or 80
    procs = max(1, min(procs, concurrency))
    workers = []
    for i in range(procs):
        share = concurrency // procs + (1 if i < concurrency % procs else 0)
        config = {"address": address, "port": port, "requests": [r.decode("latin-1") for r in requests],
                  "concurrency": share, "seconds": seconds, "offset": i * len(requests) // procs}
        proc = subprocess.Popen([sys.executable, __file__, "--worker"], stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, text=True)
        proc.stdin.write(json.dumps(config))
        proc.stdin.close()
        workers.append(proc)
    samples = []
    for proc in workers:
        out = proc.stdout.read()
        if proc.wait() != 0:
            raise RuntimeError("a load client process failed")
        samples.append(Sample(**json.loads(out)))
    result = summarise(samples, concurrency)
    result.server_cpu = server_cpu(server_pid, cpu_before, result.requests)
    return result


def summarise(samples: list[Sample], concurrency: int) -> LoadResult:
    latencies = np.asarray([x for s in samples for x in s.latencies_ms], dtype=np.float64)
    wall = max(s.wall_s for s in samples)
    requests = sum(s.requests for s in samples)
    cpu = sum(s.cpu_s for s in samples)
    return LoadResult(
        concurrency=concurrency,
        seconds=round(wall, 2),
        requests=requests,
        errors=sum(s.errors for s in samples),
        error_samples=[e for s in samples for e in s.error_samples][:ERROR_SAMPLES],
        rps=round(requests / wall, 1) if wall else 0.0,
        p50_ms=round(float(np.percentile(latencies, 50)), 2) if len(latencies) else float("nan"),
        p99_ms=round(float(np.percentile(latencies, 99)), 2) if len(latencies) else float("nan"),
        max_ms=round(float(latencies.max()), 2) if len(latencies) else float("nan"),
        client_cpu_share=round(cpu / wall, 3) if wall else 0.0,
        client_us_per_request=round(cpu / requests * 1e6, 1) if requests else float("nan"),
    )


# ---------------------------------------------------------------- the server side


def cpu_seconds(pid: int) -> float | None:
    """User plus system CPU seconds a process (all its threads) has used, None when it can't be read."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime, stime: fields 14 and 15


def server_cpu(pid: int | None, before: float | None, requests: int) -> dict[str, float]:
    """The server's CPU ms per request since `before` (cpu_seconds), and the request rate that CPU
    time allows on every core of this machine: a ceiling no concurrency can pass."""
    after = cpu_seconds(pid) if pid else None
    if before is None or after is None or not requests:
        return {}
    ms = (after - before) * 1000 / requests
    ceiling = (os.cpu_count() or 1) * 1000 / ms if ms else 0.0
    return {"cpu_ms_per_request": round(ms, 3), "cpu_bound_rps": round(ceiling, 1)}


def rss_mb(pid: int) -> float | None:
    """Resident set size of a process in MB (VmRSS from /proc), None when it can't be read."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def pid_listening_on(port: int) -> int | None:
    """The process listening on a local TCP port (from /proc/net/tcp*), None when not found."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            rows = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            cols = row.split()
            if cols[3] == "0A" and int(cols[1].rsplit(":", 1)[1], 16) == port:  # 0A: LISTEN
                inodes.add(cols[9])
    targets = {f"socket:[{inode}]" for inode in inodes}
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            for fd in (proc / "fd").iterdir():
                if os.readlink(fd) in targets:
                    return int(proc.name)
        except OSError:
            continue
    return None


def positive(kind: type = int):  # noqa: ANN201 - an argparse type
    """An argparse type: a number of `kind` above 0."""
    return _number(kind, lambda value: value > 0, "more than 0")


def not_negative(kind: type = int):  # noqa: ANN201 - an argparse type
    """An argparse type: a number of `kind`, 0 or more."""
    return _number(kind, lambda value: value >= 0, "0 or more")


def _number(kind: type, ok, wording: str):  # noqa: ANN001, ANN202
    def parse(text: str) -> float:
        value = kind(text)
        if not ok(value):
            raise argparse.ArgumentTypeError(f"must be {wording}, not {text}")
        return value
    parse.__name__ = kind.__name__  # argparse names the type in "invalid int value"
    return parse


def exit_on_known_errors(main) -> int:  # noqa: ANN001 - a script's main()
    """Run a script's main(): a missing or bad index or file, or a server that won't start, is one
    line on stderr and exit status 1, not a traceback."""
    from qa.store import IndexLoadError

    try:
        return main()
    except (IndexLoadError, OSError, ServeError) as exc:
        print(f"{Path(sys.argv[0]).name}: error: {exc}", file=sys.stderr)
        return 1


class ServeError(RuntimeError):
    """`qa serve` (or another server command) exited or never became healthy."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def healthy(url: str, timeout: float = 1.0) -> bool:
    try:
        with urllib.request.urlopen(url + "/healthz", timeout=timeout) as resp:
            return resp.status == 200
    except OSError:
        return False


class ServeProcess:
    """`qa serve` over an index on a free loopback port; `ready_s` is process start to first /healthz 200.

    The server logs a line per request: to `log` when given (kept), else to a temporary file
    removed on stop, since an unread pipe would fill and stall the server.
    """

    def __init__(self, index: Path, env: dict[str, str] | None = None, timeout: float = 120.0,
                 log: Path | None = None, command: list[str] | None = None) -> None:
        """`command` replaces `python -m qa serve` (it gets `--index I --port P` appended)."""
        self.name = " ".join(command) if command else "qa serve"
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._keep_log = log is not None
        if log is None:
            fd, name = tempfile.mkstemp(prefix="qa-serve-", suffix=".log")
            os.close(fd)
            log = Path(name)
        self.log_path = Path(log)
        started = time.perf_counter()
        with open(self.log_path, "wb") as out:  # the child keeps its own copy of the descriptor
            self.proc = subprocess.Popen(
                [*(command or [sys.executable, "-m", "qa", "serve"]), "--index", str(index), "--port", str(self.port)],
                env={**os.environ, **(env or {})}, stdout=out, stderr=subprocess.STDOUT,
            )
        self.pid = self.proc.pid
        deadline = started + timeout
        while not healthy(self.url, timeout=0.5):
            if self.proc.poll() is not None:
                tail = self.log_tail()
                self.stop()
                raise ServeError(f"{self.name} exited with {self.proc.returncode}: {tail}")
            if time.perf_counter() > deadline:
                self.stop()
                raise ServeError(f"{self.name} did not become healthy")
            time.sleep(0.01)
        self.ready_s = time.perf_counter() - started

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if not self._keep_log:
            self.log_path.unlink(missing_ok=True)

    def log_tail(self, chars: int = 2000) -> str:
        try:
            return self.log_path.read_bytes()[-chars:].decode("utf-8", "replace")
        except OSError:
            return ""

    def __enter__(self) -> ServeProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


# ---------------------------------------------------------------- the command


@dataclass
class Report:
    url: str
    questions: int
    warmup_s: float
    load: LoadResult
    rss_before_mb: float | None
    rss_start_mb: float | None
    rss_end_mb: float | None
    rss_growth_pct: float | None
    max_rss_growth_pct: float

    @property
    def failed(self) -> bool:
        grew = self.rss_growth_pct is not None and self.rss_growth_pct >= self.max_rss_growth_pct
        return self.load.errors > 0 or grew


def soak(url: str, pid: int | None, questions: list[str], concurrency: int, seconds: float, warmup: float,
         max_growth: float, procs: int = 1, unique: int = 0) -> Report:
    """Warm up, read RSS, run the load, read RSS again."""
    parts = urlsplit(url)
    requests = ask_requests(parts.hostname or "127.0.0.1", parts.port or 80, questions, unique=unique)
    before = rss_mb(pid) if pid else None
    if warmup > 0:
        run_load(url, requests, concurrency, warmup, procs)
    start = rss_mb(pid) if pid else None
    result = run_load(url, requests, concurrency, seconds, procs, server_pid=pid)
    end = rss_mb(pid) if pid else None
    growth = round((end - start) / start * 100, 2) if start and end else None
    return Report(url, len(requests), warmup, result, _r(before), _r(start), _r(end), growth, max_growth)


def _r(x: float | None) -> float | None:
    return None if x is None else round(x, 1)


def print_report(report: Report) -> None:
    load = report.load
    print(f"load: {load.concurrency} clients x {load.seconds:.1f} s, POST /ask, {report.url} "
          f"({report.questions} questions, cycled)")
    print(f"  requests     {load.requests}")
    print(f"  errors       {load.errors}")
    for sample in load.error_samples:
        print(f"    {sample}")
    print(f"  req/s        {load.rps:.1f}")
    print(f"  latency      p50 {load.p50_ms:.1f} ms   p99 {load.p99_ms:.1f} ms   max {load.max_ms:.1f} ms")
    if report.rss_start_mb is not None:
        print(f"  server RSS   {report.rss_start_mb:.1f} MB after {report.warmup_s:g} s warm-up "
              f"({report.rss_before_mb:.1f} MB before) -> {report.rss_end_mb:.1f} MB at end: "
              f"{report.rss_growth_pct:+.1f} % (limit {report.max_rss_growth_pct:g} %)")
    else:
        print("  server RSS   unknown (no --pid and no local process found listening on the port)")
    if load.server_cpu:
        print(f"  server CPU   {load.server_cpu['cpu_ms_per_request']:.2f} ms per request: at most "
              f"{load.server_cpu['cpu_bound_rps']:.0f} req/s on {os.cpu_count()} cores")
    print(f"  client       {load.client_cpu_share * 100:.0f} % of one core, {load.client_us_per_request:.0f} "
          f"us CPU per request")
    print("FAIL" if report.failed else "OK")


def main(argv: list[str] | None = None) -> int:
    if argv is None and sys.argv[1:] == ["--worker"]:
        return _worker()
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    target = parser.add_mutually_exclusive_group(required=True)
    target.add_argument("--url", help="a running server (loopback only), e.g. http://127.0.0.1:8000")
    target.add_argument("--index", type=Path, help="start `qa serve` over this index on a free port")
    parser.add_argument("-c", "--concurrency", type=positive(int), default=32)
    parser.add_argument("-s", "--seconds", type=positive(float), default=60.0)
    parser.add_argument("--warmup", type=not_negative(float), default=2.0,
                        help="seconds of load before RSS is read (default 2)")
    parser.add_argument("--pid", type=int, help="server pid for RSS (default: the process listening on the port)")
    parser.add_argument("--questions", type=Path, action="append", help="JSON Lines question file (repeatable)")
    parser.add_argument("--unique", type=not_negative(int), default=0, metavar="N",
                        help="send N numbered variants of each question, so answer caches miss")
    parser.add_argument("--procs", type=positive(int), default=1, help="client processes (default 1)")
    parser.add_argument("--max-rss-growth", type=float, default=10.0, help="percent (default 10)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args(argv)

    questions = load_questions(args.questions)
    server = None
    try:
        if args.index is not None:
            server = ServeProcess(args.index)
            url, pid = server.url, server.pid
        else:
            url = args.url.rstrip("/")
            if urlsplit(url).scheme != "http":
                parser.error(f"--url must be an http:// address, not {args.url!r}")
            check_loopback(urlsplit(url).hostname or "127.0.0.1")
            if not healthy(url, timeout=5):
                print(f"{url}/healthz: not answering 200", file=sys.stderr)
                return 2
            pid = args.pid or pid_listening_on(urlsplit(url).port or 80)
        report = soak(url, pid, questions, args.concurrency, args.seconds, args.warmup, args.max_rss_growth,
                      args.procs, args.unique)
    finally:
        if server is not None:
            server.stop()
    if args.json:
        print(json.dumps({**asdict(report), "failed": report.failed}, indent=2))
    else:
        print_report(report)
    return 1 if report.failed else 0


if __name__ == "__main__":
    raise SystemExit(exit_on_known_errors(main))
