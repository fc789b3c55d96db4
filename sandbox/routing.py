"""URL registry: every API path answers with and without `.json`, as Zendesk's do.

Several modules serve the same path with different methods (GET /tickets lists, POST
/tickets creates), so modules register (pattern, method, view) here and urls.py builds one
URL per pattern that dispatches on the method:

    route("tickets", "GET", ticket_list)
    route(r"tickets/(?P<ticket_id>[^/.]+)", "PUT", ticket_update)

Ids are captured loosely (`[^/.]+`) so a non-numeric id reaches the view and gets Zendesk's
400/404 instead of Django's HTML 404. Non-API paths (/oauth/..., /_sandbox/...) use
`raw=True` and are matched as given (anchored, no `.json`).
"""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import URLPattern, re_path
from django.views.decorators.csrf import csrf_exempt

_routes: dict[str, dict[str, Callable]] = {}


def route(pattern: str, method: str, view: Callable, *, raw: bool = False) -> None:
    regex = rf"^{pattern}$" if raw else rf"^api/v2/{pattern}(?:\.json)?$"
    _routes.setdefault(regex, {})[method.upper()] = view


def _dispatcher(views: dict[str, Callable]) -> Callable:
    @csrf_exempt
    def dispatch(request: HttpRequest, **kwargs) -> HttpResponse:
        method = "GET" if request.method == "HEAD" else request.method
        view = views.get(method)
        if view is None:
            return JsonResponse(
                {"error": "InvalidEndpoint", "description": "Not found"}, status=404
            )
        return view(request, **kwargs)

    return dispatch


def urlpatterns() -> list[URLPattern]:
    # Literal paths (tickets/count, tickets/show_many) must win over tickets/<id>: register
    # order is kept, and literal patterns sort before those with a capture group.
    ordered = sorted(_routes.items(), key=lambda item: "(?P<" in item[0])
    return [re_path(regex, _dispatcher(views)) for regex, views in ordered]
