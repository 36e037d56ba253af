"""Reading a document: the bytes of a ``.txt`` or ``.html``/``.htm`` file to a title and a text.

Every reader of files uses this module: the ingest service for dropped files (and feed summaries), and
``rasid classify FILE`` on the command line, so both see one title and one text for one file. A ``.txt``
file's title is its headline (see :mod:`shared.headlines`), its text every other line. An HTML file's
title is its <title> (or first <h1>), its text the body without scripts, styles and navigation. A
document that is not sensible Arabic text raises :class:`UnreadableDocument` with a reason a person can
read. The HTML parser is imported only when HTML is read, so reading plain text starts fast.

HTML is measured before it is parsed (:func:`html_shape`, one linear pass over its tags): the parser's
time grows with the square of the nesting depth (100,000 nested <div>s took minutes), so a document
nested deeper than :data:`MAX_HTML_DEPTH` or holding more than :data:`MAX_HTML_ELEMENTS` elements is
rejected, and a feed's fragment that deep is flattened to its text instead of parsed.

A file named on the command line is read only if it is a regular file (:func:`regular_file_bytes`): a
FIFO would block the reader until something wrote to it, and a device such as ``/dev/zero`` never ends.
"""

from __future__ import annotations

import html
import os
import re
import stat
from dataclasses import dataclass
from typing import TYPE_CHECKING

from shared.decoding import decode_bytes, letter_counts
from shared.errors import UnreadableDocument
from shared.headlines import split_headline

if TYPE_CHECKING:
    from selectolax.lexbor import LexborHTMLParser

TEXT_SUFFIXES = frozenset({".txt"})
HTML_SUFFIXES = frozenset({".html", ".htm"})
SUPPORTED_SUFFIXES = TEXT_SUFFIXES | HTML_SUFFIXES
MIN_ARABIC_LETTERS = 20
MIN_ARABIC_SHARE = 0.5  # of all letters: Arabic articles quote Latin names, but are mostly Arabic.
MAX_CONTROL_SHARE = 0.01
_HIDDEN_TAGS = "script, style, nav, noscript, template, iframe, svg"
_BLOCK_TAGS = ("p", "div", "br", "li", "h1", "h2", "h3", "h4", "h5", "h6", "tr", "section", "article")
# Real articles nest a few dozen levels and hold a few thousand elements, whole saved pages included.
MAX_HTML_DEPTH = 512
MAX_HTML_ELEMENTS = 100_000
_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9._:-]+)""", re.IGNORECASE)
_SPACES = re.compile(r"[^\S\n]+")
_BLANK_LINES = re.compile(r"\n{3,}")


@dataclass(frozen=True)
class Document:
    """A decoded article: its title, its text and the encoding its bytes were in."""

    title: str
    text: str
    encoding: str


def regular_file_bytes(path: str | os.PathLike[str]) -> bytes:
    """The bytes of the regular file at ``path`` (a link to one is followed); a FIFO, a device, a
    socket or a file that cannot be opened raises :class:`UnreadableDocument` at once."""
    try:
        # Non-blocking: opening a FIFO would otherwise wait for a writer.
        descriptor = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as error:
        raise UnreadableDocument(f"the file could not be opened: {error.strerror or error}") from None
    try:
        mode = os.fstat(descriptor).st_mode
        if not stat.S_ISREG(mode):
            raise UnreadableDocument(not_regular_reason(mode))
        with open(descriptor, "rb", closefd=False) as file:
            return file.read()
    finally:
        os.close(descriptor)


def not_regular_reason(mode: int) -> str:
    """Why a file of ``mode`` (``st_mode``) is not read: it is not a regular file."""
    if stat.S_ISFIFO(mode):
        kind = "a FIFO (named pipe)"
    elif stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        kind = "a device"
    elif stat.S_ISSOCK(mode):
        kind = "a socket"
    elif stat.S_ISDIR(mode):
        kind = "a folder"
    else:
        kind = "a special file"
    return f"the file is {kind}, not a regular file; Rasid reads only regular files"


def read_document(data: bytes, *, suffix: str) -> Document:
    """The checked document in the bytes of a file whose name ends with ``suffix`` (``.txt``, ``.html``)."""
    suffix = suffix.lower()
    if suffix in TEXT_SUFFIXES:
        document = parse_text(data)
    elif suffix in HTML_SUFFIXES:
        document = parse_html(data)
    else:
        supported = ", ".join(sorted(SUPPORTED_SUFFIXES))
        raise UnreadableDocument(f"unsupported file type {suffix or '(none)'}; Rasid reads {supported} files")
    check_document(document)
    return document


def parse_text(data: bytes) -> Document:
    """A plain-text file: its headline is the title, every other line (in order) the text."""
    decoded = decode_bytes(data)
    title, text = split_headline(normalize_text(decoded.text))
    # The lines left are normalized already; taking the headline out can leave two blank lines together.
    return Document(title=title, text=_single_blank_lines(text).strip(), encoding=decoded.encoding)


def parse_html(data: bytes) -> Document:
    """An HTML file, decoded with its declared charset when it has one."""
    from selectolax.lexbor import LexborHTMLParser

    decoded = decode_bytes(data, declared=declared_charset(data))
    shape = html_shape(decoded.text)
    if shape.depth > MAX_HTML_DEPTH:
        raise UnreadableDocument(f"the HTML is nested too deeply (over {MAX_HTML_DEPTH} levels of elements)")
    if shape.elements > MAX_HTML_ELEMENTS:
        raise UnreadableDocument(f"the HTML has too many elements (over {MAX_HTML_ELEMENTS:,})")
    tree = LexborHTMLParser(decoded.text)
    title_node = tree.css_first("title") or tree.css_first("h1")
    title = normalize_text(title_node.text()) if title_node is not None else ""
    text = _visible_text(tree)
    if not title:
        title, text = split_headline(text)
    return Document(title=title.replace("\n", " "), text=normalize_text(text), encoding=decoded.encoding)


def strip_html(fragment: str) -> str:
    """The readable text of an HTML fragment (a feed entry's summary, say)."""
    if "<" not in fragment and "&" not in fragment:
        return normalize_text(fragment)
    shape = html_shape(fragment)
    if shape.depth > MAX_HTML_DEPTH or shape.elements > MAX_HTML_ELEMENTS:
        return normalize_text(html.unescape(_TAG.sub(" ", fragment)))
    from selectolax.lexbor import LexborHTMLParser

    return _visible_text(LexborHTMLParser(f"<body>{fragment}</body>"))


def declared_charset(data: bytes) -> str | None:
    """The charset an HTML document declares in a <meta> tag near its start, if any."""
    match = _META_CHARSET.search(data[:4096])
    return match.group(1).decode("ascii") if match else None


@dataclass(frozen=True)
class HtmlShape:
    """How many elements an HTML text opens, and how deeply they nest at most."""

    elements: int
    depth: int


# Elements that never hold others, and elements a parser closes when the next one of their kind
# (or their container's end) comes: unclosed <p>, <li> or <td> do not nest, so they are not counted.
_VOID = frozenset(
    [
        "area",
        "base",
        "br",
        "col",
        "embed",
        "hr",
        "img",
        "input",
        "link",
        "meta",
        "param",
        "source",
        "track",
        "wbr",
        "keygen",
        "frame",
        "basefont",
    ]
)
_CLOSED_BY_PARSER = frozenset(
    [
        "p",
        "li",
        "dt",
        "dd",
        "option",
        "optgroup",
        "tr",
        "td",
        "th",
        "thead",
        "tbody",
        "tfoot",
        "colgroup",
        "caption",
        "a",
        "button",
        "nobr",
        "form",
    ]
)
_FOREIGN = frozenset({"svg", "math"})
_RAW_TEXT = ("script", "style", "textarea", "title", "xmp", "iframe", "noembed", "noframes", "plaintext")
_TAG = re.compile(r"<[^<>]*>")  # stops at the next "<": linear even on a run of unclosed "<"


def html_shape(text: str) -> HtmlShape:
    """Count the elements of ``text`` and the deepest nesting of its tags, in one linear pass.

    An approximation of what a parser builds, made to err towards deeper: an unclosed element counts
    as open to the end, except the ones a parser closes by itself; ``<x/>`` closes only inside SVG
    and MathML, as in a parser (an HTML ``<div/>`` stays open). Comments and the text of scripts and
    styles hold no tags. Counting stops once either limit is passed: the caller rejects it anyway.
    """
    lowered = text.lower()
    elements = depth = deepest = foreign = 0
    position = lowered.find("<")
    while position != -1 and deepest <= MAX_HTML_DEPTH and elements <= MAX_HTML_ELEMENTS:
        if lowered.startswith("<!--", position):
            end = lowered.find("-->", position + 4)
            position = lowered.find("<", end + 3) if end != -1 else -1
            continue
        end = lowered.find(">", position)
        if end == -1:
            break
        tag = lowered[position + 1 : end]
        closing = tag.startswith("/")
        name = tag.lstrip("/").split(None, 1)[0].rstrip("/") if tag.strip("/ ") else ""
        if name and name[0].isalpha() and name not in _VOID and name not in _CLOSED_BY_PARSER:
            if closing:
                depth = max(0, depth - 1)
                foreign = max(0, foreign - (name in _FOREIGN))
            elif not (foreign and tag.endswith("/")):
                elements += 1
                depth += 1
                deepest = max(deepest, depth)
                foreign += name in _FOREIGN
        elif name and not closing:
            elements += 1
        position = end + 1
        if not closing and name in _RAW_TEXT:
            close = lowered.find(f"</{name}", position)
            position = close if close != -1 else len(lowered)
            continue
        position = lowered.find("<", position)
    return HtmlShape(elements=elements, depth=deepest)


# Unicode category Cc (C0, DEL, C1) but for line feeds and tabs.
_CONTROLS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def normalize_text(text: str) -> str:
    """Unix line ends, runs of spaces collapsed, lines trimmed, at most one blank line in a row."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\ufeff", "")
    # Spaces collapsed in one pass over the whole text: each line is then left with at most one space
    # at either end, and trimming the lines is removing those. Every whitespace character but the
    # space and the line feed is unprintable, so a text printable but for its line feeds, with no two
    # spaces in a row, has nothing to collapse: most articles, checked by two scans in C.
    if "  " in text or not _printable_but_lines(text):
        text = _SPACES.sub(" ", text)
    text = text.replace(" \n", "\n").replace("\n ", "\n")
    return _single_blank_lines(text).strip()


def _printable_but_lines(text: str) -> bool:
    """Whether every character of ``text`` but its line feeds is printable (no control, format or
    whitespace character other than the space)."""
    return (text.replace("\n", "") if "\n" in text else text).isprintable()


def _single_blank_lines(text: str) -> str:
    """``text`` with each run of blank lines cut to one (the regular expression only when there is one)."""
    return _BLANK_LINES.sub("\n\n", text) if "\n\n\n" in text else text


def check_document(document: Document) -> None:
    """Raise :class:`UnreadableDocument` unless the document is sensible Arabic text."""
    if not document.title:
        raise UnreadableDocument("the file has no title (no non-empty first line or <title>)")
    if not document.text:
        raise UnreadableDocument("the file has a title but no text after it")
    body = f"{document.title}\n{document.text}"
    # Control characters are unprintable: a body printable but for its line feeds holds none.
    controls = 0 if _printable_but_lines(body) else len(_CONTROLS.findall(body))
    if controls > MAX_CONTROL_SHARE * len(body):
        raise UnreadableDocument("the text is full of control characters: it looks like a binary file")
    letters, arabic = letter_counts(body)
    if arabic < MIN_ARABIC_LETTERS or arabic < MIN_ARABIC_SHARE * letters:
        raise UnreadableDocument(
            f"too little Arabic text ({arabic} Arabic letters of {letters} letters, "
            f"encoding read as {document.encoding})"
        )


def _visible_text(tree: LexborHTMLParser) -> str:
    for node in tree.css(_HIDDEN_TAGS):
        node.decompose()
    root = tree.body or tree.root
    if root is None:
        return ""
    for tag in _BLOCK_TAGS:
        for node in root.css(tag):
            node.insert_before("\n")
    return normalize_text(root.text(separator=""))
