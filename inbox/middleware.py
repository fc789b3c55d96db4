"""Middleware of the app's own."""

from __future__ import annotations

from collections.abc import Callable

from django.core.exceptions import TooManyFieldsSent
from django.http import HttpRequest, HttpResponse


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
