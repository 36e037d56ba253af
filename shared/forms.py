"""The written forms of an Arabic word in running text, and the key a phrase word is indexed by.

A phrase word stands for the forms it takes glued to its clitics: proclitics (و ف ب ك ل س and the
article ال, with ل + ال written لل) and endings (sound plurals and duals, their construct forms,
nisba adjectives, attached pronouns, common verb endings, and ta marbuta written ت before an ending
or replaced by ات in the plural). Names take fewer endings; exact words take none.
"""

from __future__ import annotations

PROCLITICS: tuple[str, ...] = (
    "",
    "و",
    "ف",
    "ب",
    "ك",
    "ل",
    "س",
    "ال",
    "وال",
    "فال",
    "بال",
    "كال",
    "لل",
    "ولل",
    "وبال",
    "وب",
    "ول",
    "وس",
    "فب",
)
PRONOUNS: tuple[str, ...] = ("ه", "ها", "هم", "هما", "هن", "ك", "كم", "نا", "ي")
NOUN_ENDINGS: tuple[str, ...] = (
    "",
    "ا",  # accusative tanween: هجوما، صاروخا
    "ات",
    "ون",
    "ين",
    "ان",
    "و",  # construct plural: مقاتلو المعارضة
    "يه",  # nisba feminine: تدريبية، صاروخية
    *PRONOUNS,
    "اته",
    "اتها",
    "اتهم",
)
FEMININE_ENDINGS: tuple[str, ...] = (
    "ه",
    "ات",
    "تان",
    "تين",
    "تا",
    *(f"ت{pronoun}" for pronoun in PRONOUNS),
    "اته",
    "اتها",
    "اتهم",
)
NAME_ENDINGS: tuple[str, ...] = ("", "ه", "ون", "ين", "ات", "ان")
ARTICLE = "ال"
SHORTEST_STEM_AFTER_ARTICLE = 3
SHORT_WORD = 2

# How a phrase word takes its forms: clitics and noun endings, clitics and name endings, or none.
PLAIN, NAME, EXACT = 0, 1, 2
# A phrase word as the index knows it: its stem (the word itself when exact) and how it takes forms.
WordKey = tuple[str, int]


def stem_of(word: str) -> str:
    """A phrase word without its article, so that every proclitic combination can be put back."""
    if word.startswith(ARTICLE) and len(word) - len(ARTICLE) >= SHORTEST_STEM_AFTER_ARTICLE:
        return word[len(ARTICLE) :]
    return word


def word_key(word: str, *, exact: bool = False, name: bool = False) -> WordKey:
    """What a folded phrase word stands for. Words of one or two letters take the same forms
    as names and as nouns, so they get one key."""
    if exact:
        return word, EXACT
    stem = stem_of(word)
    return stem, (NAME if name and len(stem) > SHORT_WORD else PLAIN)


def key_forms(key: WordKey) -> frozenset[str]:
    """Every written form of a word key that counts as the word itself."""
    stem, mode = key
    return frozenset({stem}) if mode == EXACT else stem_forms(stem, name=mode == NAME)


def stem_forms(stem: str, *, name: bool = False) -> frozenset[str]:
    """The written forms of a stem (a word without its article).

    Words of one or two letters take only و and ف (they would collide with other words otherwise);
    the future prefix س goes only on verb-like forms (starting ي ت ن ا).
    """
    if len(stem) <= SHORT_WORD:
        return frozenset({stem, "و" + stem, "ف" + stem})
    return frozenset(
        proclitic + form
        for form in _suffixed_forms(stem, name=name)
        for proclitic in PROCLITICS
        if proclitic_fits(proclitic, form)
    )


def proclitic_fits(proclitic: str, form: str) -> bool:
    """Whether ``proclitic`` may be written before ``form``."""
    if proclitic.endswith("لل") and form.startswith("ل"):
        return False
    return not (proclitic.endswith("س") and not form.startswith(("ي", "ت", "ن", "ا")))


def _suffixed_forms(stem: str, *, name: bool) -> set[str]:
    if name:
        return {stem + ending for ending in NAME_ENDINGS}
    forms = {stem + ending for ending in NOUN_ENDINGS}
    if stem.endswith("ه") and len(stem) > 2:
        # ta marbuta, folded to ه: قوه → قوتها، قوات، قوتين
        base = stem[:-1]
        forms.update(base + ending for ending in FEMININE_ENDINGS)
    return forms
