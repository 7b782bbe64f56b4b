"""The evaluation report as a PDF: the record a validation file or a document system keeps.

The same rows as the HTML page (:mod:`inspector.reports.evaluation_rows`) and
the same explanations, the acceptance verdict first, then the charts and
example overlays the evaluation drew, on A4 pages with searchable fonts
(:mod:`inspector.reports.pdf_pages`). Long values (paths, hashes, software
versions) wrap inside their column, a table longer than the page continues
on the next one, a figure is scaled to fit a page, and every text is taken
literally (a ``$`` in a file name is not maths).
"""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import matplotlib.image
from matplotlib.figure import Figure

from inspector.reports.evaluation_rows import CLASS_HEADER, evaluation_rows
from inspector.reports.figure_text import percent_or_na
from inspector.reports.pdf_pages import A4, column_widths, draw_table, pdf_document

if TYPE_CHECKING:
    from matplotlib.backends.backend_pdf import PdfPages

    from inspector.reports.evaluation_report import Evaluated, QualitySummary

LEFT, VALUE_X, RIGHT, TOP, BOTTOM = 0.07, 0.36, 0.93, 0.95, 0.05
"""Page layout in figure fractions: margins and where a row's value starts."""
LINE = 0.0135
"""Height of one 8-point text line, as a fraction of the A4 page."""
TABLE_ROW = 1.9 * LINE
"""Height of one table row."""
LABEL_CHARS, VALUE_CHARS, LINE_CHARS, CAPTION_CHARS = 30, 68, 110, 58
"""Characters per line: a row's label and value columns and a full-width line at 8
points, an example's caption at 7 points."""
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
            self._page.text(LEFT, 0.975, self._title, fontsize=7, color="#59636e", parse_math=False)
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
        """A section title, on a page that also has ``keep_with`` room for what follows."""
        own = 2.2 * LINE if size <= 12 else 3 * LINE
        page = self.room(own + min(keep_with, TOP - BOTTOM - own))
        top = self.take(own)
        page.text(
            LEFT, top, text, fontsize=size, weight="bold", va="top", color=colour, parse_math=False
        )

    def lines(self, texts: Sequence[str], *, colour: str = "#1b1f24") -> None:
        for text in texts:
            wrapped = textwrap.wrap(text, LINE_CHARS) or [""]
            page = self.room(len(wrapped) * LINE)
            top = self.take((len(wrapped) + 0.4) * LINE)
            page.text(
                LEFT, top, "\n".join(wrapped), fontsize=8, va="top", color=colour, parse_math=False
            )

    def rows(self, rows: Sequence[tuple[str, str]]) -> None:
        """Label and value pairs, each wrapped in its column; a pair never splits."""
        for label, value in rows:
            left = textwrap.wrap(label, LABEL_CHARS) or [""]
            right = _wrap(value, VALUE_CHARS)
            height = (max(len(left), len(right)) + 0.5) * LINE
            page = self.room(height)
            top = self.take(height)
            page.text(
                LEFT, top, "\n".join(left), fontsize=8, va="top", weight="bold", parse_math=False
            )
            page.text(VALUE_X, top, "\n".join(right), fontsize=8, va="top", parse_math=False)

    def table(self, header: Sequence[str], cells: Sequence[Sequence[str]]) -> None:
        """A table, continued on the next page (header repeated) when it is too long."""
        widths = column_widths(header, cells)
        rest = list(cells)
        while rest:
            page = self.room(3 * TABLE_ROW)
            fits = max(1, int((self._y - BOTTOM) / TABLE_ROW) - 1)
            chunk, rest = rest[:fits], rest[fits:]
            height = (len(chunk) + 1) * TABLE_ROW
            top = self.take(height + LINE)
            axes = page.add_axes((LEFT, top - height, RIGHT - LEFT, height))
            draw_table(axes, header, chunk, widths=widths)

    def image(self, path: Path, width: float = RIGHT - LEFT) -> None:
        """A PNG the evaluation wrote, ``width`` of the page at most, aspect kept, on one page."""
        pixels = matplotlib.image.imread(str(path))
        width, height = _fitted(pixels, width, TOP - BOTTOM - 2 * LINE)
        page = self.room(height)
        top = self.take(height + LINE)
        axes = page.add_axes((LEFT, top - height, width, height))
        axes.imshow(pixels)
        axes.set_axis_off()

    def figures(self, out_dir: Path, items: Sequence[tuple[str, Evaluated]]) -> None:
        """Example overlays two to a row, each with its file, class, score and verdict."""
        column_width = (RIGHT - LEFT - 0.04) / 2
        shown = [(out_dir / name, item) for name, item in items if (out_dir / name).is_file()]
        for start in range(0, len(shown), 2):
            pair = shown[start : start + 2]
            loaded = [matplotlib.image.imread(str(path)) for path, _ in pair]
            sizes = [_fitted(pixels, column_width, EXAMPLE_HEIGHT) for pixels in loaded]
            captions = [
                _wrap(
                    f"{item.path.name} ({item.defect_class}): score {item.score:.4g}, "
                    f"{item.verdict.value}",
                    CAPTION_CHARS,
                )
                for _, item in pair
            ]
            below = (max(len(c) for c in captions) + 1) * LINE
            height = max(h for _, h in sizes)
            page = self.room(height + below)
            top = self.take(height + below + LINE)
            for column, pixels in enumerate(loaded):
                x = LEFT + column * (column_width + 0.04)
                width, own = sizes[column]
                axes = page.add_axes((x, top - own, width, own))
                axes.imshow(pixels)
                axes.set_axis_off()
                page.text(
                    x,
                    top - height - 0.4 * LINE,
                    "\n".join(captions[column]),
                    fontsize=7,
                    va="top",
                    parse_math=False,
                )


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
    title = f"Evaluation of {data['model']['version']} on {Path(str(data['data']['dir'])).name}"
    metadata = {"Title": title, "Creator": "Inspector", "Subject": "model validation record"}
    destination = out_dir / "report.pdf"
    with pdf_document(destination, metadata) as pdf:
        pages = _Pages(pdf, title)
        _tables(pages, data, summary)
        _charts(pages, out_dir, data, summary)
        pages.flush()
        _examples(pages, out_dir, examples)
        pages.flush()
    return destination


def _tables(pages: _Pages, data: dict[str, Any], summary: QualitySummary) -> None:
    """Title, acceptance verdict, model, data, results and verdicts per class."""
    rows = evaluation_rows(data, summary)
    pages.heading("Model evaluation report", size=18)
    pages.lines(
        [
            f"Generated {data['created_at']} by inspector evaluate in {data['seconds']} s. "
            "Verdicts come from the live line's own inference and decision path."
        ]
    )
    _acceptance(pages, data.get("acceptance"))
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
    pages.heading("Verdicts per class (at the threshold in force)", keep_with=6 * LINE)
    pages.lines(
        [
            "For good parts the rate is the false-reject rate, for defect classes the "
            "escape rate. Pixel AUROC per class: that class's defect pixels against the "
            "defect-free pixels of its own images and of the good images."
        ]
    )
    pages.table(CLASS_HEADER, rows.classes)


def _charts(pages: _Pages, out_dir: Path, data: dict[str, Any], summary: QualitySummary) -> None:
    """The score distribution and the ROC curve the evaluation drew."""
    pages.heading("Score distribution", keep_with=0.3)
    points = " and ".join(percent_or_na(p.false_reject_rate) for p in summary.operating_points)
    pages.lines(
        [
            "One dot per image. Solid line: the threshold in force; dashed: the thresholds "
            f"that reject {points or 'n/a'} of the good parts."
        ]
    )
    pages.image(out_dir / "scores.png")
    pages.heading("ROC curve", keep_with=0.4)
    if data["roc"] is not None and (out_dir / "roc.png").is_file():
        pages.image(out_dir / "roc.png", width=0.55)
    else:
        pages.lines(["n/a: the set needs good and defective parts with a finite score."])


def _examples(
    pages: _Pages, out_dir: Path, examples: dict[str, list[tuple[str, Evaluated]]]
) -> None:
    """A few example overlays of each kind (escapes, false rejects, catches)."""
    pages.heading("Examples")
    pages.lines(
        [
            "Heat map and red outlines: what the model found; green outline: the "
            "ground-truth defect. Every image's score and verdict is in report.json."
        ]
    )
    for kind, items in examples.items():
        shown = items[:EXAMPLES_PER_KIND]
        pages.heading(f"{kind.capitalize()} ({len(shown)} shown)", keep_with=EXAMPLE_HEIGHT)
        if shown:
            pages.figures(out_dir, shown)
        else:
            pages.lines(["none"])


def _acceptance(pages: _Pages, acceptance: dict[str, Any] | None) -> None:
    """The acceptance verdict, first after the title (nothing without criteria)."""
    if not acceptance:
        return
    passed = acceptance["passed"]
    pages.heading(
        f"Acceptance criteria: {'PASS' if passed else 'FAIL'}",
        colour=PASS_COLOUR if passed else FAIL_COLOUR,
    )
    pages.lines([line.strip() for line in acceptance["said"]])
    pages.lines(["Judged on the observed rates; their 95 % intervals are in the results."])


def _fitted(pixels: Any, width: float, tallest: float) -> tuple[float, float]:
    """(width, height) in page fractions of an image ``width`` wide, aspect kept, narrowed
    so that it is at most ``tallest`` high."""
    per_width = pixels.shape[0] / pixels.shape[1] * A4[0] / A4[1]
    height = min(width * per_width, tallest)
    return height / per_width, height


def _wrap(value: str, chars: int) -> list[str]:
    """``value`` wrapped to ``chars``; a hash or path without spaces is cut where it must."""
    return textwrap.wrap(value, chars, break_long_words=True, break_on_hyphens=False) or [""]
