"""GET /documents and /documents/{doc}: the indexed articles, their plain text and sections.

A doc id is only ever used as a key into the index's SQLite table, never as a file path,
so `../`, absolute paths and encoded tricks can only miss (404), never read a file.
"""

from __future__ import annotations

from fastapi import APIRouter, Path, Request
from pydantic import BaseModel, Field

from ..store import ArticleRecord, IndexReader, SectionRecord
from .errors import ApiError

router = APIRouter(tags=["documents"])

MAX_DOC_CHARS = 1024
"""Longer ids can't be in the index (corpus paths are short); refuse them before any lookup."""


class DocumentSummary(BaseModel):
    doc: str = Field(description="Article id: its path relative to the corpus directory.")
    title: str
    notice: str | None = Field(description="The article's disclaimer notice, verbatim; null when it has none.")
    format: str = Field(description="Source format: txt, md or html.")
    sections: int = Field(description="How many sections the article was split into.")


class DocumentList(BaseModel):
    documents: list[DocumentSummary] = Field(description="Every indexed article, ordered by doc.")


class DocumentSection(BaseModel):
    heading: str = Field(description='Section heading; "" for the introduction.')
    start: int = Field(description="Offset of the section body in the article's plain text.")
    end: int = Field(description="End offset (exclusive) of the section body.")


class Document(BaseModel):
    model_config = {
        "json_schema_extra": {
            "example": {
                "doc": "003_5980fc8c05fdc981.txt",
                "title": "Enhancing Global Stability Through Effective International Security Cooperation",
                "notice": "⚠️ Please note: AI tools were used in crafting this content. "
                "For important matters, verify through trusted means.",
                "format": "txt",
                "text": "Enhancing Global Stability Through Effective International Security Cooperation\n\n...",
                "sections": [{"heading": "", "start": 198, "end": 536}],
            }
        }
    }

    doc: str
    title: str
    notice: str | None
    format: str
    text: str = Field(description="The article's plain text; every offset in the API indexes into it.")
    sections: list[DocumentSection] = Field(description="Sections in reading order, with their spans.")


NOT_FOUND = {404: {"description": "No indexed article has this id"},
             422: {"description": "The id can't name an article (NUL byte or too long)"}}


@router.get("/documents", response_model=DocumentList, summary="List the indexed articles")
def list_documents(request: Request) -> DocumentList:
    return DocumentList(documents=[summary_of(record) for record in reader_of(request).articles()])


@router.get("/documents/{doc:path}", response_model=Document, responses=NOT_FOUND,
            summary="One article: plain text and sections")
def get_document(
    request: Request,
    doc: str = Path(description="Article id as listed by GET /documents, e.g. 003_5980fc8c05fdc981.txt"),
) -> Document:
    checked_doc_id(doc)
    found = reader_of(request).article(doc)
    if found is None:
        raise ApiError(404, f"no indexed article {short(doc)!r}; GET /documents lists them")
    record, text, sections = found
    return document_of(record, text, sections)


def reader_of(request: Request) -> IndexReader:
    """The reader of the generation being served now (it changes when a new index is swapped in)."""
    return request.app.state.engine.searcher.reader


def checked_doc_id(doc: str) -> None:
    """Refuse ids that no corpus path can have, with a 422 that says why."""
    if "\x00" in doc:
        raise ApiError(422, "doc: must not contain NUL characters")
    if len(doc) > MAX_DOC_CHARS:
        raise ApiError(422, f"doc: longer than {MAX_DOC_CHARS} characters")


def short(doc: str, limit: int = 200) -> str:
    return doc if len(doc) <= limit else doc[:limit] + "…"


def summary_of(record: ArticleRecord) -> DocumentSummary:
    return DocumentSummary(doc=record.doc, title=record.title, notice=record.notice, format=record.fmt,
                           sections=record.sections)


def document_of(record: ArticleRecord, text: str, sections: list[SectionRecord]) -> Document:
    return Document(
        doc=record.doc, title=record.title, notice=record.notice, format=record.fmt, text=text,
        sections=[DocumentSection(heading=s.heading, start=s.start, end=s.end) for s in sections],
    )
