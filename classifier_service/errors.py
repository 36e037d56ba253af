"""Errors the classifier service raises on purpose.

RasidError                       (shared.errors)
 └── ClassifierError
      ├── DataFileError          a YAML data file is malformed; names the file, line and reason
      │    ├── TaxonomyError     ... the taxonomy (topics, terms, lexicons)
      │    └── GazetteerError    ... the gazetteer (countries, groups, places)
      ├── ArticleInputError      an article given to the CLI cannot be read (bad JSON, missing field)
      ├── ArticleTooLargeError   an article is over the size or token cap; it is not classified
      ├── ModelFileError         a model file cannot be read (not JSON, wrong format, bad calibration)
      └── TrainingError          training cannot run or its model is not installed; says why
"""

from __future__ import annotations

from shared.errors import RasidError


class ClassifierError(RasidError):
    """Base class of the classifier service's errors."""


class DataFileError(ClassifierError):
    """A data file cannot be used. The message says which file, which line and why."""

    def __init__(self, message: str, *, path: str = "", line: int | None = None) -> None:
        where = f"{path}:{line}: " if line is not None else (f"{path}: " if path else "")
        super().__init__(f"{where}{message}")
        self.path = path
        self.line = line
        self.reason = message


class TaxonomyError(DataFileError):
    """The taxonomy file is malformed."""


class GazetteerError(DataFileError):
    """The gazetteer file is malformed."""


class ArticleInputError(ClassifierError):
    """An input article is unreadable: bad JSON, a missing field, an undecodable file."""


class ArticleTooLargeError(ClassifierError):
    """An article is longer than the classifier takes (characters or tokens); the message says
    how long it is, the cap, and the setting that raises it."""


class ModelFileError(ClassifierError):
    """A model file cannot be read; the message names the file and the reason."""


class TrainingError(ClassifierError):
    """Training cannot run (too few labels, bad data), or its model scores worse than the one in use."""
