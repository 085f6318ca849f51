"""Messy corpora through the real CLI: every bad file is skipped with a warning naming it, good files are kept."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

import qa
from qa.articles import MAX_FILE_BYTES, Skipped, iter_corpus

from conftest import run_cli, write_corpus

GOOD = {
    "lighthouse.txt": "Lighthouses\n\nKeepers\nA lighthouse keeper tends the lamp through the night.\n",
    "deep/a/b/c/nested.txt": "Nested Article\n\nOrchards\nThe orchard in the deepest folder grows quinces.\n",
    "crlf.txt": "Windows Article\r\n\r\nHarbours\r\nThe harbour master logs every ship.\r\nTides are checked.\r\n",
    "bom.txt": "\ufeffBom Article\n\nGlaciers\nGlaciers carve valleys over millennia.\n",
    "noheadings.txt": "plain notes without any heading. the beekeeper counts hives every morning.\n",
}
BAD = {  # file -> what the warning must say
    "empty.txt": "no text",
    "blank.txt": "no text",
    "notice_only.txt": "no text",
    "binary.txt": "binary",
    "latin1.txt": "not valid UTF-8",
    "huge.txt": "over the limit",
    "notes.pdf": "unsupported extension",
    "README": "unsupported extension",
    "data.json": "unsupported extension",
    "loop_a.txt": "broken symbolic link",
    "dangling.txt": "broken symbolic link",
    "gone": "broken symbolic link",  # a link to a missing folder: not "unsupported extension"
    "pipe.txt": "not a regular file",
}
REPEATED = ("Repeated Part\n" + "The archive keeps weather records from every coastal station in the region. " * 40
            + "\n\n")
BIG_BYTES = 3 * 1024 * 1024
HUGE_BYTES = 50 * 1024 * 1024


def messy_corpus(root: Path) -> Path:
    """Good articles among every kind of bad file, with a 50 MB file and a few-MB one."""
    write_corpus(root, {
        **GOOD,
        "empty.txt": b"",
        "blank.txt": "\n \n\t\n",
        "notice_only.txt": "⚠️ Please note: AI tools were used in crafting this content.\n",
        "binary.txt": b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)),
        "latin1.txt": "Caf\u00e9 Article\n\nMen\u00fa\nLe caf\u00e9 est tr\u00e8s bon.\n".encode("latin-1"),
        "notes.pdf": b"%PDF-1.4 not an article",
        "README": "Readme Title\n\nUsage\nRun the thing.\n",
        "data.json": '{"title": "not an article"}',
        ".hidden.txt": "Hidden Article\n\nSecrets\nThe hidden file talks about submarines.\n",
        ".git/notes.txt": "Git Notes\n\nInternals\nObjects are stored by hash.\n",
        "oneline.txt": "Tide tables are printed every week for the harbour. " * 20000
        + "The lantern oil is stored in the cellar.",
    })
    with open(root / "big.txt", "w", encoding="utf-8") as fh:  # a few MB that must be indexed
        fh.write("Weather Archive\n\n")
        fh.write(REPEATED * (BIG_BYTES // len(REPEATED) + 1))
        fh.write("Vault Codes\nThe vault under the archive opens with the code 4471.\n")
    with open(root / "huge.txt", "wb") as fh:  # 50 MB: over the per-article limit
        block = (REPEATED * 100).encode()
        for _ in range(HUGE_BYTES // len(block) + 1):
            fh.write(block)
        fh.truncate(HUGE_BYTES)
    (root / "loop_a.txt").symlink_to("loop_b.txt")
    (root / "loop_b.txt").symlink_to("loop_a.txt")
    (root / "dangling.txt").symlink_to("nowhere.txt")
    (root / "gone").symlink_to("missing-folder", target_is_directory=True)
    (root / "deep" / "a" / "back").symlink_to("..", target_is_directory=True)  # a directory loop
    os.mkfifo(root / "pipe.txt")
    return root


@pytest.fixture(scope="module")
def messy(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, object]:
    """The messy corpus indexed once through `qa index`: (corpus, index, completed process)."""
    root = tmp_path_factory.mktemp("messy")
    corpus = messy_corpus(root / "corpus")
    index = root / "index"
    done = run_cli("index", "--corpus", str(corpus), "--index", str(index), "--quiet", timeout=240)
    return corpus, index, done


def test_the_build_succeeds_and_names_every_skipped_file(messy):
    corpus, index, done = messy
    assert done.returncode == 0, done.stderr[-2000:]
    assert "Traceback" not in done.stderr
    warnings = {m.group(1): m.group(2) for m in re.finditer(r"^qa: warning: skipped (\S+): (.*)$", done.stderr, re.M)}
    for doc, reason in BAD.items():
        assert doc in warnings, f"no warning for {doc}:\n{done.stderr}"
        assert reason in warnings[doc], warnings[doc]
    assert "loop_b.txt" in warnings
    assert "50.0 MiB" in warnings["huge.txt"] and "QA_MAX_ARTICLE_BYTES" in warnings["huge.txt"]


def test_every_good_file_is_indexed_and_nothing_else(messy):
    _, index, _ = messy
    searcher = qa.load(index)
    docs = {a.doc for a in searcher.reader.articles()}
    # Hidden files and folders are left out silently, like `ls` and git do; the directory loop is walked once.
    assert docs == {*GOOD, "big.txt", "oneline.txt"}


def test_line_endings_and_byte_order_marks_are_handled(messy):
    _, index, _ = messy
    searcher = qa.load(index)
    record, text, sections = searcher.reader.article("crlf.txt")
    assert "\r" not in text and [s.heading for s in sections] == ["Harbours"]
    assert sections[0].text == "The harbour master logs every ship.\nTides are checked."
    record, text, sections = searcher.reader.article("bom.txt")
    assert record.title == "Bom Article" and sections[0].heading == "Glaciers"
    assert "\ufeff" not in record.title + sections[0].text
    record, text, sections = searcher.reader.article("noheadings.txt")
    assert [s.heading for s in sections] == [""] and record.title == "noheadings"


def test_big_files_are_searchable_to_their_end(messy):
    _, index, _ = messy
    searcher = qa.load(index)
    _, text, sections = searcher.reader.article("big.txt")
    assert len(text) > BIG_BYTES and len(sections) > 500
    top = searcher.ask("What code opens the vault under the archive?", k=3).passages
    assert any(p.citation.doc == "big.txt" and p.citation.section == "Vault Codes" for p in top)
    top = searcher.ask("Where is the lantern oil stored?", k=3).passages
    assert any(p.citation.doc == "oneline.txt" and "cellar" in p.answer.text for p in top)
    assert searcher.ask("Which folder grows quinces?", k=1).passages[0].citation.doc == "deep/a/b/c/nested.txt"


def test_a_corpus_of_only_bad_files_is_one_clear_error(tmp_path: Path):
    corpus = write_corpus(tmp_path / "corpus", {"a.txt": "Title\n\nPart\nSome text.\n", "b.bin": b"\x00"})
    done = run_cli("index", "--corpus", str(corpus), "--index", str(tmp_path / "index"),
                   env={"QA_MAX_ARTICLE_BYTES": "10"})
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert "qa: warning: skipped a.txt: 23 bytes, over the limit of 10 bytes per article" in done.stderr
    assert done.stderr.strip().splitlines()[-1] == f"qa: error: {corpus}: no articles (.txt, .md or .html files with text)"
    assert not (tmp_path / "index" / "CURRENT").exists()


def test_the_size_limit_is_a_setting(tmp_path: Path):
    corpus = write_corpus(tmp_path, {"small.txt": "Small\n\nPart\n" + "Words here. " * 100})
    assert [type(x) for x in iter_corpus(corpus)] != [Skipped] and MAX_FILE_BYTES == 5 * 1024 * 1024
    [skipped] = iter_corpus(corpus, max_bytes=100)
    assert isinstance(skipped, Skipped) and "1.2 KiB, over the limit of 100 bytes" in skipped.reason


@pytest.mark.skipif(os.geteuid() == 0, reason="running as root: file permissions do not stop root from reading")
def test_an_unreadable_file_is_skipped_and_the_rest_indexed(tmp_path: Path):
    corpus = write_corpus(tmp_path / "corpus", {"ok.txt": GOOD["lighthouse.txt"], "locked.txt": GOOD["bom.txt"]})
    (corpus / "locked.txt").chmod(0)
    try:
        done = run_cli("index", "--corpus", str(corpus), "--index", str(tmp_path / "index"), "--quiet")
    finally:
        (corpus / "locked.txt").chmod(0o644)
    assert done.returncode == 0, done.stderr
    assert "qa: warning: skipped locked.txt: cannot read (Permission denied)" in done.stderr
    assert [a.doc for a in qa.load(tmp_path / "index").reader.articles()] == ["ok.txt"]


def test_a_link_whose_target_cannot_even_be_checked_is_skipped_alone(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """A link into /proc/1 (whose cwd even root may not stat in a container) stopped the whole build."""
    corpus = write_corpus(tmp_path / "corpus", {"lighthouse.txt": GOOD["lighthouse.txt"]})
    (corpus / "locked.txt").symlink_to("/proc/1/cwd/secret.txt")
    checked = Path.exists

    def exists(self: Path, *args, **kwargs) -> bool:
        if self.name == "locked.txt":
            raise PermissionError(13, "Permission denied", str(self))
        return checked(self, *args, **kwargs)

    monkeypatch.setattr(Path, "exists", exists)
    found = list(iter_corpus(corpus))
    assert [a.doc for a in found if not isinstance(a, Skipped)] == ["lighthouse.txt"]
    assert [(s.doc, s.reason) for s in found if isinstance(s, Skipped)] == [("locked.txt", "cannot read (Permission denied)")]


def test_an_index_kept_inside_the_corpus_is_not_read_as_articles(tmp_path: Path):
    corpus = write_corpus(tmp_path / "corpus", {"ok.txt": GOOD["lighthouse.txt"]})
    for _ in range(2):  # the second build finds the first one's files in the corpus
        done = run_cli("index", "--corpus", str(corpus), "--index", str(corpus / "index"), "--quiet")
        assert done.returncode == 0, done.stderr
        assert "warning" not in done.stderr
    assert "1 unchanged" in done.stdout + done.stderr
    assert [a.doc for a in qa.load(corpus / "index").reader.articles()] == ["ok.txt"]
