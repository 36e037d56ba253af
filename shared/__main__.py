"""``python -m shared`` is the ``rasid`` command."""

from shared.cli import main

main()
