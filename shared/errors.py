"""Errors that any Rasid process can raise.

RasidError
 ├── ConfigurationError   a setting is missing or malformed; names the variable
 ├── MessageError         a broker message does not match its schema
 └── SchemaNotCurrentError  the database is not at the head of every service's migrations
"""


class RasidError(Exception):
    """Base class of every error Rasid raises on purpose."""


class ConfigurationError(RasidError):
    """A setting is missing or malformed. The message names the environment variable."""


class MessageError(RasidError):
    """A message taken from the broker does not match its schema."""


class SchemaNotCurrentError(RasidError):
    """A service's tables are missing or behind its migrations: ``rasid db upgrade`` is needed."""
