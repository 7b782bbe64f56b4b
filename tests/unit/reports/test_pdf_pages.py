"""The shared PDF writer: a document takes its name only when complete."""

from __future__ import annotations

from pathlib import Path

import pytest
from matplotlib.figure import Figure
from pypdf import PdfReader

from inspector.reports.pdf_pages import A4, pdf_document


def test_a_document_appears_whole_and_a_failed_one_leaves_nothing(tmp_path: Path) -> None:
    out = tmp_path / "record.pdf"
    out.write_bytes(b"the previous record")
    with pytest.raises(RuntimeError, match="drawing failed"):
        with pdf_document(out, {"Title": "t"}) as pdf:
            pdf.savefig(Figure(figsize=A4))
            raise RuntimeError("drawing failed")
    assert out.read_bytes() == b"the previous record"  # untouched
    assert sorted(p.name for p in tmp_path.iterdir()) == ["record.pdf"]  # no partial file

    with pdf_document(out, {"Title": "two pages"}) as pdf:
        for text in ("first", "second"):
            page = Figure(figsize=A4)
            page.text(0.1, 0.9, f"the {text} page")
            pdf.savefig(page)
    reader = PdfReader(out)
    assert [p.extract_text() for p in reader.pages] == ["the first page", "the second page"]
    assert reader.metadata.title == "two pages"
