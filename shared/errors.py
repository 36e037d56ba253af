"""Errors that any Rasid process can raise.

RasidError
 ├── ConfigurationError   a setting is missing or malformed; names the variable
 ├── MessageError         a broker message does not match its schema
 ├── SchemaNotCurrentError  the database is not at the head of every service's migrations
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
