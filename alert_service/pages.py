"""The alert service's pages outside the API (mounted at the site's root by :mod:`shared.web.app`,
entry point group ``rasid.pages``): the Atom feed of each subscription."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from alert_service.atom import ENTRIES, subscription_feed
from alert_service.errors import SubscriptionError
from alert_service.queries import alerted_articles
from alert_service.subscriptions import live_subscription
from shared.web.access import DbSession, QueryReader
from shared.web.pages import RowId
from shared.web.problems import PROBLEM_RESPONSES, Problem

ATOM_TYPE = "application/atom+xml; charset=utf-8"

router = APIRouter(responses=PROBLEM_RESPONSES)


@router.get(
    "/feeds/subscriptions/{subscription_id}.atom",
    tags=["feeds out"],
    summary="The articles a subscription was alerted about, as an Atom feed (?token= a read-only token).",
    response_class=Response,
    responses={200: {"content": {"application/atom+xml": {}}}},
)
def subscription_atom(
    subscription_id: RowId, request: Request, session: DbSession, _caller: QueryReader
) -> Response:
    try:
        subscription = live_subscription(session, subscription_id)
    except SubscriptionError as error:
        raise Problem(404, str(error), kind="not-found") from None
    items = alerted_articles(session, subscription_id, limit=ENTRIES)
    # The token stays out of the self link: the feed may be shared or logged.
    self_url = str(request.url.remove_query_params("token"))
    return Response(subscription_feed(subscription, items, self_url=self_url), media_type=ATOM_TYPE)
