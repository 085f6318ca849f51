"""The HTTP API end to end: a real uvicorn server over a real index of the seed articles."""

from __future__ import annotations

import http.client
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import DEV, plain_text, run_cli


def ask(server, question: str, k: int = 5) -> dict:
    status, body = server.post_json("/ask", {"question": question, "k": k})
    assert status == 200, body
    return body


QUESTIONS = [
    "How does NATO respond to an attack on a member?",
    "What does Article 5 say",
    "challanges of comand and controll in multinatonal operations",
    "How long should I boil an egg?",
    "Which regional organisations promote security cooperation?",
]


@pytest.mark.parametrize("question", QUESTIONS)
def test_every_span_and_answer_slices_the_plain_text(server, seed_corpus: Path, question: str):
    body = ask(server, question, k=10)
    assert body["question"] == question
    assert [p["rank"] for p in body["passages"]] == list(range(1, len(body["passages"]) + 1))
    assert len(body["passages"]) == 10
    scores = [p["score"] for p in body["passages"]]
    assert scores == sorted(scores, reverse=True)
    for p in body["passages"]:
        c, a = p["citation"], p["answer"]
        plain = plain_text(seed_corpus, c["doc"])
        span = plain[c["start"] : c["end"]]
        assert span == p["text"] or ("See also" in span and span.startswith(p["text"][:40]))
        assert plain[a["start"] : a["end"]] == a["text"]
        assert c["start"] <= a["start"] < a["end"] <= c["end"]
        assert c["section"] == "" or c["section"] in plain
        assert c["title"]


def test_notices_are_those_of_the_cited_articles_in_order_of_first_citation(server, seed_corpus: Path):
    body = ask(server, "Why do allies hold joint military exercises?", k=10)
    cited = list(dict.fromkeys(p["citation"]["doc"] for p in body["passages"]))
    assert [n["doc"] for n in body["notices"]] == cited
    for n in body["notices"]:
        lines = plain_text(seed_corpus, n["doc"]).split("\n")
        assert n["text"] in [line.strip() for line in lines]
        assert n["text"].startswith(("📝 Note for Readers:", "⚠️ Please note:"))


def test_article_5_is_answered_with_the_nato_section(server):
    body = ask(server, "What does Article 5 say", k=3)
    top = body["passages"][0]
    assert top["citation"]["section"] == "NATO’s Collective Defense Mechanism"
    assert "Article 5" in top["answer"]["text"]
    assert body["low_confidence"] is False
    assert body["notices"][0]["text"].startswith("⚠️ Please note:")


def test_get_and_post_give_the_same_body(server):
    status, got, _ = server.request("GET", "/ask?q=What+does+Article+5+say&k=3")
    status_post, posted, _ = server.request("POST", "/ask", json.dumps({"question": "What does Article 5 say",
                                                                        "k": 3}).encode())
    assert status == status_post == 200
    assert json.loads(got) == json.loads(posted)


def test_default_k_is_five(server):
    status, body = server.get_json("/ask?q=peacekeeping")
    assert status == 200 and len(body["passages"]) == 5


BAD = [
    ("empty question", {"question": "", "k": 5}, 422),
    ("whitespace question", {"question": "  \t\n ", "k": 5}, 422),
    ("k zero", {"question": "What is NATO?", "k": 0}, 422),
    ("k too big", {"question": "What is NATO?", "k": 51}, 422),
    ("k not an integer", {"question": "What is NATO?", "k": "x"}, 422),
    ("k a float", {"question": "What is NATO?", "k": 2.5}, 422),
    ("k a boolean", {"question": "What is NATO?", "k": True}, 422),
    ("question too long", {"question": "a" * 1001, "k": 5}, 422),
    ("question not a string", {"question": 42, "k": 5}, 422),
    ("missing question", {"k": 5}, 422),
    ("NUL byte", {"question": "What is\u0000 NATO?", "k": 5}, 422),
    ("unknown field", {"question": "What is NATO?", "k": 5, "extra": 1}, 422),
    ("array body", ["What is NATO?"], 422),
]


@pytest.mark.parametrize("name, payload, status", BAD, ids=[b[0] for b in BAD])
def test_bad_json_input_gets_a_4xx_with_a_message(server, name: str, payload: object, status: int):
    got, body = server.post_json("/ask", payload)
    assert got == status
    assert isinstance(body["detail"], str) and body["detail"]


@pytest.mark.parametrize("raw, status", [
    (b'{"question": "What is NATO?", "k": 5', 400),
    (b'{"question": "caf\xe9 \xff\xfe NATO", "k": 5}', 400),
    (b"", 400),
    (b'{"question": "What is NATO?", "k": ' + b"1" * 5000 + b"}", 400),  # more digits than Python converts
    (b"[" * 30000 + b"]" * 30000, 400),  # under the size limit, nested past the parser's depth
    (b"[" * 100000 + b"]" * 100000, 413),
    (json.dumps({"question": "a" * (2 * 1024 * 1024)}).encode(), 413),
])
def test_malformed_bodies_get_a_4xx_with_a_message(server, raw: bytes, status: int):
    got, body, _ = server.request("POST", "/ask", raw)
    assert got == status
    detail = json.loads(body)["detail"]
    assert detail and "sys." not in detail  # says what is wrong with the body, not how Python is set up


@pytest.mark.parametrize("query", ["/ask", "/ask?q=", "/ask?q=NATO&k=0", "/ask?q=NATO&k=abc", "/ask?q=NATO&k=51",
                                   "/ask?q=NATO&k=5_0", "/ask?q=NATO&k=1_0&k=1",
                                   "/ask?q=%00", "/ask?q=" + "a" * 1001, "/ask?q=%FF%FE+NATO"])
def test_bad_query_strings_get_a_4xx_with_a_message(server, query: str):
    status, body, _ = server.request("GET", query)
    assert 400 <= status < 500
    assert json.loads(body)["detail"]


def test_a_get_question_in_utf8_is_answered(server):
    status, body, _ = server.request("GET", "/ask?q=caf%C3%A9+NATO+%F0%9F%A4%94&k=1")
    assert status == 200 and json.loads(body)["question"] == "café NATO 🤔"


def test_emoji_only_question_is_answered(server):
    body = ask(server, "🤔🌍🚀")
    assert body["low_confidence"] is True


def test_healthz_reports_the_index(server):
    status, body = server.get_json("/healthz")
    assert status == 200
    assert body["status"] == "ok" and body["sections"] == 36 and body["articles"] == 2
    assert body["model"] == "all-MiniLM-L6-v2" and body["partner_model"] is None


@pytest.mark.parametrize("path", ["/healthz", "/"])
def test_uptime_probes_may_use_head(server, path: str):
    status, body, headers = server.request("HEAD", path)
    assert status == 200 and body == b"" and int(headers["content-length"]) > 0


def test_openapi_documents_ask_with_examples(server):
    status, spec = server.get_json("/openapi.json")
    assert status == 200
    post = spec["paths"]["/ask"]["post"]
    schema = post["requestBody"]["content"]["application/json"]["schema"]
    assert schema["properties"]["k"]["maximum"] == 50
    assert "example" in schema
    ref = post["responses"]["200"]["content"]["application/json"]["schema"]["$ref"].split("/")[-1]
    assert "example" in spec["components"]["schemas"][ref]
    status, page, _ = server.request("GET", "/docs")
    assert status == 200 and b"swagger" in page.lower()


def test_the_documented_response_example_cites_the_corpus_truly(server, seed_corpus: Path):
    """/docs shows it: its spans must index the article as a real answer's do (they were stale)."""
    _, spec = server.get_json("/openapi.json")
    example = spec["components"]["schemas"]["AskResponse"]["example"]
    passage = example["passages"][0]
    answer, citation = passage["answer"], passage["citation"]
    text = plain_text(seed_corpus, citation["doc"])
    assert text[answer["start"] : answer["end"]] == answer["text"]
    assert citation["start"] <= answer["start"] < answer["end"] <= citation["end"]
    assert text[citation["start"] :].startswith(passage["text"].removesuffix(" ..."))
    assert example["notices"][0]["text"] in text


def test_redoc_which_would_need_a_cdn_leads_to_the_offline_docs(server):
    status, page, _ = server.request("GET", "/redoc")  # urllib follows the redirect
    assert status == 200 and b"/docs-assets/swagger-ui-bundle.js" in page
    assert b"cdn." not in page.lower()


def test_the_api_docs_page_needs_no_internet(server):
    """Swagger UI's files come from the server, not a CDN, so /docs works on a machine offline."""
    status, page, _ = server.request("GET", "/docs")
    assert status == 200 and b"https://" not in page and b"http://" not in page
    for asset in re.findall(r'(?:src|href)="(/[^"]+)"', page.decode()):
        status, body, headers = server.request("GET", asset)
        assert status == 200 and len(body) > 100, asset
    assert b"/docs-assets/swagger-ui-bundle.js" in page


def test_cli_ask_json_prints_exactly_the_http_body(server, seed_index: Path):
    for question in ("What does Article 5 say", "How do countries share intelligence securely?"):
        status, http_body, _ = server.request("GET", f"/ask?q={question.replace(' ', '+')}&k=5")
        cli = subprocess.run([sys.executable, "-m", "qa", "ask", question, "--json", "--index", str(seed_index)],
                             capture_output=True, timeout=300)
        assert cli.returncode == 0, cli.stderr
        assert cli.stdout == http_body + b"\n"  # byte for byte: separators, escapes and all


def test_requests_carry_an_id_and_are_counted_in_metrics(server):
    status, _, headers = server.request("GET", "/ask?q=NATO", headers={"X-Request-ID": "test-id-123"})
    assert status == 200 and headers.get("x-request-id") == "test-id-123"
    # An id that isn't ASCII would come back garbled: the server gives its own instead.
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    conn.putrequest("GET", "/healthz")
    conn.putheader("X-Request-ID", "caf\u00e9".encode("utf-8"))
    conn.endheaders()
    echoed = conn.getresponse().getheader("x-request-id")
    conn.close()
    assert echoed and re.fullmatch(r"[0-9a-f]{16}", echoed)
    status, body, _ = server.request("GET", "/metrics")
    text = body.decode()
    assert status == 200
    assert 'qa_requests_total{method="GET",route="/ask",status="200"}' in text
    assert "qa_encode_seconds_bucket" in text and "qa_index_sections 36.0" in text
