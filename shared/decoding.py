"""Turning the bytes of a document into text, whatever encoding Arabic text usually comes in.

Order: byte-order mark, then a charset the document declares, then BOM-less UTF-16 (recognised by its
NUL bytes), then strict UTF-8, then the single-byte encodings. Among single-byte candidates the one that
yields the most Arabic letters wins: Windows-1256 first, charset-normalizer's guesses after it, because
a detector alone often calls Arabic bytes Windows-1252 or similar. The detector is imported only on that
last path, so reading a UTF-8 or UTF-16 file (``rasid classify`` on the command line) does not pay for it.
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass

from shared.errors import UnreadableDocument

_BOMS = (
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
# Share of NUL bytes on one side of the pairs (and none on the other) that marks BOM-less UTF-16:
# spaces, digits and punctuation in Arabic text are ASCII, whose high byte is NUL.
_UTF16_NUL_SHARE = 0.05
_FALLBACK_ENCODING = "cp1256"
_DETECTOR_CANDIDATES = 5


@dataclass(frozen=True)
class Decoded:
    """Text decoded from bytes, and the encoding that decoded it."""

    text: str
    encoding: str


def decode_bytes(data: bytes, *, declared: str | None = None) -> Decoded:
    """Decode ``data``; raise :class:`UnreadableDocument` when it is empty, binary or undecodable."""
    if not data.strip():
        raise UnreadableDocument("the file is empty")
    decoded = _decode_by_bom(data) or _decode_declared(data, declared) or _decode_utf16_by_nuls(data)
    if decoded is None and b"\x00" in data:
        raise UnreadableDocument("the file contains NUL bytes: it looks like a binary file, not text")
    decoded = decoded or _decode_strict(data, "utf-8") or _decode_single_byte(data)
    if "\x00" in decoded.text:
        raise UnreadableDocument("the decoded text contains NUL characters: it looks like a binary file")
    return decoded


# A letter (``[^\W\d_]``) in the Arabic, Arabic Supplement or presentation-form blocks.
_ARABIC_LETTER = re.compile("(?=[^\\W\\d_])[\u0600-\u06ff\u0750-\u077f\ufb50-\ufefc]")


def arabic_letter_count(text: str) -> int:
    """How many Arabic letters (not digits or punctuation) ``text`` holds."""
    return len(_ARABIC_LETTER.findall(text))


def _decode_by_bom(data: bytes) -> Decoded | None:
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            decoded = _decode_strict(data, encoding)
            if decoded is None:
                reason = f"the file starts with a {encoding} byte-order mark but is not {encoding}"
                raise UnreadableDocument(reason)
            return decoded
    return None


def _decode_declared(data: bytes, declared: str | None) -> Decoded | None:
    if not declared:
        return None
    try:
        encoding = codecs.lookup(declared).name
    except LookupError:
        return None
    return _decode_strict(data, encoding)


def _decode_utf16_by_nuls(data: bytes) -> Decoded | None:
    if len(data) < 4 or len(data) % 2:
        return None
    even_nuls = data[0::2].count(0) / (len(data) / 2)
    odd_nuls = data[1::2].count(0) / (len(data) / 2)
    if odd_nuls >= _UTF16_NUL_SHARE and even_nuls == 0:
        return _decode_strict(data, "utf-16-le")
    if even_nuls >= _UTF16_NUL_SHARE and odd_nuls == 0:
        return _decode_strict(data, "utf-16-be")
    return None


def _decode_strict(data: bytes, encoding: str) -> Decoded | None:
    try:
        return Decoded(text=data.decode(encoding), encoding=encoding)
    except (UnicodeDecodeError, LookupError):
        return None


def _decode_single_byte(data: bytes) -> Decoded:
    from charset_normalizer import from_bytes  # about 25 ms to import: only files that need it pay

    candidates = [_decode_strict(data, _FALLBACK_ENCODING)]
    guesses = list(from_bytes(data))[:_DETECTOR_CANDIDATES]
    candidates += [_decode_strict(data, match.encoding) for match in guesses]
    decoded = [candidate for candidate in candidates if candidate is not None]
    if not decoded:
        raise UnreadableDocument("the file could not be decoded as text in any known encoding")
    # max() keeps the first of equals, so Windows-1256 wins ties.
    return max(decoded, key=lambda candidate: arabic_letter_count(candidate.text))
