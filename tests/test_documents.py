"""GET /documents and /documents/{doc} on a real server over the seed index."""

from __future__ import annotations

import json
import urllib.parse
from pathlib import Path

import pytest

from conftest import Server, plain_text

NATO_QUESTION = "What does Article 5 of NATO say?"


def seed_docs(seed_corpus: Path) -> list[str]:
    return sorted(p.name for p in seed_corpus.iterdir() if p.is_file())


def get_document(server: Server, doc: str) -> dict:
    status, body = server.get_json("/documents/" + urllib.parse.quote(doc))
    assert status == 200, body
    return body


def test_list_names_every_seed_article_with_title_notice_and_sections(server: Server, seed_corpus: Path) -> None:
    status, body = server.get_json("/documents")
    assert status == 200
    listed = body["documents"]
    assert [d["doc"] for d in listed] == seed_docs(seed_corpus)
    for d in listed:
        assert d["title"] in plain_text(seed_corpus, d["doc"]).split("\n")  # a whole line of the file
        assert d["notice"] and d["notice"] in plain_text(seed_corpus, d["doc"])
        assert d["format"] == "txt"
        assert d["sections"] > 1
    _, health = server.get_json("/healthz")
    assert sum(d["sections"] for d in listed) == health["sections"]


def test_document_text_is_the_corpus_files_plain_text(server: Server, seed_corpus: Path) -> None:
    for doc in seed_docs(seed_corpus):
        article = get_document(server, doc)
        assert article["doc"] == doc
        assert article["text"] == plain_text(seed_corpus, doc)
        assert article["format"] == "txt"
        assert article["notice"] in article["text"]
        assert len(article["sections"]) == next(
            d["sections"] for d in server.get_json("/documents")[1]["documents"] if d["doc"] == doc)


def test_sections_are_ordered_spans_that_follow_their_headings(server: Server, seed_corpus: Path) -> None:
    for doc in seed_docs(seed_corpus):
        article = get_document(server, doc)
        text, sections = article["text"], article["sections"]
        previous_end = 0
        for section in sections:
            assert previous_end <= section["start"] < section["end"] <= len(text)
            body = text[section["start"]:section["end"]]
            assert body.strip(), f"empty section {section['heading']!r}"
            if section["heading"]:
                # The heading is the last line before its body.
                assert text[:section["start"]].rstrip("\n").endswith(section["heading"])
            previous_end = section["end"]
        assert not any(s["heading"].startswith("See also") for s in sections)


def test_ask_citations_slice_back_out_of_the_document(server: Server) -> None:
    status, answer = server.get_json("/ask?" + urllib.parse.urlencode({"q": NATO_QUESTION, "k": 5}))
    assert status == 200
    for passage in answer["passages"]:
        citation = passage["citation"]
        article = get_document(server, citation["doc"])
        spans = {(s["heading"], s["start"], s["end"]) for s in article["sections"]}
        assert (citation["section"], citation["start"], citation["end"]) in spans
        body = article["text"][citation["start"]:citation["end"]]
        assert article["text"][passage["answer"]["start"]:passage["answer"]["end"]] == passage["answer"]["text"]
        for line in passage["text"].split("\n"):
            assert line in body
    top = answer["passages"][0]
    assert top["citation"]["section"] == "NATO’s Collective Defense Mechanism"


def test_unknown_doc_is_a_json_404(server: Server) -> None:
    status, body, headers = server.request("GET", "/documents/no_such_article.txt")
    assert status == 404
    assert headers["content-type"].startswith("application/json")
    detail = json.loads(body)["detail"]
    assert "no_such_article.txt" in detail and "/documents" in detail


@pytest.mark.parametrize(
    "path",
    [
        "/documents/../../etc/passwd",
        "/documents/..%2F..%2F..%2Fetc%2Fpasswd",
        "/documents/%2e%2e/%2e%2e/etc/passwd",
        "/documents/%252e%252e%252fetc%252fpasswd",
        "/documents/..%5C..%5Cetc%5Cpasswd",
        "/documents//etc/passwd",
        "/documents/%2Fetc%2Fpasswd",
        "/documents/./000_ccd1cb8f005a164f.txt",
        "/documents/corpus/000_ccd1cb8f005a164f.txt",
        "/documents/000_ccd1cb8f005a164f.txt/",
        "/documents/000_ccd1cb8f005a164f.txt%00",
        "/documents/%00",
        "/documents/" + "a" * 5000,
    ],
)
def test_traversal_and_odd_ids_never_read_a_file(server: Server, path: str) -> None:
    status, body, headers = server.request("GET", path)
    assert status in (404, 422), (path, status)
    assert headers["content-type"].startswith("application/json")
    detail = json.loads(body)["detail"]
    assert isinstance(detail, str) and detail
    assert "root:" not in body.decode("utf-8", "replace")


def test_absolute_path_of_an_existing_corpus_file_is_not_a_doc(server: Server, seed_corpus: Path) -> None:
    doc = seed_docs(seed_corpus)[0]
    absolute = str((seed_corpus / doc).resolve())
    for path in ("/documents/" + absolute, "/documents/" + urllib.parse.quote(absolute, safe="")):
        status, body, _ = server.request("GET", path)
        assert status == 404, path
        assert plain_text(seed_corpus, doc)[:200] not in body.decode("utf-8", "replace")


def test_nul_byte_is_refused_with_a_message(server: Server) -> None:
    status, body = server.get_json("/documents/000_ccd1cb8f005a164f.txt%00.txt")
    assert status == 422
    assert "NUL" in body["detail"]


def test_openapi_documents_the_document_schemas(server: Server) -> None:
    status, spec = server.get_json("/openapi.json")
    assert status == 200
    assert {"/documents", "/documents/{doc}"} <= set(spec["paths"])
    schemas = spec["components"]["schemas"]
    assert {"Document", "DocumentList", "DocumentSection", "DocumentSummary"} <= set(schemas)
    assert set(schemas["Document"]["properties"]) == {"doc", "title", "notice", "format", "text", "sections"}
