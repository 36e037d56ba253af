"""Picking the headline of a plain-text article: the line a reader would call its title.

Text saved from a web page often opens with the site's chrome before the headline: a section name
("المال والاعمال"), a label whose date was lost (": آخر تحديث"), a date, a byline, a breadcrumb. So the
headline is looked for in the head of the document, its first lines before the first paragraph (a line
that ends with a full stop or is longer than any headline). There, lines too short to be a headline,
dates, bylines, breadcrumbs and labels are passed over; of the lines left, one that the text repeats
(pages often print their headline twice) is preferred, else the first. A head with no such line gives
the first non-empty line, so a file whose first line is its headline keeps it.
"""

from __future__ import annotations

import re
from itertools import islice

from shared.arabic import fold

MIN_HEADLINE_WORDS = 3
MAX_HEADLINE_WORDS = 25  # the longest of 30,000 real headlines has 21 words; ledes run longer.
MAX_HEAD_LINES = 10
MAX_BYLINE_WORDS = 8

_TOKENS = re.compile(r"\w+")
_WORD = re.compile(r"[^\W\d_]{2,}")  # two letters or more: not a digit, an initial or a stray letter
_BREADCRUMB_SEPARATORS = re.compile(r"\s*[»›>|/←]\s*")
_PARAGRAPH_END = (".", "…")
_LABEL_END = (":", "：")


def _folded_set(words: str) -> frozenset[str]:
    return frozenset(fold(word).lower() for word in words.split())


# Words a date line is made of besides numbers: days, months (Egyptian and Gulf, Levantine, Hijri,
# English), times of day, and the labels sites put before a date.
_DATE_WORDS = _folded_set(
    """
    السبت الأحد الاثنين الإثنين الثلاثاء الأربعاء الخميس الجمعة
    يناير فبراير مارس أبريل إبريل ابريل مايو يونيو يونيه يوليو يوليه أغسطس سبتمبر أكتوبر نوفمبر ديسمبر
    كانون شباط آذار نيسان أيار حزيران تموز آب أيلول تشرين الأول الثاني
    محرم صفر ربيع جمادى رجب شعبان رمضان شوال ذو القعدة الحجة الآخر الأولى الآخرة
    january february march april may june july august september october november december
    jan feb mar apr jun jul aug sep sept oct nov dec
    monday tuesday wednesday thursday friday saturday sunday mon tue wed thu fri sat sun
    ص م هـ ه الساعة صباحا صباحاً مساء مساءً ظهرا ظهراً am pm gmt utc
    تاريخ بتاريخ النشر نشر نشرت نشره آخر تحديث تم التحديث محدث الموافق في منذ
    دقيقة دقائق ساعة ساعات يوم أيام
    updated published last update on at
    """
)
# Words that open a byline or a credit line. "كتب" (wrote) is also "books", so it counts only with a
# colon or a dash after it, as bylines write it.
_BYLINE_WORDS = _folded_set(
    """
    بقلم بواسطة إعداد تحرير حرره مراسل مراسلة المراسل المحرر المصدر تصوير
    by written reporting
    """
)
_WROTE = re.compile(r"^(كتب|كتبت|كتبه)\s*[:\-–—]")


def split_headline(text: str) -> tuple[str, str]:
    """The headline of ``text`` (normalized: one line a line) and the text without that line.

    Lines passed over stay in the text, in their order. An empty text gives two empty strings.
    """
    lines = text.split("\n")
    index = headline_index(lines)
    if index is None:
        return "", ""
    return lines[index].strip(), "\n".join(lines[:index] + lines[index + 1 :]).strip()


def headline_index(lines: list[str]) -> int | None:
    """The index of the headline among ``lines``; ``None`` when every line is blank."""
    filled = [index for index, line in enumerate(lines) if line.strip()]
    if not filled:
        return None
    head = []
    for index in islice(filled, MAX_HEAD_LINES):
        if is_paragraph(lines[index]):
            break
        head.append(index)
    candidates = [index for index in head if reads_as_headline(lines[index])]
    if not candidates:
        return filled[0]
    if len(candidates) == 1:
        # The usual case: the one candidate is the headline whether the text repeats it or not.
        return candidates[0]
    folded_text = _folded_words("\n".join(lines))
    repeated = (index for index in candidates if folded_text.count(_folded_words(lines[index])) > 1)
    return next(repeated, candidates[0])


def is_paragraph(line: str) -> bool:
    """A line of body text: it ends with a full stop, or it is longer than a headline ever is."""
    return line.rstrip().endswith(_PARAGRAPH_END) or len(line.split()) > MAX_HEADLINE_WORDS


def reads_as_headline(line: str) -> bool:
    """Words enough to be a headline, mostly words, and none of a date, a byline, a breadcrumb, a label."""
    words = _WORD.findall(line)
    if len(words) < MIN_HEADLINE_WORDS or len(words) * 2 < len(line.split()):
        return False
    tokens = _folded_tokens(line)  # folded once for the date and the byline checks
    return not (_is_date(tokens) or _is_byline(line, tokens) or is_breadcrumb(line) or is_label(line))


def is_date(line: str) -> bool:
    """A line that gives a date or a time and nothing else: a number, and only date words around it."""
    return _is_date(_folded_tokens(line))


def is_byline(line: str) -> bool:
    """A short line whose first or second word credits a writer or a source (بقلم، كتب:، المصدر ...)."""
    return _is_byline(line, _folded_tokens(line))


def _folded_tokens(line: str) -> list[str]:
    return [token.lower() for token in _TOKENS.findall(fold(line))]


def _is_date(tokens: list[str]) -> bool:
    if not any(map(_has_digit, tokens)):
        return False
    return all(_has_digit(token) or token in _DATE_WORDS for token in tokens)


def _is_byline(line: str, tokens: list[str]) -> bool:
    if len(tokens) > MAX_BYLINE_WORDS:
        return False
    return bool(_WROTE.match(line.strip())) or any(token in _BYLINE_WORDS for token in tokens[:2])


def is_breadcrumb(line: str) -> bool:
    """Site sections in a row, ``الرئيسية » أخبار » العراق``: two parts or more, each of few words."""
    parts = [part for part in _BREADCRUMB_SEPARATORS.split(line.strip()) if part]
    return len(parts) > 1 and all(len(part.split()) < MIN_HEADLINE_WORDS for part in parts)


def is_label(line: str) -> bool:
    """A line that introduces what follows (``اقرأ أيضا:``) rather than saying something."""
    return line.rstrip().endswith(_LABEL_END)


def _has_digit(token: str) -> bool:
    # A word of letters only (most tokens) holds no digit: one check in C before the loop.
    return not token.isalpha() and any(character.isdigit() for character in token)


def _folded_words(text: str) -> str:
    return " ".join(fold(text).split())
