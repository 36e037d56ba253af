"""The longest article the classifier takes: its caps, and the check that refuses an article over them.

Apart from the classifier, so that the settings that declare the caps (which every worker of the stack
checks when it starts) do not load the classifier with them.
"""

from __future__ import annotations

from dataclasses import dataclass

from classifier_service.errors import ArticleTooLargeError

# A file the ingest service accepts (``RASID_MAX_FILE_BYTES``, 5 MiB by default) decodes to at most
# this many characters, one byte or more each in every encoding it reads: so every article ingested
# from a file fits, and classifying the largest takes seconds (``benchmarks/classifier_worst_case.py``).
DEFAULT_MAX_ARTICLE_CHARACTERS = 5 * 1024 * 1024
# Real Arabic prose runs five to six characters a token, so this holds any real text of the size
# above; only floods of one-letter words or bare punctuation are refused.
DEFAULT_MAX_ARTICLE_TOKENS = 1_000_000


@dataclass(frozen=True, slots=True)
class ArticleLimits:
    """The longest article classified: characters of title and text together, and their tokens."""

    max_characters: int = DEFAULT_MAX_ARTICLE_CHARACTERS
    max_tokens: int = DEFAULT_MAX_ARTICLE_TOKENS

    def check_characters(self, characters: int) -> None:
        """Refuse an article of ``characters`` characters if it is over the cap."""
        if characters > self.max_characters:
            raise ArticleTooLargeError(
                f"article too long to classify: {characters:,} characters, over the cap of "
                f"{self.max_characters:,} (RASID_MAX_ARTICLE_CHARACTERS)"
            )

    def check_tokens(self, tokens: int) -> None:
        """Refuse an article of ``tokens`` tokens if it is over the cap."""
        if tokens > self.max_tokens:
            raise ArticleTooLargeError(
                f"article too long to classify: {tokens:,} words and sentence marks, over the cap of "
                f"{self.max_tokens:,} (RASID_MAX_ARTICLE_TOKENS)"
            )
