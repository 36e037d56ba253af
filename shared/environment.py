"""Where Rasid's configuration comes from: ``RASID_...`` environment variables and an optional ``.env``
file in the working folder.

Apart from :mod:`shared.settings` (pydantic-settings, which reads them) so that a command can tell
whether anything is configured without importing pydantic: when nothing is, every setting is its
default, and ``rasid classify`` starts without reading them.
"""

from __future__ import annotations

import os
from pathlib import Path

ENV_PREFIX = "RASID_"
ENV_FILE = ".env"


def configured() -> bool:
    """Whether a ``RASID_...`` variable is set (in any case: the settings read names regardless of
    case) or an ``.env`` file is there to be read."""
    return any(name.upper().startswith(ENV_PREFIX) for name in os.environ) or Path(ENV_FILE).exists()
