"""Settings of the web process (``RASID_WEB_HOST``, ``RASID_WEB_PORT``)."""

from __future__ import annotations

from functools import cache

from pydantic import Field, SecretStr

from shared.settings import RasidSettings, load_settings


class WebSettings(RasidSettings):
    """Where ``rasid web`` listens: loopback by default; the container sets 0.0.0.0."""

    web_host: str = Field(default="127.0.0.1", description="Address the web process listens on.")
    web_port: int = Field(default=8080, ge=1, le=65535, description="Port the web process listens on.")
    admin_password: SecretStr | None = Field(
        default=None,
        description="Password that signs in to the dashboard (RASID_ADMIN_PASSWORD); unset: tokens only.",
    )
    web_secret: SecretStr | None = Field(
        default=None,
        description="Key that signs dashboard session cookies; unset: a new one at each start.",
    )


@cache
def web_settings() -> WebSettings:
    """The web settings, built once per process."""
    return load_settings(WebSettings)
