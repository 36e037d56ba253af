"""Rasid's web face: one ASGI app that ``shared`` assembles from the routes each service contributes.

``rasid web`` serves it. Each service names an ``APIRouter`` in the ``rasid.web`` entry point group;
``shared`` mounts them under ``/api/v1`` and adds what it owns itself: health (``/healthz``,
``/readyz``), API tokens (:mod:`shared.web.tokens`), problem details for errors
(:mod:`shared.web.problems`) and keyset pagination (:mod:`shared.web.pages`).
"""
