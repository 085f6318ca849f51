"""What one connection may take, against a real server: slow and idle clients get 408 or are cut
off, a huge request head gets 431, connections beyond the cap get 503, and ordinary clients,
keep-alive ones included, are served as before."""

from __future__ import annotations

import http.client
import json
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from qa.api.connections import MAX_HEAD_BYTES
from qa.settings import Settings

from conftest import Server

CLIENT_TIMEOUT_S = 1.5
MAX_CONNECTIONS = 8


@pytest.fixture(scope="module")
def guarded(seed_index: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    env = {"QA_CLIENT_TIMEOUT_S": str(CLIENT_TIMEOUT_S), "QA_MAX_CONNECTIONS": str(MAX_CONNECTIONS)}
    srv = Server(seed_index, env=env, log=tmp_path_factory.mktemp("guarded") / "serve.log")
    yield srv
    srv.stop()


def connect(server: Server) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=15)
    return sock


def read_reply(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes the connection."""
    chunks = []
    while chunk := sock.recv(65536):
        chunks.append(chunk)
    return b"".join(chunks)


def status_of(reply: bytes) -> int:
    match = re.match(rb"HTTP/1\.1 (\d{3}) ", reply)
    assert match, reply[:200]
    return int(match.group(1))


def detail_of(reply: bytes) -> str:
    return json.loads(reply.split(b"\r\n\r\n", 1)[1])["detail"]


def closed_counts(server: Server) -> dict[str, float]:
    _, body, _ = server.request("GET", "/metrics")
    return {m.group(1): float(m.group(2)) for m in
            re.finditer(r'^qa_connections_closed_total\{reason="(\w+)"\} (\S+)$', body.decode(), re.M)}


def test_a_connection_that_sends_nothing_is_closed_without_a_word(guarded: Server):
    with connect(guarded) as sock:
        started = time.monotonic()
        reply = read_reply(sock)
    assert reply == b""  # nothing was asked; a reply could be read as the answer to a later request
    assert time.monotonic() - started < 10


def test_a_request_head_not_finished_in_time_gets_408(guarded: Server):
    with connect(guarded) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\n")
        reply = read_reply(sock)
    assert status_of(reply) == 408
    assert "not received within" in detail_of(reply)


def test_a_request_head_sent_too_slowly_gets_408(guarded: Server):
    with connect(guarded) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        for _ in range(4):  # a header line now and then, as slowloris does, doesn't reset the clock
            time.sleep(CLIENT_TIMEOUT_S / 4)
            try:
                sock.sendall(b"X-Slow: 1\r\n")
            except OSError:
                break
        reply = read_reply(sock)
    assert status_of(reply) == 408


def test_a_body_sent_too_slowly_is_cut_off_and_logged_as_the_client_leaving(guarded: Server):
    with connect(guarded) as sock:
        sock.sendall(b"POST /ask HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     b"Content-Length: 100\r\n\r\n{\"question\": \"")
        started = time.monotonic()
        reply = read_reply(sock)
    assert reply == b""  # the app was already reading the body: nothing to say, the line is cut
    assert time.monotonic() - started < 10
    deadline = time.monotonic() + 5
    while "POST /ask 499" not in guarded.log_tail(20000) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert "POST /ask 499" in guarded.log_tail(20000)


def test_an_oversized_body_cut_off_while_it_is_discarded_is_logged_as_the_client_leaving(guarded: Server):
    size = 40 * Settings().max_body_bytes  # over the body limit: read and thrown away before the 413
    with connect(guarded) as sock:
        sock.sendall(b"POST /ask HTTP/1.1\r\nHost: x\r\nX-Request-ID: slow-oversized\r\n"
                     b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n" % size)
        try:
            for _ in range(size // 4096):  # far slower than the client timeout allows
                sock.sendall(b"x" * 4096)
                time.sleep(0.05)
        except OSError:
            pass
        reply = read_reply(sock)
    assert b"413" not in reply
    deadline = time.monotonic() + 5
    while "slow-oversized" not in guarded.log_tail(50000) and time.monotonic() < deadline:
        time.sleep(0.05)
    line = next(ln for ln in guarded.log_tail(50000).splitlines() if "slow-oversized" in ln)
    assert "status=499" in line


def test_a_request_head_over_the_limit_gets_431_before_it_is_read_whole(guarded: Server):
    with connect(guarded) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ")
        reply = b""
        for _ in range(64):  # 4 MB of one header that never ends, unless the server answers first
            sock.sendall(b"a" * 65536)
            sock.setblocking(False)
            try:
                reply = sock.recv(65536)
            except BlockingIOError:
                pass
            finally:
                sock.settimeout(15)
            if reply:
                break
        assert reply, "no answer while the head kept growing"
        reply += read_reply(sock)
    assert status_of(reply) == 431
    assert str(MAX_HEAD_BYTES) in detail_of(reply)
    assert guarded.get_json("/healthz")[0] == 200


@pytest.mark.parametrize("size", [MAX_HEAD_BYTES + 5000, 2 * MAX_HEAD_BYTES])
def test_a_request_head_over_the_limit_sent_whole_at_once_gets_431(guarded: Server, size: int):
    head = b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * size + b"\r\n\r\n"
    with connect(guarded) as sock:
        sock.sendall(head)
        reply = read_reply(sock)
    assert status_of(reply) == 431


def test_a_post_refused_at_the_cap_still_reads_its_503(guarded: Server):
    held = [connect(guarded) for _ in range(MAX_CONNECTIONS)]
    try:
        time.sleep(0.2)
        body = json.dumps({"question": "x" * 20000}).encode()
        with connect(guarded) as sock:
            try:
                sock.sendall(b"POST /ask HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                             b"Content-Length: %d\r\n\r\n" % len(body) + body)
            except OSError:
                pass
            reply = read_reply(sock)
        assert status_of(reply) == 503
    finally:
        for sock in held:
            sock.close()


def test_connections_beyond_the_cap_get_503_with_retry_after_and_the_rest_are_served(guarded: Server):
    before = closed_counts(guarded).get("too_many_connections", 0)
    held = [connect(guarded) for _ in range(MAX_CONNECTIONS + 3)]
    try:
        refused = []
        for sock in held:
            sock.settimeout(0.5)
            try:
                first = sock.recv(65536)
            except TimeoutError:
                continue
            if first.startswith(b"HTTP/1.1 503"):
                refused.append(first)
        assert len(refused) >= 3
        assert b"retry-after: 1" in refused[0].lower()
        assert "too many open connections" in detail_of(refused[0])
    finally:
        for sock in held:
            sock.close()
    time.sleep(0.2)
    status, body = guarded.get_json("/ask?q=What+does+Article+5+say%3F&k=1")
    assert status == 200 and body["passages"]
    assert closed_counts(guarded)["too_many_connections"] >= before + 3


BUNDLE = "/docs-assets/swagger-ui-bundle.js"  # the largest response the server gives (about 1.5 MB)


def test_clients_that_stop_reading_what_they_are_sent_are_cut_off_and_free_their_slots(guarded: Server):
    before = closed_counts(guarded).get("slow_client", 0)
    held = []
    try:
        for _ in range(MAX_CONNECTIONS):  # every slot, each asking for megabytes it never reads
            sock = connect(guarded)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            sock.sendall(f"GET {BUNDLE} HTTP/1.1\r\nHost: x\r\n\r\n".encode() * 6)
            held.append(sock)
        time.sleep(3 * CLIENT_TIMEOUT_S)
        assert guarded.get_json("/healthz")[0] == 200
        assert closed_counts(guarded)["slow_client"] >= before + MAX_CONNECTIONS
    finally:
        for sock in held:
            sock.close()
    assert "Traceback" not in guarded.log_tail(200000)


def test_bytes_between_requests_keep_no_connection_open(guarded: Server):
    with connect(guarded) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        assert sock.recv(65536).startswith(b"HTTP/1.1 200")
        closed = False
        for _ in range(int(8 * CLIENT_TIMEOUT_S / 0.5)):  # a CRLF, which the parser skips, twice a second
            try:
                sock.sendall(b"\r\n")
                time.sleep(0.5)
            except OSError:
                closed = True
                break
        if not closed:
            sock.settimeout(1)
            try:
                closed = sock.recv(1) == b""
            except (TimeoutError, ConnectionResetError):
                closed = isinstance(sys.exc_info()[1], ConnectionResetError)
    assert closed


def test_chunked_trailers_count_against_the_head_limit(guarded: Server):
    rss = _rss_mb(guarded)
    with connect(guarded) as sock:
        sock.sendall(b"POST /ask HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     b"Transfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n")
        sent = 0
        try:
            while sent < 64 * MAX_HEAD_BYTES:
                sock.sendall(b"a: b\r\n" * 10000)
                sent += 60000
        except OSError:  # the server hung up
            pass
    assert sent < 64 * MAX_HEAD_BYTES
    assert _rss_mb(guarded) < rss + 50
    assert guarded.get_json("/healthz")[0] == 200


@pytest.mark.parametrize("head, hint", [
    ("GET /ask?q=NATO’s+role HTTP/1.1\r\nHost: x\r\n\r\n".encode(), True),  # pasted, not percent-encoded
    (b"GET /ask?q=a HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: x\r\n\r\n", False),
    (b"POST /ask HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", False),  # no chunk size
])
def test_a_request_the_parser_rejects_gets_a_json_400_that_says_what_to_do(guarded: Server, head: bytes, hint: bool):
    before = closed_counts(guarded).get("malformed", 0)
    with connect(guarded) as sock:
        sock.sendall(head)
        reply = read_reply(sock)
    assert status_of(reply) == 400
    assert b"content-type: application/json" in reply.lower()
    assert detail_of(reply).startswith("malformed HTTP request")
    assert ("percent-encoded" in detail_of(reply)) is hint  # only where a URL may hold raw characters
    assert closed_counts(guarded).get("malformed", 0) == before + 1
    assert guarded.get_json("/ask?q=NATO%E2%80%99s%20role")[0] == 200


def _rss_mb(server: Server) -> float:
    status = Path(f"/proc/{server.proc.pid}/status").read_text()
    return int(status.split("VmRSS:")[1].split()[0]) / 1024


def test_the_connection_cap_fits_the_open_file_limit():
    code = (
        "import resource\n"
        "resource.setrlimit(resource.RLIMIT_NOFILE, (200, 300))\n"
        "from qa.api.connections import fit_to_file_limit\n"
        "from qa.settings import Settings\n"
        "capped = fit_to_file_limit(Settings(max_connections=1000)).max_connections\n"
        "small = fit_to_file_limit(Settings(max_connections=50)).max_connections\n"
        "print(resource.getrlimit(resource.RLIMIT_NOFILE)[0], capped, small)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    soft, capped, small = map(int, done.stdout.split())
    assert soft == 300  # raised to the hard limit
    assert capped < soft - 64 and capped > 0
    assert small == 50
    assert "QA_MAX_CONNECTIONS=1000 lowered" in done.stderr


def test_a_keep_alive_client_asking_within_the_time_is_served_every_time(guarded: Server):
    conn = http.client.HTTPConnection("127.0.0.1", guarded.port, timeout=15)
    try:
        for question in ("What does Article 5 say?", "Who leads UN peacekeeping missions?"):
            time.sleep(CLIENT_TIMEOUT_S / 2)  # idle between requests, under the keep-alive timeout
            body = json.dumps({"question": question, "k": 1})
            conn.request("POST", "/ask", body=body, headers={"Content-Type": "application/json"})
            resp = conn.getresponse()
            assert resp.status == 200
            assert json.loads(resp.read())["passages"]
    finally:
        conn.close()


def test_a_request_sent_in_pieces_within_the_time_is_answered(guarded: Server):
    body = json.dumps({"question": "What does Article 5 say?", "k": 1}).encode()
    head = (f"POST /ask HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n"
            "Connection: close\r\n\r\n").encode()
    with connect(guarded) as sock:
        for piece in (head[:20], head[20:], body[:10], body[10:]):
            sock.sendall(piece)
            time.sleep(CLIENT_TIMEOUT_S / 8)
        reply = read_reply(sock)
    assert status_of(reply) == 200
    assert b'"passages"' in reply


def test_the_client_timeout_must_be_positive():
    with pytest.raises(ValueError, match="QA_CLIENT_TIMEOUT_S"):
        Settings(client_timeout_s=0)
    with pytest.raises(ValueError, match="QA_MAX_CONNECTIONS"):
        Settings(max_connections=-1)


# ---------------------------------------------------------------- pipelining, behind a slow response
# The real app answers within its request time limit; a toy app whose /slow takes longer than the
# client timeout stands in for a slow response (an admin reload of a large index), under real uvicorn.

SLOW_S = 2.5
TOY_TIMEOUT_S = 1.0


async def toy_app(scope, receive, send) -> None:  # noqa: ANN001 - an ASGI app
    if scope["type"] != "http":
        return
    if scope["path"] == "/slow":
        import asyncio

        await asyncio.sleep(SLOW_S)
    size = 0
    while True:
        message = await receive()
        size += len(message.get("body", b""))
        if not message.get("more_body"):
            break
    out = f"{scope['method']} {scope['path']} {size}".encode()
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", str(len(out)).encode())]})
    await send({"type": "http.response.body", "body": out})


@pytest.fixture(scope="module")
def toy() -> Iterator[Server]:
    import threading

    import uvicorn

    from qa.api.connections import guarded_protocol

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    protocol = guarded_protocol(Settings(client_timeout_s=TOY_TIMEOUT_S))
    server = uvicorn.Server(uvicorn.Config(toy_app, host="127.0.0.1", port=port, http=protocol, log_level="error",
                                           lifespan="off"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    assert server.started
    yield type("Toy", (), {"port": port})()
    server.should_exit = True
    thread.join(10)


def test_a_pipelined_request_waiting_behind_a_slow_response_is_answered_after_it(toy):
    with connect(toy) as sock:
        sock.sendall(b"GET /slow HTTP/1.1\r\nHost: x\r\n\r\n")
        time.sleep(0.2)
        sock.sendall(b"POST /fast HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nConnection: close\r\n\r\n")
        time.sleep(0.2)
        sock.sendall(b"hello")  # its body, which the server won't read until /slow is answered
        reply = read_reply(sock)
    assert reply.count(b"HTTP/1.1 200 OK") == 2
    assert reply.index(b"GET /slow 0") < reply.index(b"POST /fast 5")


def test_a_408_for_a_pipelined_request_never_goes_out_ahead_of_the_response_before_it(toy):
    with connect(toy) as sock:
        sock.sendall(b"GET /slow HTTP/1.1\r\nHost: x\r\n\r\n")
        time.sleep(0.2)
        sock.sendall(b"GET /fast HTTP/1.1\r\n")  # and never the rest
        reply = read_reply(sock)
    assert reply.startswith(b"HTTP/1.1 200 OK")
    assert b"GET /slow 0" in reply
    assert reply.index(b"GET /slow 0") < reply.index(b"HTTP/1.1 408 Request Timeout")


def test_a_431_for_a_pipelined_request_never_goes_out_ahead_of_the_response_before_it(toy):
    with connect(toy) as sock:
        sock.sendall(b"GET /slow HTTP/1.1\r\nHost: x\r\n\r\n")
        time.sleep(0.2)
        sock.sendall(b"GET /fast HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * (2 * MAX_HEAD_BYTES) + b"\r\n\r\n")
        reply = read_reply(sock)
    assert reply.startswith(b"HTTP/1.1 200 OK")
    assert reply.index(b"GET /slow 0") < reply.index(b"HTTP/1.1 431")
