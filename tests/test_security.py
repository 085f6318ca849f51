"""Limits and security against a real server: body, question and k limits, time limit, admin token, bind
address, CORS, and paths that try to leave the index."""

from __future__ import annotations

import http.client
import json
import socket
import time
import urllib.parse
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from qa.cli import make_parser
from qa.settings import Settings

from conftest import Server

TOKEN = "security-test-token"
ALLOWED_ORIGIN = "https://allowed.example"
LIMIT = Settings().max_body_bytes


@pytest.fixture(scope="module")
def configured(seed_index: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A server with the admin token, one CORS origin and a time limit no answer can meet."""
    env = {"QA_ADMIN_TOKEN": TOKEN, "QA_CORS_ORIGINS": f"{ALLOWED_ORIGIN}, https://other-allowed.example",
           "QA_REQUEST_TIMEOUT_S": "0.000001"}
    srv = Server(seed_index, env=env, log=tmp_path_factory.mktemp("configured") / "serve.log")
    yield srv
    srv.stop()


def detail(body: bytes) -> str:
    parsed = json.loads(body)
    assert isinstance(parsed, dict) and isinstance(parsed["detail"], str) and parsed["detail"]
    return parsed["detail"]


def raw_request(server: Server, method: str, path: str, headers: dict[str, str] | None = None,
                body: bytes | None = None) -> tuple[int, bytes, dict[str, str]]:
    """A request with the path sent exactly as given (no client-side normalisation)."""
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        resp = conn.getresponse()
        return resp.status, resp.read(), {k.lower(): v for k, v in resp.getheaders()}
    finally:
        conn.close()


# ---------------------------------------------------------------- request limits


def test_a_body_over_the_limit_is_refused_with_413(server: Server):
    question = "x" * (LIMIT + 1)
    status, body, _ = server.request("POST", "/ask", json.dumps({"question": question}).encode())
    assert status == 413 and str(LIMIT) in detail(body)


def test_a_streamed_body_over_the_limit_is_refused_with_413(server: Server):
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    try:
        conn.putrequest("POST", "/ask")
        conn.putheader("Content-Type", "application/json")
        conn.putheader("Transfer-Encoding", "chunked")
        conn.endheaders()
        chunk = b'{"question": "' + b"y" * (LIMIT // 2)
        for _ in range(3):
            try:
                conn.send(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
            except (BrokenPipeError, ConnectionResetError):
                break  # the server answered and closed before the whole body was sent
        resp = conn.getresponse()
        assert resp.status == 413 and str(LIMIT) in detail(resp.read())
    finally:
        conn.close()


def test_a_flood_beyond_the_queue_limit_gets_503_with_retry_after(seed_index: Path, tmp_path: Path):
    srv = Server(seed_index, env={"QA_MAX_QUEUED": "1", "QA_SEARCH_THREADS": "1", "QA_CACHE_SIZE": "0"},
                 log=tmp_path / "serve.log")
    try:
        def ask(n: int) -> tuple[int, bytes, dict[str, str]]:
            query = urllib.parse.urlencode({"q": f"Why do allies train together, case {n}?", "k": 50})
            return raw_request(srv, "GET", f"/ask?{query}")

        with ThreadPoolExecutor(24) as pool:
            results = list(pool.map(ask, range(48)))
        statuses = sorted({status for status, _, _ in results})
        assert statuses == [200, 503]
        refused = [(body, headers) for status, body, headers in results if status == 503]
        assert all("busy" in detail(body) and headers["retry-after"] == "1" for body, headers in refused)
        metrics = srv.request("GET", "/metrics")[1].decode()
        assert f'qa_questions_dropped_total{{reason="busy"}} {len(refused)}.0' in metrics
        assert srv.get_json("/ask?q=What+is+NATO%3F")[0] == 200  # and it serves again
    finally:
        srv.stop()


def test_a_client_that_hangs_up_before_its_body_is_logged_once_without_a_traceback(configured: Server):
    """10,000 such hang-ups wrote 87 MB of tracebacks and counted 10,000 errors (500) before."""
    for _ in range(3):
        with socket.create_connection(("127.0.0.1", configured.port), timeout=10) as sock:
            sock.sendall(b"POST /ask HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                         b"Content-Length: 100\r\n\r\n{\"question\": \"Why")
    deadline = time.monotonic() + 10
    while configured.log_path.read_text().count("POST /ask 499") < 3 and time.monotonic() < deadline:
        time.sleep(0.05)
    log = configured.log_path.read_text()
    assert log.count("POST /ask 499") == 3
    assert "Traceback" not in log and "unexpected error" not in log
    metrics = configured.request("GET", "/metrics")[1].decode()
    assert 'status="500"' not in metrics and 'status="499"' in metrics
    assert configured.get_json("/healthz")[0] == 200


@pytest.mark.parametrize("question, k", [
    ("q" * 1001, 5), ("", 5), ("   \t\n ", 5), ("What?\x00", 5), ("\x1c", 5), ("\ufeff \x85", 5), ("\u200b\u202e", 5),
    ("What does Article 5 say?", 0), ("What does Article 5 say?", 51), ("What does Article 5 say?", -1),
    ("What does Article 5 say?", "five"), ("What does Article 5 say?", 2.5), ("What does Article 5 say?", True),
    ("What does Article 5 say?", None),
])
def test_questions_and_k_out_of_bounds_get_422_with_a_message(server: Server, question: str, k: object):
    status, body, _ = server.request("POST", "/ask", json.dumps({"question": question, "k": k}).encode())
    assert status == 422, body
    message = detail(body)
    assert ("question" in message) or ("k" in message)
    if isinstance(k, (int, str)) and not isinstance(k, bool) and question.startswith("What does"):
        query = urllib.parse.urlencode({"q": question, "k": k})
        status, body, _ = server.request("GET", f"/ask?{query}")
        assert status == 422 and "k" in detail(body)


def test_the_longest_allowed_question_is_answered(server: Server):
    question = ("How does NATO respond to an attack on a member? " * 30)[:1000]
    status, body = server.post_json("/ask", {"question": question, "k": 50})
    assert status == 200 and 1 <= len(body["passages"]) <= 50  # type: ignore[index]
    status, body, _ = server.request("GET", "/ask?" + urllib.parse.urlencode({"q": question + "?"}))
    assert status == 422 and "q" in detail(body)


@pytest.mark.parametrize("raw", [b"{", b"[1, 2]", b"\xff\xfe", b'"just a string"', b"{" * 5000 + b"}" * 5000,
                                 b'{"question": "Why?", "k": 5, "extra": 1}'])
def test_malformed_bodies_get_4xx_never_500(server: Server, raw: bytes):
    status, body, _ = server.request("POST", "/ask", raw)
    assert 400 <= status < 500 and detail(body)


def test_an_answer_over_the_time_limit_is_504_and_the_server_lives_on(configured: Server):
    status, body, _ = configured.request("GET", "/ask?q=How+does+NATO+respond+to+an+attack%3F")
    assert status == 504 and "no answer within" in detail(body)
    assert configured.get_json("/healthz")[0] == 200


# ---------------------------------------------------------------- admin routes


def test_admin_routes_are_404_when_no_token_is_configured(server: Server):
    for headers in ({}, {"Authorization": "Bearer anything"}):
        status, body, _ = server.request("POST", "/admin/reload", b"", headers)
        assert status == 404 and detail(body) == "Not Found"


def test_admin_needs_a_bearer_token(configured: Server):
    for headers in ({}, {"Authorization": ""}, {"Authorization": f"Basic {TOKEN}"}, {"Authorization": "Bearer"}):
        status, body, response_headers = configured.request("POST", "/admin/reload", b"", headers)
        assert status == 401 and "Bearer" in detail(body), headers
        assert response_headers.get("www-authenticate") == "Bearer"


def test_a_wrong_admin_token_is_403(configured: Server):
    for wrong in (TOKEN[:-1], TOKEN + "x", TOKEN.upper(), "é" * 8, " " + TOKEN + "x"):
        status, body, _ = configured.request("POST", "/admin/reload", b"",
                                             {"Authorization": f"Bearer {wrong}".encode().decode("latin-1")})
        assert status == 403 and detail(body) == "wrong admin token", wrong


def test_the_right_admin_token_reloads(configured: Server):
    status, body, _ = configured.request("POST", "/admin/reload", b"", {"Authorization": f"Bearer {TOKEN}"})
    assert status == 200
    reloaded = json.loads(body)
    assert reloaded["generation"] == reloaded["previous"] and reloaded["changed"] is False
    assert reloaded["articles"] == 2 and reloaded["sections"] > 0


def test_the_admin_token_is_compared_in_constant_time():
    source = (Path(__file__).resolve().parent.parent / "qa" / "api" / "admin.py").read_text()
    assert "hmac.compare_digest(" in source and "== token" not in source


# ---------------------------------------------------------------- network exposure


def test_the_server_binds_loopback_unless_told_otherwise(server: Server):
    assert Settings.from_env({}).host == "127.0.0.1"
    assert make_parser().parse_args(["serve"]).host is None  # falls back to the setting
    listening = _listening_addresses(server.port)
    if listening is None:
        pytest.skip("no /proc/net/tcp on this system")
    assert listening == {"127.0.0.1"}


def _listening_addresses(port: int) -> set[str] | None:
    """Local addresses with a socket listening on port, from /proc/net/tcp and tcp6."""
    found: set[str] = set()
    tables = [Path("/proc/net/tcp"), Path("/proc/net/tcp6")]
    if not tables[0].exists():
        return None
    for table in tables:
        if not table.exists():
            continue
        for line in table.read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            address, hex_port = local.split(":")
            if state == "0A" and int(hex_port, 16) == port:  # 0A: LISTEN
                if len(address) == 8:
                    found.add(socket.inet_ntop(socket.AF_INET, bytes.fromhex(address)[::-1]))
                else:
                    found.add(address)
    return found


def test_cors_is_off_by_default(server: Server):
    status, _, headers = server.request("GET", "/healthz", headers={"Origin": ALLOWED_ORIGIN})
    assert status == 200 and "access-control-allow-origin" not in {k.lower() for k in headers}
    status, _, headers = server.request("OPTIONS", "/ask", headers={
        "Origin": ALLOWED_ORIGIN, "Access-Control-Request-Method": "GET"})
    assert "access-control-allow-origin" not in {k.lower() for k in headers}


def test_cors_allows_only_the_configured_origins(configured: Server):
    status, _, headers = raw_request(configured, "GET", "/healthz", {"Origin": ALLOWED_ORIGIN})
    assert status == 200 and headers["access-control-allow-origin"] == ALLOWED_ORIGIN
    status, _, headers = raw_request(configured, "GET", "/healthz", {"Origin": "https://evil.example"})
    assert status == 200 and "access-control-allow-origin" not in headers
    status, _, headers = raw_request(configured, "OPTIONS", "/ask", {
        "Origin": "https://other-allowed.example", "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type"})
    assert status == 200 and headers["access-control-allow-origin"] == "https://other-allowed.example"
    # A browser page may not send the admin token cross-origin.
    status, _, headers = raw_request(configured, "OPTIONS", "/admin/reload", {
        "Origin": ALLOWED_ORIGIN, "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization"})
    assert status == 400


# ---------------------------------------------------------------- paths that try to leave the index

ESCAPES = [
    "../../../../../../etc/passwd", "..%2f..%2f..%2f..%2f..%2fetc%2fpasswd", "%2e%2e/%2e%2e/%2e%2e/etc/passwd",
    "%2e%2e%2f%2e%2e%2f%2e%2e%2fetc%2fpasswd", "..%252f..%252f..%252fetc%252fpasswd", "/etc/passwd",
    "%2fetc%2fpasswd", "....//....//....//etc/passwd", "..\\..\\..\\etc\\passwd", "..%5c..%5cetc%5cpasswd",
    "../CURRENT", "../../CURRENT", "../manifest.json", "manifest.json", "sections.db", "../gens",
    "%00../../etc/passwd", "..%00/etc/passwd", "~/.bashrc", "file:///etc/passwd", "..;/..;/etc/passwd",
]
SECRETS = ("root:x:0:", "qa-index", "SQLite format", "format_version", "def create_app", "[core]")


def test_no_route_reads_a_path_outside_the_index(server: Server):
    _, spec = server.get_json("/openapi.json")
    templates = [path for path in spec["paths"] if "{" in path]  # type: ignore[index]
    assert templates, "expected routes with path parameters"
    templates += ["/static/{name}", "/{rest}", "/documents/{doc}/{rest}"]  # routes left out of the schema
    probed = 0
    for template in templates:
        for escape in ESCAPES:
            path = template
            while "{" in path:
                start, end = path.index("{"), path.index("}")
                path = path[:start] + escape + path[end + 1 :]
            status, body, _ = raw_request(server, "GET", path)
            probed += 1
            assert status < 500, (path, status, body[:200])
            assert status in (200, 404, 400, 422) and not any(s.encode() in body for s in SECRETS), (path, body[:200])
            if status == 200:  # only the web page may answer, and it is not a file from disk outside the app
                assert body.lstrip().lower().startswith(b"<!doctype html"), path
    assert probed >= len(ESCAPES) * 4
