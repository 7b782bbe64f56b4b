"""What every PDF record shares: A4 pages, tables, searchable fonts, a file that appears whole.

Written with matplotlib's PDF backend (no GUI toolkit, so reports are written
on a server too). Fonts are embedded as TrueType (``pdf.fonttype`` 42), which
keeps every figure and label extractable and searchable in a document
management system, as quality files need; a document is written beside its
destination and renamed into place only once complete.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path

import matplotlib
from matplotlib.axes import Axes
from matplotlib.backends.backend_pdf import PdfPages

A4 = (8.27, 11.69)  # inches, portrait


@contextmanager
def pdf_document(destination: Path, metadata: Mapping[str, str]) -> Iterator[PdfPages]:
    """A PDF whose pages are added with ``savefig``; ``destination`` is replaced only
    when the block ends without an error (a partial file never takes its name).

    Raises:
        OSError: the file cannot be written.
    """
    destination = Path(destination).absolute()
    partial = destination.with_name(f".{destination.name}.partial")
    try:
        with (
            matplotlib.rc_context({"pdf.fonttype": 42}),
            PdfPages(partial, metadata=dict(metadata)) as pdf,
        ):
            yield pdf
        os.replace(partial, destination)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise


def draw_table(
    ax: Axes,
    header: Sequence[str],
    rows: Sequence[Sequence[str]],
    *,
    fontsize: float = 9,
    widths: Sequence[float] | None = None,
) -> None:
    """A plain bordered table filling ``ax`` from its top, the header row shaded.

    Cell text is taken literally (a ``$`` in a file name or reason is not maths);
    ``widths`` are the columns' shares of the width (equal by default).
    """
    ax.set_axis_off()
    table = ax.table(
        cellText=[list(r) for r in rows],
        colLabels=list(header),
        loc="upper left",
        cellLoc="left",
        colWidths=None if widths is None else list(widths),
    )
    table.auto_set_font_size(False)
    table.set_fontsize(fontsize)
    table.scale(1, 1.4)
    for (row, _col), cell in table.get_celld().items():
        cell.set_edgecolor("#c3c9d1")
        cell.get_text().set_parse_math(False)
        if row == 0:
            cell.set_facecolor("#e9edf1")
            cell.get_text().set_weight("bold")


def column_widths(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[float]:
    """Shares of a table's width by each column's longest text, so no cell is cut."""
    longest = [
        max([len(str(h))] + [len(str(r[i])) for r in rows]) + 2 for i, h in enumerate(header)
    ]
    total = sum(longest)
    return [n / total for n in longest]
