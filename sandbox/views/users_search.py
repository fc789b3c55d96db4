"""Finding a requester as an agent types: `GET /api/v2/users/search` and `/users/autocomplete`.

Search Users (https://developer.zendesk.com/api-reference/ticketing/users/users/#search-users):
`query` in Zendesk's search syntax matches partial or full values of a user's properties; plain
words match the name or email here, and `name:`, `email:`, `role:`, `external_id:` and
`organization:` narrow to one property (a quoted "phrase" is one word). `external_id` (a
separate parameter) takes an id only, exactly. Offset pagination only, up to 100 a page and
10,000 records a query (deeper pages are the 400 every offset list answers).

Autocomplete Users (https://developer.zendesk.com/api-reference/ticketing/users/users/#autocomplete-users):
users whose name starts with `name`; like Zendesk's own example (`gil` finds "Terry Gilliam"),
any word of the name may be the start. Offset paginated like search.

Empty and short input, which the reference does not cover: a search without `query` or
`external_id` (or with only spaces) and an autocomplete without `name` are 400s in Zendesk's
general error shape, since there is nothing to look for; an autocomplete `name` shorter than
2 characters is a 400 too, so a picker learns to wait for the second keystroke instead of
listing the whole account. Both are agents-only, as the reference says.
"""

from __future__ import annotations

import re
import shlex

from django.db.models import Q, QuerySet
from django.http import HttpRequest, JsonResponse

from sandbox import errors, serializers
from sandbox.auth import Caller, api_view
from sandbox.models import User
from sandbox.pagination import Ordering, is_cursor_mode, paginate
from sandbox.routing import route
from sandbox.views.reads import list_url, users_json

MAX_QUERY_LENGTH = 1000
MIN_AUTOCOMPLETE_LENGTH = 2
MAX_AUTOCOMPLETE_LENGTH = 200
BY_NAME = Ordering("name,id", (("name", False), ("id", False)))
ROLES = {"end-user", "agent", "admin"}


def _printable(name: str, value: str) -> str:
    """Control characters cannot be part of a name or email (and NUL ends a SQLite pattern)."""
    if any(ord(char) < 32 or ord(char) == 127 for char in value):
        raise errors.bad_request("InvalidValue", f"{name} must not contain control characters")
    return value


def _offset_only(request: HttpRequest) -> None:
    """Zendesk's user search pages by offset only: a cursor parameter is refused, not ignored."""
    if is_cursor_mode(request):
        raise errors.bad_request(
            "InvalidPaginationParameter",
            "User search supports offset pagination only: use page and per_page.",
        )


def _words(query: str) -> list[str]:
    """Words and "quoted phrases"; an unbalanced quote reads as a plain character."""
    try:
        return shlex.split(query)
    except ValueError:
        return query.split()


def _term(word: str) -> Q:
    """One word of a query: `property:value` or plain text (name or email)."""
    key, colon, value = word.partition(":")
    key = key.lower()
    if colon and value:
        if key == "name":
            return Q(name__icontains=value)
        if key == "email":
            return Q(email__icontains=value)
        if key == "external_id":
            return Q(external_id=value)
        if key == "organization":
            return Q(organization__name__icontains=value)
        if key == "role":
            if value.lower() not in ROLES:
                raise errors.bad_request("InvalidValue", f"role must be one of {sorted(ROLES)}")
            return Q(role=value.lower())
    return Q(name__icontains=word) | Q(email__icontains=word)


def matching_users(query: str) -> QuerySet[User]:
    users = User.objects.all()
    for word in _words(query):
        users = users.filter(_term(word))
    return users


def users_page(request: HttpRequest, users: QuerySet[User]) -> JsonResponse:
    _offset_only(request)
    page = paginate(request, users.select_related("organization"), BY_NAME, url=list_url(request))
    body = {"users": users_json(page.rows, base_url=serializers.base_url(request))}
    # users_json sorts by id; search answers in its own order (name, then id).
    order = {user.id: index for index, user in enumerate(page.rows)}
    body["users"].sort(key=lambda user: order[user["id"]])
    body.update(page.fields)
    return JsonResponse(body)


@api_view(agents_only=True)
def user_search(request: HttpRequest, caller: Caller) -> JsonResponse:
    external_id = request.GET.get("external_id")
    query = _printable("query", request.GET.get("query", "").replace("\t", " "))
    if len(query) > MAX_QUERY_LENGTH:
        raise errors.bad_request(
            "InvalidValue", f"query is too long (at most {MAX_QUERY_LENGTH} characters)"
        )
    if external_id is not None and external_id.strip():
        return users_page(request, User.objects.filter(external_id=external_id.strip()))
    if not query.strip():
        raise errors.bad_request(
            "InvalidValue", "query or external_id is required: what should be searched for?"
        )
    return users_page(request, matching_users(query))


_WORD_START = r"(^|\s)"


@api_view(agents_only=True)
def user_autocomplete(request: HttpRequest, caller: Caller) -> JsonResponse:
    name = " ".join(_printable("name", request.GET.get("name", "")).split())
    if not name:
        raise errors.bad_request("InvalidValue", "name is required: the start of a user's name")
    if len(name) < MIN_AUTOCOMPLETE_LENGTH:
        raise errors.bad_request(
            "InvalidValue", f"name must be at least {MIN_AUTOCOMPLETE_LENGTH} characters"
        )
    if len(name) > MAX_AUTOCOMPLETE_LENGTH:
        raise errors.bad_request(
            "InvalidValue", f"name is too long (at most {MAX_AUTOCOMPLETE_LENGTH} characters)"
        )
    starts = User.objects.filter(name__iregex=_WORD_START + re.escape(name))
    return users_page(request, starts)


route("users/search", "GET", user_search)
route("users/autocomplete", "GET", user_autocomplete)
