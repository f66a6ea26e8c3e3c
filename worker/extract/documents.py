"""Text of single documents: plain text and Markdown, Word (.docx) and PDF.

Every reader takes the file's bytes and a display name and raises
:class:`schema.errors.InputFileError` naming the file and the problem: empty, binary,
encrypted, damaged, a zip bomb, a scanned PDF with no text layer.
"""

from __future__ import annotations

import io
import logging
import re
from typing import IO

from defusedxml import ElementTree

from schema.errors import InputFileError
from worker.extract.containers import PARSER_ERRORS, check_zip, damaged
from worker.extract.text import decode_text

DOCUMENT_SUFFIXES = (".txt", ".md", ".docx", ".pdf")
_W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
_P, _T = f"{_W}p", f"{_W}t"
_BREAKS = {f"{_W}tab": "\t", f"{_W}br": "\n", f"{_W}cr": "\n"}
_DOCX_PARTS = re.compile(r"^word/(document|footnotes|endnotes)\.xml$")


def read_plain(name: str, raw: bytes) -> str:
    return decode_text(raw, name)


def read_docx(name: str, raw: bytes, max_unzipped_bytes: int) -> str:
    """Paragraph text of the body (tables included), footnotes and endnotes, in order."""
    archive = check_zip(name, raw, max_unzipped_bytes)
    parts = [n for n in archive.namelist() if _DOCX_PARTS.match(n)]
    if "word/document.xml" not in parts:
        raise InputFileError(f"{name}: not a Word document (no word/document.xml inside)")
    paragraphs: list[str] = []
    for part in sorted(parts, key=lambda n: n != "word/document.xml"):
        try:
            with archive.open(part) as source:
                paragraphs += _paragraphs(source)
        except PARSER_ERRORS as exc:
            raise damaged(name, f"Word document part {part}", exc) from exc
    return "\n".join(paragraphs)


def _paragraphs(source: IO[bytes]) -> list[str]:
    """Text of each ``w:p`` in document order, in one streaming pass.

    A paragraph inside another (a text box) is a paragraph of its own, its text not
    repeated in the one around it; however deep they nest, each node is visited once.
    """
    paragraphs: list[str] = []
    open_paragraphs: list[tuple[int, list[str]]] = []  # (index in paragraphs, pieces)
    for event, node in ElementTree.iterparse(source, ("start", "end"), forbid_dtd=True):
        if event == "start":
            if node.tag == _P:
                open_paragraphs.append((len(paragraphs), []))
                paragraphs.append("")
            elif open_paragraphs and node.tag in _BREAKS:
                open_paragraphs[-1][1].append(_BREAKS[node.tag])
        elif node.tag == _T and open_paragraphs and node.text:
            open_paragraphs[-1][1].append(node.text)
        elif node.tag == _P:
            index, pieces = open_paragraphs.pop()
            paragraphs[index] = "".join(pieces)
            node.clear()
    return paragraphs


def read_pdf(name: str, raw: bytes, max_pages: int) -> str:
    """Text layer of every page; refuses encrypted, damaged and image-only PDFs."""
    from pypdf import PdfReader
    from pypdf.errors import DependencyError, FileNotDecryptedError, PyPdfError

    logging.getLogger("pypdf").setLevel(logging.ERROR)  # its warnings are about the file
    if not raw.lstrip().startswith(b"%PDF"):
        raise InputFileError(f"{name}: not a PDF file (no %PDF header)")
    try:
        reader = PdfReader(io.BytesIO(raw))
        if reader.is_encrypted and not reader.decrypt(""):
            raise InputFileError(f"{name}: the PDF is password-protected; submit an unlocked copy")
        n_pages = len(reader.pages)
        if n_pages > max_pages:
            raise InputFileError(
                f"{name}: {n_pages} pages, over the limit of {max_pages} (CENR_MAX_PDF_PAGES)"
            )
        text = "\n\n".join(page.extract_text() or "" for page in reader.pages)
    except InputFileError:
        raise
    except (FileNotDecryptedError, DependencyError) as exc:
        raise InputFileError(f"{name}: the PDF is encrypted and cannot be read ({exc})") from exc
    except RecursionError as exc:
        raise InputFileError(f"{name}: damaged PDF (object references loop)") from exc
    except (PyPdfError, *PARSER_ERRORS) as exc:
        raise InputFileError(f"{name}: damaged or unreadable PDF ({exc})") from exc
    if not text.strip():
        raise InputFileError(
            f"{name}: the PDF has no text layer (a scan, or page contents that cannot be "
            "read); run OCR on it first and resubmit"
        )
    return text
