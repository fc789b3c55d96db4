"""Middleware of the app's own."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.core.exceptions import TooManyFieldsSent
from django.db import connection
from django.http import HttpRequest, HttpResponse

from inbox.zendesk import request_cost


class UnreadableQueryStringMiddleware:
    """A query string Django cannot read gets the app's 400 page, with DEBUG on too.

    Django reads `request.GET` lazily. When the first reader (a view) meets too many fields,
    Django turns the error into a 400 -- but with DEBUG on it renders its technical page, which
    reads `request.GET` again, fails again, and the development server answers its bare 500
    (Django marks a POST body it could not read, never the query string). Reading the query
    string once here, before anything else does, answers the same 400 page as production.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        try:
            request.GET  # noqa: B018 (parsed here on purpose)
        except TooManyFieldsSent as error:
            from inbox.views import bad_request

            return bad_request(request, error)
        return self.get_response(request)


class ServerTimingMiddleware:
    """Every answer says what it cost in a `Server-Timing` header: the app's own time (and its
    thread's CPU time), the Zendesk calls it waited for (and their time), the request's own
    database queries, a wait for another request's identical call, how a part of the answer
    was made (a word such as the poll's, see `request_cost.note`), and whether the answer came
    from the cache alone:

        Server-Timing: app;dur=212.4, cpu;dur=9.8, zendesk;desc="1 call";dur=181.0,
                       db;desc="2 queries";dur=1.1, poll;desc="moved", cache;desc="miss"

    An agent's devtools show it beside the request; an operator's proxy can log it; the team
    benchmark splits its latencies by it. Counts, durations and those words only: no URL, id
    or token. First in MIDDLEWARE, so `app` covers every other middleware too.
    https://developer.mozilla.org/en-US/docs/Web/HTTP/Reference/Headers/Server-Timing
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        with request_cost.counting() as cost, connection.execute_wrapper(request_cost.timed_query):
            response = self.get_response(request)
        response["Server-Timing"] = cost.server_timing()
        return response

    def process_view(
        self, request: HttpRequest, view_func: Any, view_args: Any, view_kwargs: Any
    ) -> None:
        """Name the request by its view (the operator's counters of upstream calls)."""
        cost = request_cost.current()
        match = request.resolver_match
        if cost is not None and match is not None:
            cost.route = match.url_name or ""
