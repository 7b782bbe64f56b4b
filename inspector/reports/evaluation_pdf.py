"""The evaluation report as a PDF: the record a validation file or a document system keeps.

The same rows as the HTML page (:mod:`inspector.reports.evaluation_rows`), the
acceptance verdict first, then the charts and example overlays the evaluation
drew, on A4 pages with searchable fonts (:mod:`inspector.reports.pdf_pages`).
Long values (paths, hashes, software versions) wrap inside their column, and
a section that does not fit continues on the next page.
"""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import matplotlib.image
from matplotlib.figure import Figure

from inspector.reports.evaluation_rows import CLASS_HEADER, evaluation_rows
from inspector.reports.pdf_pages import A4, draw_table, pdf_document

if TYPE_CHECKING:
    from matplotlib.backends.backend_pdf import PdfPages

    from inspector.reports.evaluation_report import Evaluated, QualitySummary

LEFT, VALUE_X, RIGHT, TOP, BOTTOM = 0.07, 0.36, 0.93, 0.95, 0.05
"""Page layout in figure fractions: margins and where a row's value starts."""
LINE = 0.0135
"""Height of one 8-point text line, as a fraction of the A4 page."""
LABEL_CHARS, VALUE_CHARS, LINE_CHARS = 30, 68, 110
"""Characters per line at 8 points: a row's label and value columns, a full-width line."""
PASS_COLOUR, FAIL_COLOUR = "#2e7d32", "#c62828"
EXAMPLES_PER_KIND = 4
EXAMPLE_HEIGHT = 0.3
"""Tallest example overlay, as a fraction of the page (tall parts are narrowed to fit)."""


class _Pages:
    """A cursor down A4 pages: each block takes the space it needs, or a new page."""

    def __init__(self, pdf: PdfPages, title: str) -> None:
        self._pdf, self._title = pdf, title
        self._page: Figure | None = None
        self._y = TOP

    def room(self, height: float) -> Figure:
        """The current page if ``height`` fits below the cursor, else a new one."""
        if self._page is None or self._y - height < BOTTOM:
            self.flush()
            self._page = Figure(figsize=A4)
            self._page.text(RIGHT, 0.975, self._title, fontsize=7, ha="right", color="#59636e")
            self._y = TOP
        return self._page

    def take(self, height: float) -> float:
        """Move the cursor down ``height``; the top of the space taken."""
        top = self._y
        self._y -= height
        return top

    def flush(self) -> None:
        if self._page is not None:
            self._pdf.savefig(self._page)
            self._page = None

    def heading(
        self, text: str, size: float = 12, colour: str = "#1b1f24", keep_with: float = 4 * LINE
    ) -> None:
        """A section title, on the page that also has ``keep_with`` room for what follows."""
        page = self.room(3 * LINE + keep_with)
        top = self.take(2.2 * LINE if size <= 12 else 3 * LINE)
        page.text(LEFT, top, text, fontsize=size, weight="bold", va="top", color=colour)

    def lines(self, texts: Sequence[str], *, colour: str = "#1b1f24") -> None:
        for text in texts:
            wrapped = textwrap.wrap(text, LINE_CHARS) or [""]
            page = self.room(len(wrapped) * LINE)
            top = self.take((len(wrapped) + 0.4) * LINE)
            page.text(LEFT, top, "\n".join(wrapped), fontsize=8, va="top", color=colour)

    def rows(self, rows: Sequence[tuple[str, str]]) -> None:
        """Label and value pairs, each wrapped in its column; a pair never splits."""
        for label, value in rows:
            left = textwrap.wrap(label, LABEL_CHARS) or [""]
            right = _wrap_value(value)
            height = (max(len(left), len(right)) + 0.5) * LINE
            page = self.room(height)
            top = self.take(height)
            page.text(LEFT, top, "\n".join(left), fontsize=8, va="top", weight="bold")
            page.text(VALUE_X, top, "\n".join(right), fontsize=8, va="top")

    def table(self, header: Sequence[str], cells: Sequence[Sequence[str]]) -> None:
        height = (len(cells) + 1) * 1.9 * LINE
        page = self.room(height)
        top = self.take(height + LINE)
        draw_table(page.add_axes((LEFT, top - height, RIGHT - LEFT, height)), header, cells)

    def image(self, path: Path, width: float = RIGHT - LEFT) -> None:
        """A PNG the evaluation wrote, scaled to ``width`` of the page, aspect kept."""
        if not path.is_file():
            self.lines(["(not drawn: no figure for this set)"])
            return
        pixels = matplotlib.image.imread(str(path))
        height = width * pixels.shape[0] / pixels.shape[1] * A4[0] / A4[1]
        page = self.room(height)
        top = self.take(height + LINE)
        axes = page.add_axes((LEFT, top - height, width, height))
        axes.imshow(pixels)
        axes.set_axis_off()

    def figures(self, out_dir: Path, items: Sequence[tuple[str, Evaluated]]) -> None:
        """Example overlays two to a row, each with its file, class, score and verdict."""
        column_width = (RIGHT - LEFT - 0.04) / 2
        for start in range(0, len(items), 2):
            pair = items[start : start + 2]
            loaded = [matplotlib.image.imread(str(out_dir / name)) for name, _ in pair]
            sizes = [_fitted(pixels, column_width, EXAMPLE_HEIGHT) for pixels in loaded]
            height = max(h for _, h in sizes)
            page = self.room(height + 3 * LINE)
            top = self.take(height + 3.5 * LINE)
            for column, ((_, item), pixels) in enumerate(zip(pair, loaded, strict=True)):
                x = LEFT + column * (column_width + 0.04)
                width, own = sizes[column]
                axes = page.add_axes((x, top - own, width, own))
                axes.imshow(pixels)
                axes.set_axis_off()
                caption = (
                    f"{item.path.name} ({item.defect_class}): score {item.score:.4g}, "
                    f"{item.verdict.value}"
                )
                page.text(x, top - height - 0.4 * LINE, caption, fontsize=7, va="top")


def write_evaluation_pdf(
    out_dir: Path,
    data: dict[str, Any],
    summary: QualitySummary,
    examples: dict[str, list[tuple[str, Evaluated]]],
) -> Path:
    """Write ``report.pdf`` beside the page, from the files the evaluation already wrote.

    Raises:
        OSError: the file cannot be written (no partial file is left).
    """
    rows = evaluation_rows(data, summary)
    model = data["model"]
    title = f"Evaluation of {model['version']} on {data['data']['dir']}"
    metadata = {"Title": title, "Creator": "Inspector", "Subject": "model validation record"}
    destination = out_dir / "report.pdf"
    with pdf_document(destination, metadata) as pdf:
        pages = _Pages(pdf, title)
        pages.heading("Model evaluation report", size=18)
        pages.lines(
            [
                f"Generated {data['created_at']} by inspector evaluate in {data['seconds']} s. "
                "Verdicts come from the live line's own inference and decision path."
            ]
        )
        acceptance = data.get("acceptance")
        if acceptance:
            passed = acceptance["passed"]
            pages.heading(
                f"Acceptance criteria: {'PASS' if passed else 'FAIL'}",
                colour=PASS_COLOUR if passed else FAIL_COLOUR,
            )
            pages.lines([line.strip() for line in acceptance["said"]])
        pages.heading("Model")
        pages.rows(rows.model)
        pages.heading("Data")
        pages.rows(rows.data)
        pages.heading("Results")
        pages.rows(rows.results)
        pages.lines(
            [
                "Rates at the threshold count every part, a part the model could not score "
                "with its fail-safe verdict; the rates at a false-reject rate count the parts "
                "with a finite score. Intervals are exact (Clopper-Pearson) binomial intervals."
            ]
        )
        pages.heading("Verdicts per class (at the threshold in force)")
        pages.table(CLASS_HEADER, rows.classes)
        pages.heading("Score distribution", keep_with=0.25)
        pages.image(out_dir / "scores.png")
        pages.heading("ROC curve", keep_with=0.4)
        pages.image(out_dir / "roc.png", width=0.55)
        pages.flush()
        for kind, items in examples.items():
            shown = len(items[:EXAMPLES_PER_KIND])
            pages.heading(f"Examples: {kind} ({shown} shown)", keep_with=EXAMPLE_HEIGHT)
            if items:
                pages.figures(out_dir, items[:EXAMPLES_PER_KIND])
            else:
                pages.lines(["none"])
        pages.flush()
    return destination


def _fitted(pixels: Any, width: float, tallest: float) -> tuple[float, float]:
    """(width, height) in page fractions of an image ``width`` wide, aspect kept, narrowed
    so that it is at most ``tallest`` high."""
    per_width = pixels.shape[0] / pixels.shape[1] * A4[0] / A4[1]
    height = min(width * per_width, tallest)
    return height / per_width, height


def _wrap_value(value: str) -> list[str]:
    """A value wrapped to its column; a hash or path without spaces is cut where it must."""
    return textwrap.wrap(value, VALUE_CHARS, break_long_words=True, break_on_hyphens=False) or [""]
