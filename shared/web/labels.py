"""The dashboard's words in Arabic (the default) and English: one catalog mechanism for every page.

Each package with templates keeps its own words beside them, in ``templates/labels.yaml``: a key, then
the label in each language (``articles: {ar: الأخبار, en: Articles}``). A template says
``{{ t("articles") }}``; ``t`` looks the key up in its package's catalog, then in the shared one, in
the browser's language. The language is chosen with ``?lang=en`` (or ``?lang=ar``) on any page and
kept in a cookie; :func:`page_direction` gives the ``dir`` the page is laid out in.

Values fill a label's ``{name}`` fields escaped, unless they are markup already (a macro's output),
so a label can hold a ``<bdi>`` around a number without holding any HTML itself.

A catalog missing a language for a key, or a template naming a key no catalog has, fails loudly: a
page never shows a bare key.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping
from importlib.resources import files
from typing import Any

import yaml
from fastapi import Request
from jinja2 import pass_context
from jinja2.runtime import Context
from markupsafe import Markup
from starlette.responses import Response

LANGUAGES = ("ar", "en")
DEFAULT_LANGUAGE = "ar"
LANGUAGE_COOKIE = "rasid_lang"
LANGUAGE_COOKIE_SECONDS = 365 * 24 * 3600
CATALOG_FILE = "labels.yaml"
_DIRECTIONS = {"ar": "rtl", "en": "ltr"}


class LabelError(Exception):
    """A catalog is malformed, or a page asked for a key no catalog has."""


def read_catalog(package: str) -> dict[str, dict[str, str]]:
    """The labels of ``package`` (its ``templates/labels.yaml``); empty when it has none."""
    resource = files(package).joinpath("templates", CATALOG_FILE)
    if not resource.is_file():
        return {}
    return checked_catalog(yaml.safe_load(resource.read_text(encoding="utf-8")) or {}, origin=package)


def checked_catalog(raw: Mapping[str, Any], *, origin: str) -> dict[str, dict[str, str]]:
    """``raw`` as a catalog, or :class:`LabelError` naming the key that lacks a language."""
    catalog: dict[str, dict[str, str]] = {}
    for key, labels in raw.items():
        if not isinstance(labels, Mapping) or any(
            not isinstance(labels.get(language), str) for language in LANGUAGES
        ):
            raise LabelError(f"{origin}: label {key!r} needs a text in each of {', '.join(LANGUAGES)}")
        catalog[str(key)] = {language: labels[language] for language in LANGUAGES}
    return catalog


class Labels:
    """The catalogs of some packages, the first that has a key winning."""

    def __init__(self, packages: Iterable[str]) -> None:
        self._catalogs = [read_catalog(package) for package in packages]

    def label(self, key: str, language: str, **values: object) -> str:
        """The label of ``key`` in ``language``, with ``{name}`` fields filled from ``values``."""
        for catalog in self._catalogs:
            if key in catalog:
                text = catalog[key][language if language in LANGUAGES else DEFAULT_LANGUAGE]
                return text.format(**values) if values else text
        raise LabelError(f"no label {key!r}")

    def keys(self) -> set[str]:
        """Every key the catalogs know."""
        return {key for catalog in self._catalogs for key in catalog}


def chosen_language(request: Request) -> str:
    """The language the browser asked for: ``?lang=``, else its cookie, else Arabic."""
    for asked in (request.query_params.get("lang"), request.cookies.get(LANGUAGE_COOKIE)):
        if asked in LANGUAGES:
            return asked
    return DEFAULT_LANGUAGE


def page_direction(language: str) -> str:
    """``rtl`` or ``ltr``: how a page in ``language`` is laid out."""
    return _DIRECTIONS.get(language, "rtl")


def template_globals(labels: Labels) -> dict[str, Any]:
    """What a template environment needs to speak the browser's language: ``t(key, **values)``,
    ``language()``, ``direction()`` and ``other_language_url()`` (the switch in the header)."""

    def language_of(context: Context) -> str:
        request = context.get("request")
        return chosen_language(request) if isinstance(request, Request) else DEFAULT_LANGUAGE

    @pass_context
    def t(context: Context, key: str, **values: object) -> Markup:
        # The label is text; values are escaped unless already markup (a macro's <bdi>).
        return Markup.escape(labels.label(key, language_of(context))).format(**values)

    @pass_context
    def language(context: Context) -> str:
        return language_of(context)

    @pass_context
    def direction(context: Context) -> str:
        return page_direction(language_of(context))

    @pass_context
    def other_language_url(context: Context) -> str:
        """This page in the other language: the same path and query, another ``lang``."""
        request = context.get("request")
        other = "en" if language_of(context) == "ar" else "ar"
        if not isinstance(request, Request):
            return f"?lang={other}"
        return f"{request.url.path}?{request.url.include_query_params(lang=other).query}"

    return {
        "t": t,
        "language": language,
        "direction": direction,
        "other_language_url": other_language_url,
    }


async def remember_language(
    request: Request, call_next: Callable[[Request], Awaitable[Response]]
) -> Response:
    """HTTP middleware: a page asked for with ``?lang=`` keeps that language in a cookie."""
    response = await call_next(request)
    asked = request.query_params.get("lang")
    if asked in LANGUAGES and request.cookies.get(LANGUAGE_COOKIE) != asked:
        response.set_cookie(
            LANGUAGE_COOKIE, asked, max_age=LANGUAGE_COOKIE_SECONDS, httponly=True, samesite="lax"
        )
    return response
