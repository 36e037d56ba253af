"""The hostile-input corpus: files and feeds built by a seeded generator, grouped in families.

Every run builds the same inputs (``SEED``), so a failure in CI is a failure on a laptop. A family is a
kind of trouble (an encoding, a name, a special file, a feed title); each input carries the token
``hNNNN-`` in its name (files) or title (feeds), which is how a test finds what became of it in the
ledger, the rejected folder or the output of ``rasid classify``.

What each input should become (``Expect``): ``accept`` (a readable Arabic article), ``reject`` (never
an article; rejected with a reason) or ``either`` (a reasonable reader may do either, as long as it
does not crash, hang or stay silent).
"""

from __future__ import annotations

import codecs
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Literal

SEED = 7
MB = 1024 * 1024
MAX_FILE_BYTES = 5 * MB  # the default RASID_MAX_FILE_BYTES

Expect = Literal["accept", "reject", "either"]
# How a folder input is put in place: written bytes, or a special file the folder test makes itself.
Kind = Literal[
    "file",
    "symlink_outside",
    "symlink_dev_zero",
    "symlink_loop",
    "symlink_dangling",
    "fifo",
    "vanishing",
    "growing",
]

# Words of Arabic news, spelled only with letters that ISO-8859-6 also has, so one article can be
# written in every encoding the corpus tries.
_WORDS = (
    "القوات",
    "انسحاب",
    "الجيش",
    "الحكومة",
    "وزارة",
    "الدفاع",
    "العراق",
    "سوريا",
    "بغداد",
    "دمشق",
    "مصادر",
    "أمنية",
    "التحالف",
    "الدولي",
    "تدريب",
    "عسكري",
    "قصف",
    "غارة",
    "جوية",
    "مدينة",
    "الحدود",
    "اتفاق",
    "مفاوضات",
    "بيان",
    "رسمي",
    "المتحدث",
    "باسم",
    "أعلن",
    "أكد",
    "قال",
    "خلال",
    "الأسبوع",
    "الماضي",
    "المقبل",
    "قاعدة",
    "جنود",
    "القيادة",
    "المركزية",
    "مناورات",
    "مشتركة",
    "الطائرات",
    "هجوم",
    "مسيرة",
    "الإرهاب",
    "عملية",
    "الشمال",
    "الجنوب",
    "الأمم",
    "المتحدة",
    "مجلس",
    "الأمن",
    "رئيس",
)
# What a reader finds worth tagging: the withdrawal topic's terms, in a sentence.
_NEWS = "أعلنت وزارة الدفاع انسحاب القوات الأمريكية من قاعدة عين الأسد غرب العراق."


@dataclass(frozen=True)
class Sample:
    """One hostile input for the folder and ``rasid classify``."""

    family: str
    token: str  # "h0042-": in the name, so the input can be found wherever it ends up
    name: bytes  # the file name, as bytes: it need not be UTF-8
    data: bytes = b""
    kind: Kind = "file"
    expect: Expect = "either"

    @property
    def special(self) -> bool:
        """Not a regular file written at once: the folder test makes it in its own way."""
        return self.kind != "file"


@dataclass(frozen=True)
class FeedSample:
    """One hostile feed document for the feed parser."""

    family: str
    token: str
    data: bytes
    expect: Expect = "either"
    titles: tuple[str, ...] = field(default=())  # the hostile item titles it carries, as written


class _Tokens:
    """Hands out the ``hNNNN-`` tokens in order."""

    def __init__(self) -> None:
        self.next = 0

    def __call__(self) -> str:
        self.next += 1
        return f"h{self.next:04d}-"


def arabic_article(rng: random.Random, *, marker: str, sentences: int = 8) -> tuple[str, str]:
    """A plausible Arabic article (title, text) carrying ``marker`` in its title."""
    title = " ".join(rng.choice(_WORDS) for _ in range(7)) + f" {marker}"
    body = [_NEWS]
    for _ in range(sentences):
        body.append(" ".join(rng.choice(_WORDS) for _ in range(rng.randint(8, 16))) + ".")
    rng.shuffle(body)
    return title, "\n\n".join(body)


def article_text(rng: random.Random, *, marker: str, sentences: int = 8) -> str:
    """An article as a ``.txt`` file holds it: the title on the first line."""
    title, text = arabic_article(rng, marker=marker, sentences=sentences)
    return f"{title}\n\n{text}\n"


def _mixed(text: str) -> bytes:
    """The first half in UTF-8, the rest in Windows-1256: two files pasted together."""
    half = len(text) // 2
    return text[:half].encode("utf-8") + text[half:].encode("cp1256")


# The encodings a dropped file comes in, and whether Rasid promises to read each (the README names
# UTF-8 with or without BOM, UTF-16 with or without BOM, and Windows-1256).
_ENCODINGS: tuple[tuple[str, Callable[[str], bytes], Expect], ...] = (
    ("utf-8", lambda text: text.encode("utf-8"), "accept"),
    ("utf-8-bom", lambda text: codecs.BOM_UTF8 + text.encode("utf-8"), "accept"),
    ("utf-16-le-bom", lambda text: codecs.BOM_UTF16_LE + text.encode("utf-16-le"), "accept"),
    ("utf-16-be-bom", lambda text: codecs.BOM_UTF16_BE + text.encode("utf-16-be"), "accept"),
    ("utf-16-le", lambda text: text.encode("utf-16-le"), "accept"),
    ("utf-16-be", lambda text: text.encode("utf-16-be"), "accept"),
    ("cp1256", lambda text: text.encode("cp1256"), "accept"),
    ("utf-32-le-bom", lambda text: codecs.BOM_UTF32_LE + text.encode("utf-32-le"), "either"),
    ("utf-32-be-bom", lambda text: codecs.BOM_UTF32_BE + text.encode("utf-32-be"), "either"),
    ("utf-32-le", lambda text: text.encode("utf-32-le"), "either"),
    ("iso-8859-6", lambda text: text.encode("iso-8859-6"), "either"),
    ("mixed-utf8-cp1256", _mixed, "either"),
    ("utf-8-bom-then-cp1256", lambda text: codecs.BOM_UTF8 + text.encode("cp1256"), "either"),
    (
        "utf-16-bom-odd-length",
        lambda text: codecs.BOM_UTF16_LE + text.encode("utf-16-le") + b"\xd8",
        "either",
    ),
)


def _file_families(rng: random.Random, token: _Tokens) -> Iterator[Sample]:
    yield from _encodings(rng, token)
    yield from _truncated(rng, token)
    yield from _nul_bytes(rng, token)
    yield from _binary(rng, token)
    yield from _empty(rng, token)
    yield from _long_lines(rng, token)
    yield from _deep_html(rng, token)
    yield from _hidden_html(rng, token)
    yield from _odd_charsets(rng, token)
    yield from _names(rng, token)
    yield from _mutations(rng, token)


def _encodings(rng: random.Random, token: _Tokens) -> Iterator[Sample]:
    for round_ in range(8):
        for label, encode, expect in _ENCODINGS:
            tag = token()
            data = encode(article_text(rng, marker=f"[{tag}{round_}]"))
            yield Sample("encodings", tag, f"{tag}{label}.txt".encode(), data, expect=expect)


def _truncated(rng: random.Random, token: _Tokens) -> Iterator[Sample]:
    for index in range(40):
        tag = token()
        data = article_text(rng, marker=f"[{tag}]").encode("utf-8")
        if index % 4 == 0:  # the last character cut in half
            data = data.rstrip(b"\n")[:-1]
        elif index % 4 == 1:  # a character cut in half in the middle
            cut = _inside_character(data, rng)
            data = data[:cut] + data[cut + 1 :]
        elif index % 4 == 2:  # a lone lead byte and a lone continuation byte
            cut = _inside_character(data, rng)
            data = data[:cut] + b"\xd8 \x85" + data[cut:]
        else:  # UTF-16 with its last byte gone
            data = codecs.BOM_UTF16_LE + data.decode("utf-8", "ignore").encode("utf-16-le")[:-1]
        yield Sample("truncated-multibyte", tag, f"{tag}cut.txt".encode(), data)


def _inside_character(data: bytes, rng: random.Random) -> int:
    """An offset that falls inside a multibyte UTF-8 character."""
    while True:
        offset = rng.randrange(len(data) // 4, len(data) - 2)
        if data[offset] & 0xC0 == 0x80:
            return offset


def _nul_bytes(rng: random.Random, token: _Tokens) -> Iterator[Sample]:
    for index in range(30):
        tag = token()
        data = article_text(rng, marker=f"[{tag}]").encode("utf-8")
        positions = sorted(rng.randrange(len(data)) for _ in range(1 + index % 5))
        for position in reversed(positions):
            data = data[:position] + b"\x00" + data[position:]
        if index % 6 == 0:
            data = b"\x00" * 64 + data
        yield Sample("nul-bytes", tag, f"{tag}nul.txt".encode(), data)


_MAGIC = (
    b"\x89PNG\r\n\x1a\n",
    b"%PDF-1.7\n",
    b"\x7fELF\x02\x01\x01",
    b"PK\x03\x04",
    b"\x1f\x8b\x08",
    b"GIF89a",
)


def _binary(rng: random.Random, token: _Tokens) -> Iterator[Sample]:
    for index in range(40):
        tag = token()
        size = rng.choice((16, 300, 4096, 65536))
        noise = rng.randbytes(size)
        data = _MAGIC[index % len(_MAGIC)] + noise if index % 2 else noise
        name = f"{tag}photo.{'html' if index % 5 == 0 else 'txt'}"
        yield Sample("binary-as-text", tag, name.encode(), data, expect="reject")


def _empty(rng: random.Random, token: _Tokens) -> Iterator[Sample]:
    bodies = (
        b"",
        b" ",
        b"\n\n\n",
        b"\r\n\t  \r\n",
        codecs.BOM_UTF8,
        codecs.BOM_UTF16_LE,
        codecs.BOM_UTF16_BE,
        codecs.BOM_UTF32_LE,
        "\u200f\u200e\n".encode(),
        b"<html></html>",
        b"<html><body> </body></html>",
    )
    for index, body in enumerate(bodies * 2):
        tag = token()
        suffix = "html" if body.startswith(b"<") or index % 7 == 0 else "txt"
        yield Sample("empty", tag, f"{tag}empty.{suffix}".encode(), body, expect="reject")


def _long_lines(rng: random.Random, token: _Tokens) -> Iterator[Sample]:
    # A title, then one line of about 5 MB full of a topic's terms: the classifier's worst case.
    sentence = (_NEWS + " ").encode("utf-8")
    tag = token()
    line = sentence * ((MAX_FILE_BYTES - 4096) // len(sentence))
    yield Sample(
        "long-line", tag, f"{tag}long.txt".encode(), f"عنوان طويل [{tag}]\n".encode() + line, expect="either"
    )
    tag = token()  # one 5 MB line and nothing else: a title with no text
    yield Sample("long-line", tag, f"{tag}oneline.txt".encode(), line, expect="reject")
    tag = token()  # one byte over the limit
    yield Sample(
        "long-line", tag, f"{tag}toolarge.txt".encode(), b"x" * (MAX_FILE_BYTES + 1), expect="reject"
    )


def _deep_html(rng: random.Random, token: _Tokens) -> Iterator[Sample]:
    for depth in (1_000, 100_000):
        tag = token()
        title, text = arabic_article(rng, marker=f"[{tag}]")
        html = (
            f'<html><head><meta charset="utf-8"><title>{title}</title></head><body>'
            + "<div>" * depth
            + f"<p>{text}</p>"
            + "</div>" * depth
            + "</body></html>"
        )
        yield Sample("deep-html", tag, f"{tag}deep.html".encode(), html.encode(), expect="either")
    tag = token()  # never closed
    yield Sample("deep-html", tag, f"{tag}unclosed.html".encode(), b"<div>" * 100_000, expect="reject")


def _hidden_html(rng: random.Random, token: _Tokens) -> Iterator[Sample]:
    for index in range(12):
        tag = token()
        _title, text = arabic_article(rng, marker=f"[{tag}]")
        hidden = f"<script>var t = '{text}';</script><style>/* {text} */ p {{ color: red }}</style>"
        head = f"<title>{tag}</title>" if index % 2 else ""
        html = f"<html><head>{head}{hidden}</head><body>{hidden * (1 + index % 3)}</body></html>"
        yield Sample("html-scripts-only", tag, f"{tag}scripts.html".encode(), html.encode(), expect="reject")


_ODD_CHARSETS = (
    "punycode",
    "rot13",
    "rot_13",
    "utf-7",
    "utf_7",
    "idna",
    "base64",
    "hex",
    "zlib",
    "uu",
    "bz2",
    "unicode_escape",
    "raw_unicode_escape",
    "x-unknown-charset",
    "utf-8-sig",
    "utf-16",
    "utf-32",
    "mbcs",
    "cp65001",
    "undefined",
    "palmos",
    "ascii",
    "latin-1",
    "windows-1256",
    "iso-8859-6",
)


def _odd_charsets(rng: random.Random, token: _Tokens) -> Iterator[Sample]:
    for charset in _ODD_CHARSETS:
        for variant in range(2):
            tag = token()
            title, text = arabic_article(rng, marker=f"[{tag}]")
            head = f'<meta charset="{charset}"><title>{title}</title>'
            body = f"<html><head>{head}</head><body><p>{text}</p></body></html>"
            data = body.encode("utf-8") if variant == 0 else _punycode_bait(body)
            name = f"{tag}charset-{charset}.html"
            yield Sample("html-odd-charset", tag, name.encode(), data, expect="either")


def _punycode_bait(body: str) -> bytes:
    """ASCII that punycode and its kin accept as input and choke on (malformed deltas), then
    Windows-1256 text."""
    return b"abc-" + b"9" * 2000 + b"zz-" + body.encode("cp1256", "replace")


def _names(rng: random.Random, token: _Tokens) -> Iterator[Sample]:
    text = lambda tag: article_text(rng, marker=f"[{tag}]").encode("utf-8")  # noqa: E731
    for index in range(6):
        tag = token()
        name = f"{tag}line\nbreak{index}.txt".encode()
        yield Sample("name-newline", tag, name, text(tag), expect="accept")
        tag = token()
        name = f"{tag}\r\nreturn\x1b[31mred{index}.txt".encode()
        yield Sample("name-newline", tag, name, text(tag), expect="accept")
    for index in range(8):
        tag = token()
        arabic = "خبر عاجل من بغداد"[: 4 + index].encode("cp1256")  # not valid UTF-8
        good = index % 2 == 0
        data = text(tag) if good else rng.randbytes(512)
        yield Sample(
            "name-cp1256-bytes",
            tag,
            tag.encode() + arabic + b".txt",
            data,
            expect="accept" if good else "reject",
        )
    for index in range(8):
        tag = token()
        good = index % 2 == 0
        data = text(tag) if good else rng.randbytes(512)
        if index < 4:  # 255 bytes of ASCII
            name = (tag + "n" * (255 - len(tag) - 4) + ".txt").encode()
        else:  # 125 Arabic letters (250 bytes) and the suffix: 254 bytes
            name = tag.encode() + ("خ" * ((255 - len(tag) - 4) // 2)).encode() + b".txt"
        yield Sample("name-255-bytes", tag, name, data, expect="accept" if good else "reject")


def _mutations(rng: random.Random, token: _Tokens) -> Iterator[Sample]:
    """Good articles with random damage: bytes flipped, control characters, cuts and splices."""
    for index in range(520):
        tag = token()
        encoding = rng.choice(("utf-8", "cp1256", "utf-16-le"))
        data = bytearray(article_text(rng, marker=f"[{tag}]", sentences=3).encode(encoding))
        for _ in range(rng.choice((1, 2, 5, 20, 200))):
            operation = rng.randrange(4)
            position = rng.randrange(len(data))
            if operation == 0:
                data[position] = rng.randrange(256)
            elif operation == 1:
                data[position:position] = bytes([rng.choice((0, 1, 0x1B, 0x7F, 0x85, 0xFF, 0xFE))])
            elif operation == 2 and len(data) > 64:
                del data[position : position + rng.randint(1, 16)]
            else:
                data[position:position] = rng.randbytes(rng.randint(1, 8))
        suffix = "html" if index % 10 == 0 else "txt"
        yield Sample("random-damage", tag, f"{tag}damaged.{suffix}".encode(), bytes(data))


def _special_files(rng: random.Random, token: _Tokens) -> Iterator[Sample]:
    """Files the folder test makes itself: links, FIFOs, files that vanish or keep growing."""
    kinds: tuple[Kind, ...] = (
        "symlink_outside",
        "symlink_dev_zero",
        "symlink_loop",
        "symlink_dangling",
        "fifo",
    )
    for kind in kinds:
        for index in range(2):
            tag = token()
            family = kind.replace("_", "-")
            yield Sample(family, tag, f"{tag}{kind}{index}.txt".encode(), kind=kind)
    for _ in range(4):
        tag = token()
        data = article_text(rng, marker=f"[{tag}]").encode("utf-8")
        yield Sample("vanishing-files", tag, f"{tag}vanish.txt".encode(), data, kind="vanishing")
    for _ in range(4):
        tag = token()
        data = article_text(rng, marker=f"[{tag}]", sentences=40).encode("utf-8")
        yield Sample("growing-files", tag, f"{tag}grow.txt".encode(), data, kind="growing", expect="accept")


def file_corpus() -> list[Sample]:
    """Every file input, in family order: the same list on every run."""
    rng, token = random.Random(SEED), _Tokens()
    return [*_file_families(rng, token), *_special_files(rng, token)]


def good_article(number: int) -> tuple[str, bytes]:
    """A good article to drop between hostile inputs: its marker (in its title) and its bytes."""
    marker = f"[good-{number:04d}]"
    return marker, article_text(random.Random(f"good-{number}"), marker=marker).encode("utf-8")


# --- feeds ---------------------------------------------------------------------------------------

HOSTILE_TITLES = (
    "عنوان\r\nBcc: victim@example.org",
    "عنوان\nX-Injected: yes\n\nجسم مزور",
    "=?utf-8?q?=D8=B9=D9=86=D9=88=D8=A7=D9=86=0D=0ABcc:_victim@example.org?=",
    "=?utf-8?b?2LnZhtmI2KfZhg0KQmNjOiB2aWN0aW1AZXhhbXBsZS5vcmc=?=",
    "=?utf-8?q?=0D=0A=0D=0A<a href=http://evil>click</a>?= عنوان",
    "عنوان \x1b[2J\x1b[31mأحمر\x1b]0;owned\x07",
    "عنوان \x1b]8;;http://evil.example/\x1b\\رابط\x1b]8;;\x1b\\",
    "عنوان\u202eمعكوس\u202c\u200f",
    "\x00\x01\x02عنوان\x7f\x9b",
)


def rss(title: str, items: list[tuple[str, str]], *, prolog: str = "") -> bytes:
    entries = "".join(
        f"<item><title>{_xml(item_title)}</title><link>http://example.org/{index}</link>"
        f"<description>{_xml(text)}</description></item>"
        for index, (item_title, text) in enumerate(items)
    )
    return (
        f'<?xml version="1.0" encoding="utf-8"?>{prolog}<rss version="2.0"><channel>'
        f"<title>{_xml(title)}</title><link>http://example.org/</link>{entries}</channel></rss>"
    ).encode()


def _xml(text: str) -> str:
    # Characters XML 1.0 forbids are written as they come: the parser meets them raw.
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def feed_corpus() -> list[FeedSample]:
    """Every feed input: hostile titles, malformed XML, entity bombs."""
    rng, token = random.Random(SEED + 1), _Tokens()
    token.next = 5000
    samples: list[FeedSample] = []
    for index in range(90):
        tag = token()
        hostile = HOSTILE_TITLES[index % len(HOSTILE_TITLES)]
        if index % 10 == 9:
            hostile = "عنوان " * 2000  # about 12 KB
        title = f"{tag} {hostile}"
        _title, text = arabic_article(rng, marker=f"[{tag}]")
        data = rss(f"{tag} {hostile}" if index % 3 == 0 else "أخبار", [(title, text)])
        samples.append(FeedSample("feed-hostile-titles", tag, data, expect="accept", titles=(title,)))
    for index in range(70):
        tag = token()
        _title, text = arabic_article(rng, marker=f"[{tag}]")
        good = rss("أخبار", [(f"{tag} عنوان", text)] * 2)
        cut = rng.randrange(10, len(good))
        damaged = {
            0: good[:cut],
            1: good.replace(b"</item>", b"", 1),
            2: good.replace(b"<title>", b"<title><![CDATA[", 1),
            3: good.replace(b"utf-8", b"punycode", 1),
            4: good.replace(b"utf-8", b"x-unknown", 1),
            5: good[:cut] + rng.randbytes(64) + good[cut:],
            6: good.replace(b"&amp;", b"&undefined;") + b"&#xD800;",
        }[index % 7]
        samples.append(FeedSample("feed-malformed-xml", tag, damaged))
    for index in range(8):
        tag = token()
        levels = 10 + index % 5
        entities = '<!ENTITY lol0 "lol">' + "".join(
            f'<!ENTITY lol{level} "{f"&lol{level - 1};" * 10}">' for level in range(1, levels)
        )
        if index % 4 == 3:  # an external entity: a file outside anything Rasid should read
            entities += '<!ENTITY xxe SYSTEM "file:///etc/passwd">'
        doctype = f"<!DOCTYPE rss [{entities}]>"
        bomb = f"&lol{levels - 1};" if index % 4 != 3 else "&xxe;"
        data = rss("أخبار", [(f"{tag} عنوان", "نص")], prolog=doctype).replace("نص".encode(), bomb.encode())
        samples.append(FeedSample("feed-entity-bombs", tag, data))
    return samples
