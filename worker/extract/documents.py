"""Text of single documents: plain text and Markdown, Word (.docx) and PDF.

Every reader takes the file's bytes and a display name and raises
:class:`schema.errors.InputFileError` naming the file and the problem: empty, binary,
encrypted, damaged, a zip bomb, a scanned PDF with no text layer.
"""

from __future__ import annotations

import io
import logging
import re

from defusedxml import ElementTree
from defusedxml.common import DefusedXmlException

from schema.errors import InputFileError
from worker.extract.tables import check_zip
from worker.extract.text import decode_text

DOCUMENT_SUFFIXES = (".txt", ".md", ".docx", ".pdf")
_W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
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
            root = ElementTree.fromstring(archive.read(part), forbid_dtd=True)
        except (ElementTree.ParseError, DefusedXmlException) as exc:
            raise InputFileError(f"{name}: damaged Word document ({part}: {exc})") from exc
        for paragraph in root.iter(f"{_W}p"):
            pieces = []
            for node in paragraph.iter():
                if node.tag == f"{_W}t" and node.text:
                    pieces.append(node.text)
                elif node.tag == f"{_W}tab":
                    pieces.append("\t")
                elif node.tag in (f"{_W}br", f"{_W}cr"):
                    pieces.append("\n")
            paragraphs.append("".join(pieces))
    return "\n".join(paragraphs)


def read_pdf(name: str, raw: bytes, max_pages: int) -> str:
    """Text layer of every page; refuses encrypted, damaged and image-only PDFs."""
    from pypdf import PdfReader
    from pypdf.errors import DependencyError, FileNotDecryptedError, PdfReadError

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
    except (PdfReadError, ValueError, KeyError, TypeError, AttributeError, OSError) as exc:
        raise InputFileError(f"{name}: damaged or unreadable PDF ({exc})") from exc
    except RecursionError as exc:
        raise InputFileError(f"{name}: damaged PDF (object references loop)") from exc
    if not text.strip():
        raise InputFileError(
            f"{name}: the PDF has no text layer (a scan?); run OCR on it first and resubmit"
        )
    return text
