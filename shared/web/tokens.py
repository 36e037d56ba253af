"""API tokens: who may call the API, and whether they may write.

The table ``web_tokens`` belongs to the web part of ``shared``, with its own migrations (version
table ``alembic_version_web``): every service's routes are guarded by the same tokens, and no
service may own what the others depend on. A token is shown once, when it is created; only its
SHA-256 is stored (tokens are 32 random bytes, so a slow hash adds nothing), and it is looked up by
that hash. A revoked token stays listed with the time it was revoked.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Boolean, Integer, String, select, update
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from shared.db import UTCDateTime, make_metadata, utc_now
from shared.errors import RasidError

TOKEN_PREFIX = "rsd_"
TOKEN_BYTES = 32


class TokenError(RasidError):
    """A token cannot be created or revoked (unknown id, empty name)."""


class Base(DeclarativeBase):
    """Declarative base of the web part's tables."""

    metadata = make_metadata()


class ApiToken(Base):
    """One API token: its name, the SHA-256 of its secret, and what it may do."""

    __tablename__ = "web_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(128))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    read_only: Mapped[bool] = mapped_column(Boolean)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


@dataclass(frozen=True)
class NewToken:
    """A token just made: its id, and the secret shown this once."""

    id: int
    token: str


@dataclass(frozen=True)
class Caller:
    """Who called the API: the token's id and name, and whether it may write."""

    token_id: int
    name: str
    read_only: bool


def hash_token(token: str) -> str:
    """The stored form of a token."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def create_token(session: Session, name: str, *, read_only: bool, now: datetime | None = None) -> NewToken:
    """Make a token named ``name``; the caller commits and shows the secret once."""
    name = " ".join(name.split())
    if not name:
        raise TokenError("a token needs a name")
    token = TOKEN_PREFIX + secrets.token_urlsafe(TOKEN_BYTES)
    row = ApiToken(
        name=name[:128], token_hash=hash_token(token), read_only=read_only, created_at=now or utc_now()
    )
    session.add(row)
    session.flush()
    return NewToken(id=row.id, token=token)


def list_tokens(session: Session) -> list[ApiToken]:
    """Every token, revoked ones too, oldest first."""
    return list(session.scalars(select(ApiToken).order_by(ApiToken.id)))


def revoke_token(session: Session, token_id: int, *, now: datetime | None = None) -> None:
    """Revoke a token: it is refused from now on."""
    revoked = session.execute(
        update(ApiToken)
        .where(ApiToken.id == token_id, ApiToken.revoked_at.is_(None))
        .values(revoked_at=now or utc_now())
        .execution_options(synchronize_session=False)
    )
    if revoked.rowcount != 1:  # type: ignore[attr-defined]
        raise TokenError(f"no active token {token_id}")


def find_caller(session: Session, token: str) -> Caller | None:
    """Who ``token`` belongs to, or None when it is unknown or revoked."""
    row = session.scalars(
        select(ApiToken).where(ApiToken.token_hash == hash_token(token), ApiToken.revoked_at.is_(None))
    ).one_or_none()
    return None if row is None else Caller(token_id=row.id, name=row.name, read_only=row.read_only)
