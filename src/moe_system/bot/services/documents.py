"""The text of a document a user sends (`document_text`): .txt and .md as UTF-8, or as Windows-1251 (common for
Russian text files) when they are not UTF-8; .pdf through pypdf (its text layer: a scan has none)."""

from __future__ import annotations

import io
import logging
from pathlib import PurePath

SUFFIXES = (".txt", ".md", ".pdf")


class UnreadableDocument(ValueError):
    """A document the bot cannot read; the message says why, for the user."""


def document_text(name: str, data: bytes) -> str:
    """The text of the document `name` (its suffix says the format) whose bytes are `data`."""
    suffix = PurePath(name).suffix.lower()
    if suffix not in SUFFIXES:
        raise UnreadableDocument(f"I read {', '.join(SUFFIXES)} files; {name} is not one of them.")
    text = _pdf_text(name, data) if suffix == ".pdf" else _plain_text(name, data)
    if not text.strip():
        raise UnreadableDocument(f"{name} has no text I can read" + (" (a scanned PDF has only images)."
                                                                      if suffix == ".pdf" else "."))
    return text


def _plain_text(name: str, data: bytes) -> str:
    if b"\x00" in data:
        raise UnreadableDocument(f"{name} is not a text file (it holds binary data).")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("cp1251", errors="replace")


def _pdf_text(name: str, data: bytes) -> str:
    from pypdf import PdfReader
    from pypdf.errors import PyPdfError

    logging.getLogger("pypdf").setLevel(logging.ERROR)  # its warnings on odd but readable files are not the user's
    try:
        reader = PdfReader(io.BytesIO(data))
        encrypted = reader.is_encrypted
        pages = [] if encrypted else [page.extract_text() or "" for page in reader.pages]
    except (PyPdfError, ValueError, KeyError, TypeError) as error:  # what pypdf raises on a damaged file
        raise UnreadableDocument(f"{name} is not a PDF I can read ({type(error).__name__}).") from None
    if encrypted:
        raise UnreadableDocument(f"{name} is encrypted: send it without a password.")
    return "\n\n".join(pages)
