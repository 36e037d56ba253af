"""Errors that any Rasid process can raise.

RasidError
 ├── ConfigurationError   a setting is missing or malformed; names the variable
 ├── MessageError         a broker message does not match its schema
 ├── SchemaNotCurrentError  the database is not at the head of every service's migrations
 ├── DataFileError        a YAML data file is malformed; names the file, line and reason
 │    └── GazetteerError  ... the gazetteer (countries, groups, places)
 └── UnreadableDocument   a file's bytes are not a readable Arabic article; ``reason`` says why
"""


class RasidError(Exception):
    """Base class of every error Rasid raises on purpose."""


class ConfigurationError(RasidError):
    """A setting is missing or malformed. The message names the environment variable."""


class MessageError(RasidError):
    """A message taken from the broker does not match its schema."""


class SchemaNotCurrentError(RasidError):
    """A service's tables are missing or behind its migrations: ``rasid db upgrade`` is needed."""


class UnreadableDocument(RasidError):  # noqa: N818 -- reads as a verdict: raise UnreadableDocument(reason)
    """A document's bytes cannot be read as an Arabic article. ``reason`` is written for a person."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class DataFileError(RasidError):
    """A data file cannot be used. The message says which file, which line and why."""

    def __init__(self, message: str, *, path: str = "", line: int | None = None) -> None:
        where = f"{path}:{line}: " if line is not None else (f"{path}: " if path else "")
        super().__init__(f"{where}{message}")
        self.path = path
        self.line = line
        self.reason = message


class GazetteerError(DataFileError):
    """The gazetteer file is malformed."""
