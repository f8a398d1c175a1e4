"""Render a `Document` as a PDF that shows Chinese correctly, with fpdf2.

Place: called by the mail transport (e-mail attachments, fax pages) in a worker thread.
Text is set in a CJK TrueType font embedded as a subset (so every reader shows it, and
text extraction gives back the characters): `IVR_PDF_FONT` if set, else WenQuanYi Zen Hei
(Debian's fonts-wqy-zenhei, a TrueType collection: fpdf2 reads its first face), else
whatever `fc-match` offers for Chinese. One face only (headings differ by size and shading):
parsing and subsetting a CJK font is most of the 0.5-1 s of CPU one PDF takes. Numeric
table columns are right-aligned.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import subprocess
from collections.abc import Mapping
from pathlib import Path

from fpdf import FPDF, FontFace
from fpdf.enums import Align, TableCellFillMode

from ivr.adapters.errors import ConfigError
from ivr.adapters.messaging.documents import Document, Section, Table

FONT_ENV = "IVR_PDF_FONT"
KNOWN_FONTS = (
    Path("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc"),
    Path("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc"),
    Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"),
)
FAMILY = "cjk"
_NUMBER = re.compile(r"[-+]?[\d,]*\.?\d+%?")

logging.getLogger("fontTools.subset").setLevel(logging.ERROR)  # "BDF NOT subset" notes per PDF


def find_cjk_font(env: Mapping[str, str] | None = None) -> Path:
    """The font file PDFs are set in; `ConfigError` when the machine has none."""
    given = (os.environ if env is None else env).get(FONT_ENV)
    if given:
        if Path(given).is_file():
            return Path(given)
        raise ConfigError(f"{FONT_ENV}={given}: no such font file")
    for path in KNOWN_FONTS:
        if path.is_file():
            return path
    matched = _fc_match()
    if matched is not None:
        return matched
    raise ConfigError(
        "no Chinese font for PDF documents: install fonts-wqy-zenhei (scripts/install-system-deps.sh) "
        f"or set {FONT_ENV} to a TrueType font file"
    )


def render_pdf(document: Document, font: Path) -> bytes:
    """The document as PDF bytes (A4, title, subtitle, paragraphs, sections, tables)."""
    pdf = _Pdf(document.title)
    pdf.add_font(FAMILY, fname=str(font))  # one face: loading a CJK font is most of the cost
    pdf.set_title(document.title)
    pdf.set_creator("ivr")
    pdf.add_page()
    _heading(pdf, document.title, 16)
    if document.subtitle:
        _paragraph(pdf, document.subtitle, 11)
    for text in document.paragraphs:
        _paragraph(pdf, text, 10.5)
    for section in document.sections:
        _section(pdf, section)
    if document.footer:
        pdf.ln(4)
        _paragraph(pdf, document.footer, 9)
    return bytes(pdf.output())


class _Pdf(FPDF):
    def __init__(self, title: str) -> None:
        super().__init__(format="A4")
        self._title = title
        self.set_auto_page_break(auto=True, margin=18)
        self.set_margins(18, 18, 18)

    def footer(self) -> None:
        self.set_y(-12)
        self.set_font(FAMILY, size=8)
        self.cell(0, 6, f"{self._title}  ·  {self.page_no()}/{{nb}}", align=Align.C)


def _heading(pdf: FPDF, text: str, size: float) -> None:
    pdf.set_font(FAMILY, size=size)
    pdf.multi_cell(0, size * 0.55, text, new_x="LMARGIN", new_y="NEXT")
    pdf.ln(2)


def _paragraph(pdf: FPDF, text: str, size: float) -> None:
    pdf.set_font(FAMILY, size=size)
    pdf.multi_cell(0, size * 0.5, text, new_x="LMARGIN", new_y="NEXT")
    pdf.ln(2)


def _section(pdf: FPDF, section: Section) -> None:
    pdf.ln(2)
    if section.heading:
        _heading(pdf, section.heading, 12)
    for text in section.paragraphs:
        _paragraph(pdf, text, 10.5)
    if section.table is not None:
        _table(pdf, section.table)
        pdf.ln(3)


def _table(pdf: FPDF, table: Table) -> None:
    pdf.set_font(FAMILY, size=9)
    align = tuple(Align.R if _numeric(table, i) else Align.L for i in range(len(table.columns)))
    with pdf.table(
        text_align=align,
        headings_style=FontFace(emphasis=None, fill_color=(225, 225, 225)),
        cell_fill_color=(247, 247, 247),
        cell_fill_mode=TableCellFillMode.ROWS,
        line_height=5,
        first_row_as_headings=True,
    ) as grid:
        for row in (table.columns, *table.rows):
            cells = grid.row()
            for value in row:
                cells.cell(value)


def _numeric(table: Table, column: int) -> bool:
    values = [row[column] for row in table.rows if row[column]]
    return bool(values) and all(_NUMBER.fullmatch(v.replace(" ", "")) for v in values)


def _fc_match() -> Path | None:
    if shutil.which("fc-match") is None:
        return None
    try:
        found = subprocess.run(
            ["fc-match", "-f", "%{file}", ":lang=zh"], capture_output=True, text=True, timeout=10, check=False
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    path = Path(found) if found else None
    return (
        path
        if path is not None and path.suffix.lower() in (".ttf", ".ttc", ".otf") and path.is_file()
        else None
    )
