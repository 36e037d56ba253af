"""Errors the classifier service raises on purpose.

RasidError                       (shared.errors)
 ├── DataFileError               (shared.errors) a YAML data file is malformed
 │    ├── GazetteerError         (shared.errors) the gazetteer, read by every service
 │    └── TaxonomyError          the taxonomy (topics, terms, lexicons); also a ClassifierError
 └── ClassifierError
      ├── ArticleInputError      an article given to the CLI cannot be read (bad JSON, missing field)
      ├── ArticleTooLargeError   an article is over the size or token cap; it is not classified
      ├── ModelFileError         a model file cannot be read (not JSON, wrong format, bad calibration)
      └── TrainingError          training cannot run or its model is not installed; says why
"""

from __future__ import annotations

from shared.errors import DataFileError, GazetteerError, RasidError

__all__ = [
    "ArticleInputError",
    "ArticleTooLargeError",
    "ClassifierError",
    "DataFileError",
    "GazetteerError",
    "TaxonomyError",
]


class ClassifierError(RasidError):
    """Base class of the classifier service's errors."""


class TaxonomyError(DataFileError, ClassifierError):
    """The taxonomy file is malformed."""


class ArticleInputError(ClassifierError):
    """An input article is unreadable: bad JSON, a missing field, an undecodable file."""


class ArticleTooLargeError(ClassifierError):
    """An article is longer than the classifier takes (characters or tokens); the message says
    how long it is, the cap, and the setting that raises it."""


class ModelFileError(ClassifierError):
    """A model file cannot be read; the message names the file and the reason."""


class TrainingError(ClassifierError):
    """Training cannot run (too few labels, bad data), or its model scores worse than the one in use."""
