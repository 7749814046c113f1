"""The PDF page every Kolokol document uses (fpdf2, A4, DejaVu Sans).

DejaVu Sans has Cyrillic, ``₽`` and the narrow no-break space. The font comes from
the PyPI package ``rinoh-typeface-dejavusans`` (located without importing it);
Debian's ``fonts-dejavu-core`` is the fallback.
"""

from __future__ import annotations

import importlib.util
from functools import lru_cache
from pathlib import Path

from fpdf import FPDF
from fpdf.enums import XPos, YPos

from shared.documents.parties import OUR_COMPANY, Party

FONT = "DejaVu"
"""The family name documents select with ``pdf.set_font(FONT, ...)``."""
FONT_FILES = {"": "DejaVuSans.ttf", "B": "DejaVuSans-Bold.ttf"}
SYSTEM_FONT_DIRS = (Path("/usr/share/fonts/truetype/dejavu"), Path("/usr/share/fonts/TTF"))


@lru_cache(maxsize=1)
def font_dir() -> Path:
    """Where DejaVu Sans is: the PyPI package first, then the system's fonts."""
    spec = importlib.util.find_spec("rinoh_typeface_dejavusans")
    candidates = [Path(spec.origin).parent] if spec and spec.origin else []
    candidates.extend(SYSTEM_FONT_DIRS)
    for folder in candidates:
        if all((folder / f).is_file() for f in FONT_FILES.values()):
            return folder
    raise RuntimeError(
        "DejaVu Sans not found: pip install rinoh-typeface-dejavusans "
        "(or apt-get install fonts-dejavu-core)"
    )


class Document(FPDF):
    """An A4 page with ``Страница N из M`` in the footer."""

    def footer(self) -> None:
        self.set_y(-12)
        self.set_font(FONT, size=7)
        self.cell(0, 5, f"Страница {self.page_no()} из {{nb}}", align="C")


def new_document(title: str) -> Document:
    """An A4 document with our margins and fonts, authored by us, on its first page."""
    pdf = Document(format="A4")
    pdf.set_margins(15, 15, 15)
    pdf.set_auto_page_break(auto=True, margin=18)
    folder = font_dir()
    for style, file in FONT_FILES.items():
        pdf.add_font(FONT, style, str(folder / file))
    pdf.set_title(title)
    pdf.set_author(OUR_COMPANY.legal_name)
    pdf.add_page()
    return pdf


def parties_block(pdf: FPDF, *, ours: str, theirs: str, client: Party) -> None:
    """Our company and the client side by side, each under its role (``ours``/``theirs``).

    Each column lists the legal name, INN (and KPP), address and e-mail it has.
    """
    width = (pdf.w - pdf.l_margin - pdf.r_margin) / 2
    top = pdf.get_y()
    for i, (title, party) in enumerate(((ours, OUR_COMPANY), (theirs, client))):
        pdf.set_xy(pdf.l_margin + i * width, top)
        pdf.set_font(FONT, "B", 9)
        pdf.multi_cell(width - 4, 5, title, new_x=XPos.LEFT, new_y=YPos.NEXT)
        pdf.set_font(FONT, size=9)
        details = [party.legal_name, f"ИНН {party.inn}"]
        if party.kpp:
            details[-1] += f", КПП {party.kpp}"
        if party.address:
            details.append(party.address)
        if party.email:
            details.append(party.email)
        pdf.multi_cell(width - 4, 5, "\n".join(details), new_x=XPos.LEFT, new_y=YPos.NEXT)
    pdf.set_xy(pdf.l_margin, max(pdf.get_y(), top + 30))
    pdf.ln(2)
