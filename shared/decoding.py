"""Turning the bytes of a document into text, whatever encoding Arabic text usually comes in.

Order: byte-order mark, then a charset the document declares, then BOM-less UTF-16 (recognised by its
NUL bytes), then strict UTF-8, then the single-byte encodings. Among single-byte candidates the one that
yields the most Arabic letters wins: Windows-1256 first, charset-normalizer's guesses after it, because
a detector alone often calls Arabic bytes Windows-1252 or similar. The detector is imported only on that
last path, so reading a UTF-8 or UTF-16 file (``rasid classify`` on the command line) does not pay for it.

Only the text encodings in :data:`KNOWN_CHARSETS` are ever used, whatever a document declares or a
detector guesses: Python's codec registry also holds punycode (quadratic, and raising errors of its
own), UTF-7 (which turns plain ASCII into Arabic letters), rot13 and base64. A charset outside the list
is ignored, as a browser ignores an unknown label; every decoding failure is an
:class:`UnreadableDocument` with a reason.
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass

from shared.errors import UnreadableDocument

# A UTF-16 surrogate alone: JSON can escape one ("\ud800"), but it is no character, and neither UTF-8
# nor a database or a message can hold it.
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def lone_surrogate(text: str) -> str | None:
    """The first lone surrogate in ``text``, written as its escape (``\\ud800``), or None when the text
    is all characters."""
    found = _LONE_SURROGATE.search(text)
    return None if found is None else f"\\u{ord(found.group()):04x}"


# Web labels (the WHATWG Encoding Standard's, for the encodings Arabic text comes in) and the DOS
# Arabic code pages and UTF-32, mapped to the Python codec that decodes them. The standard reads ASCII
# and Latin-1 as Windows-1252, a superset of both.
_WINDOWS_1252_LABELS = (
    "ansi_x3.4-1968 ascii cp1252 cp819 csisolatin1 ibm819 iso-8859-1 iso-ir-100 iso8859-1 iso88591 "
    "iso_8859-1 iso_8859-1:1987 l1 latin1 us-ascii windows-1252 x-cp1252"
)
_ISO_8859_6_LABELS = (
    "arabic asmo-708 csiso88596e csiso88596i csisolatinarabic ecma-114 iso-8859-6 iso-8859-6-e "
    "iso-8859-6-i iso-ir-127 iso8859-6 iso88596 iso_8859-6 iso_8859-6:1987"
)
KNOWN_CHARSETS: dict[str, str] = {
    **dict.fromkeys(
        ["unicode-1-1-utf-8", "unicode11utf8", "unicode20utf8", "utf-8", "utf8", "x-unicode20utf8"], "utf-8"
    ),
    **dict.fromkeys(
        ["csunicode", "iso-10646-ucs-2", "ucs-2", "unicode", "unicodefeff", "utf-16", "utf-16le"], "utf-16-le"
    ),
    **dict.fromkeys(["unicodefffe", "utf-16be"], "utf-16-be"),
    **dict.fromkeys(["utf-32", "utf-32le"], "utf-32-le"),
    "utf-32be": "utf-32-be",
    **dict.fromkeys(["cp1256", "windows-1256", "x-cp1256"], "cp1256"),
    **dict.fromkeys(_ISO_8859_6_LABELS.split(), "iso8859-6"),
    **dict.fromkeys(["cp720", "ibm720", "dos-720"], "cp720"),
    **dict.fromkeys(["cp864", "ibm864", "dos-864"], "cp864"),
    **dict.fromkeys(_WINDOWS_1252_LABELS.split(), "cp1252"),
}
# The Python codecs those labels name (and the BOM readers'), as codecs.lookup() spells them.
_KNOWN_CODECS = frozenset(
    codecs.lookup(name).name for name in (*KNOWN_CHARSETS.values(), "utf-8-sig", "utf-16", "utf-32")
)

_BOMS = (
    (codecs.BOM_UTF8, "utf-8-sig"),
    # Before UTF-16: a UTF-32 LE mark begins with the UTF-16 LE one.
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
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


# Runs of what is not a letter (``[^\W\d_]``: digits, punctuation, spaces, marks), and of what is not
# in the Arabic, Arabic Supplement or presentation-form blocks. Removing runs costs a fraction of
# listing every letter.
_NON_LETTERS = re.compile(r"[\W\d_]+")
_NOT_ARABIC_BLOCKS = re.compile("[^\u0600-\u06ff\u0750-\u077f\ufb50-\ufefc]+")


def _is_letter(character: str) -> bool:
    return _NON_LETTERS.fullmatch(character) is None


# Most articles hold only printable ASCII, line breaks, the Arabic block and a few punctuation marks
# and spaces (the rest are counted as above). In UTF-8 a character of the Arabic block (U+0600-U+06FF)
# is the only one to begin with a byte D8-DB and an ASCII letter the only one to hold bytes A-Z, a-z,
# so counting bytes in C gives both counts, less the Arabic block's non-letters (marks, digits,
# punctuation: few in a text), found by one scan for them or for a character outside that set.
_ARABIC_BLOCK = "".join(map(chr, range(0x0600, 0x0700)))
_ARABIC_NON_LETTERS = frozenset(character for character in _ARABIC_BLOCK if not _is_letter(character))
_COUNTED_OTHERS = "".join(
    character
    for character in "\t\n\u00a0\u00ab\u00bb\u2013\u2014\u2018\u2019\u201c\u201d\u2022\u2026\u200e\u200f"
    if not _is_letter(character)
)
_SCANNED = re.compile(
    "[^ -~"
    + re.escape(_COUNTED_OTHERS)
    + "".join(character for character in _ARABIC_BLOCK if _is_letter(character))
    + "]"
)
_ARABIC_LEADS = (b"\xd8", b"\xd9", b"\xda", b"\xdb")
_NOT_ASCII_LETTERS = bytes(byte for byte in range(256) if not chr(byte).isascii() or not chr(byte).isalpha())


def letter_counts(text: str) -> tuple[int, int]:
    """How many letters (not digits, punctuation or marks) ``text`` holds, and how many are Arabic."""
    scanned = _SCANNED.findall(text)
    if _ARABIC_NON_LETTERS.issuperset(scanned):
        data = text.encode("utf-8")
        arabic = sum(map(data.count, _ARABIC_LEADS)) - len(scanned)
        return arabic + len(data.translate(None, _NOT_ASCII_LETTERS)), arabic
    letters = _NON_LETTERS.sub("", text)
    return len(letters), len(_NOT_ARABIC_BLOCKS.sub("", letters))


def arabic_letter_count(text: str) -> int:
    """How many Arabic letters (not digits or punctuation) ``text`` holds."""
    return letter_counts(text)[1]


def _decode_by_bom(data: bytes) -> Decoded | None:
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            decoded = _decode_strict(data, encoding)
            if decoded is None:
                reason = f"the file starts with a {encoding} byte-order mark but is not {encoding}"
                raise UnreadableDocument(reason)
            return decoded
    return None


def known_charset(label: str) -> str | None:
    """The Python codec for a charset label a document declares, or None when Rasid does not read it."""
    return KNOWN_CHARSETS.get(label.strip().lower())


def _decode_declared(data: bytes, declared: str | None) -> Decoded | None:
    encoding = known_charset(declared) if declared else None
    if encoding is None:
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
        if codecs.lookup(encoding).name not in _KNOWN_CODECS:
            return None
        return Decoded(text=data.decode(encoding), encoding=encoding)
    except (UnicodeError, LookupError):
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
