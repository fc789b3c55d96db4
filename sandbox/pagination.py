"""Zendesk's two pagination schemes, shared by every sandbox list.

Cursor mode (`page[size]` present, 1..100): keyset pages over an `Ordering`, opaque cursors
(base64 of `{"o": <ordering label>, "v": <base64 of the last row's sort values>}`),
`meta {has_more, after_cursor, before_cursor}` and `links {prev, next}`. An empty page has
null cursors and links. `page[before]` walks back.

Offset mode (otherwise): `page`, `per_page` (at most 100), `next_page`, `previous_page`,
`count`; asking past 10,000 records answers 400 InvalidPaginationDepth, as Zendesk does.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from django.core.exceptions import ValidationError
from django.db.models import Model, Q, QuerySet
from django.http import HttpRequest

from sandbox import errors

MAX_PAGE_SIZE = 100
DEFAULT_PER_PAGE = 100
MAX_OFFSET_DEPTH = 10_000
MAX_SQL_INTEGER = 2**63 - 1
PAGE_PARAMS = ("page[size]", "page[after]", "page[before]", "page", "per_page")
# ASCII digits only: int() would also read " 5", "5_0" and Arabic-Indic digits.
_ASCII_INTEGER = re.compile(r"-?[0-9]+")


@dataclass(frozen=True)
class Ordering:
    """How a list is sorted: a cursor label and ORM keys, the last one unique (an id).

    `keys` are (field, descending) pairs; cursor mode needs every key readable as an
    attribute of the rows (a model field or an annotation).
    """

    label: str
    keys: tuple[tuple[str, bool], ...]

    def order_by(self) -> list[str]:
        return [("-" if descending else "") + name for name, descending in self.keys]

    def reversed(self) -> Ordering:
        return Ordering(self.label, tuple((name, not desc) for name, desc in self.keys))


@dataclass
class Page:
    """The rows of one page and the pagination keys to merge into the response body."""

    rows: list[Model]
    fields: dict[str, Any]


def is_cursor_mode(request: HttpRequest) -> bool:
    return (
        "page[size]" in request.GET or "page[after]" in request.GET or "page[before]" in request.GET
    )


def paginate(request: HttpRequest, queryset: QuerySet, ordering: Ordering, *, url: str) -> Page:
    """One page of `queryset` in the mode the request asks for; `url` is the list's own URL."""
    if is_cursor_mode(request):
        return _cursor_page(request, queryset, ordering, url=url)
    return _offset_page(request, queryset, ordering, url=url)


def _int_param(request: HttpRequest, name: str, default: int, *, cursor: bool = False) -> int:
    raw = request.GET.get(name)
    if raw is None or raw == "":
        return default
    if not _ASCII_INTEGER.fullmatch(raw):
        message = f"{name} must be an integer"
        if cursor:
            raise errors.invalid_pagination_parameter(message)
        raise errors.bad_request("InvalidPaginationParameter", message)
    return int(raw)


# -- cursor mode ------------------------------------------------------------------------------


def _encode_value(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return {"t": value.isoformat()}
    return value


def _decode_value(value: Any) -> Any:
    """A sort value back from a cursor; anything this module would not write is refused."""
    if isinstance(value, dict):
        return as_utc(dt.datetime.fromisoformat(value["t"]))
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise ValueError("unexpected value in cursor")
    if isinstance(value, int) and not -MAX_SQL_INTEGER <= value <= MAX_SQL_INTEGER:
        raise ValueError("number out of range in cursor")
    return value


def as_utc(moment: dt.datetime) -> dt.datetime:
    """A time in UTC (naive ones read as UTC), as the database compares them.

    Raises OverflowError for a time that has no UTC equivalent (9999-12-31T23:00-14:00):
    converting it here, where callers turn it into a 400, keeps the query from failing later.
    """
    if moment.tzinfo is None:
        return moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(dt.UTC)


def encode_cursor(ordering: Ordering, row: Model) -> str:
    values = [_encode_value(getattr(row, name)) for name, _ in ordering.keys]
    inner = base64.b64encode(json.dumps(values, separators=(",", ":")).encode()).decode()
    outer = json.dumps({"o": ordering.label, "v": inner}, separators=(",", ":"))
    return base64.b64encode(outer.encode()).decode()


def decode_cursor(ordering: Ordering, cursor: str) -> list[Any]:
    """The sort values a cursor points at; 400 for anything not made by this ordering."""
    try:
        outer = json.loads(base64.b64decode(cursor, validate=True))
        if outer.get("o") != ordering.label:
            raise ValueError("cursor made for another sort order")
        values = json.loads(base64.b64decode(outer["v"], validate=True))
        if not isinstance(values, list) or len(values) != len(ordering.keys):
            raise ValueError("cursor has the wrong shape")
        return [_decode_value(value) for value in values]
    except (
        ValueError,
        TypeError,
        KeyError,
        AttributeError,
        OverflowError,
        RecursionError,
        binascii.Error,
    ) as exc:
        raise errors.invalid_pagination_parameter("Invalid cursor") from exc


def _beyond_cursor(queryset: QuerySet, ordering: Ordering, cursor: str) -> QuerySet:
    """Rows after the cursor's row in `ordering`; a forged cursor is a 400, not a 500."""
    try:
        return queryset.filter(_after(ordering, decode_cursor(ordering, cursor)))
    except (ValueError, TypeError, ValidationError) as exc:
        raise errors.invalid_pagination_parameter("Invalid cursor") from exc


def _after(ordering: Ordering, values: list[Any]) -> Q:
    """Rows strictly after `values` in `ordering`: (a > x) or (a = x and b > y) ..."""
    condition = Q(pk__in=[])
    for index, (name, descending) in enumerate(ordering.keys):
        equal_before = {
            key: value for (key, _), value in zip(ordering.keys[:index], values, strict=False)
        }
        beyond = {f"{name}__{'lt' if descending else 'gt'}": values[index]}
        condition |= Q(**equal_before, **beyond)
    return condition


def _page_link(url: str, request: HttpRequest, **page: str | int) -> str:
    params = [(k, v) for k, v in request.GET.items() if k not in PAGE_PARAMS]
    params += [(f"page[{name}]", value) for name, value in page.items()]
    return f"{url}?{urlencode(params)}"


def _cursor_page(request: HttpRequest, queryset: QuerySet, ordering: Ordering, *, url: str) -> Page:
    size = _int_param(request, "page[size]", MAX_PAGE_SIZE, cursor=True)
    if not 1 <= size <= MAX_PAGE_SIZE:
        raise errors.invalid_pagination_parameter(
            f"page[size] must be between 1 and {MAX_PAGE_SIZE}"
        )
    before = request.GET.get("page[before]")
    after = request.GET.get("page[after]")
    if before:
        walk = ordering.reversed()
        queryset = _beyond_cursor(queryset, walk, before)
        rows = list(reversed(queryset.order_by(*walk.order_by())[:size]))
    else:
        if after:
            queryset = _beyond_cursor(queryset, ordering, after)
        rows = list(queryset.order_by(*ordering.order_by())[:size])
    # A full page says there is more even when it happens to be the last: the next page is then
    # empty with has_more false. Zendesk's reference and OpenAPI description read has_more as
    # exact, but real recordings (activities walked with page[size]=1) show this, and the
    # recording wins:
    # https://developer.zendesk.com/api-reference/introduction/pagination/#using-cursor-pagination
    has_more = len(rows) == size
    if not rows:
        meta = {"has_more": False, "after_cursor": None, "before_cursor": None}
        return Page(rows, {"meta": meta, "links": {"prev": None, "next": None}})
    after_cursor = encode_cursor(ordering, rows[-1])
    before_cursor = encode_cursor(ordering, rows[0])
    return Page(
        rows,
        {
            "meta": {
                "has_more": has_more,
                "after_cursor": after_cursor,
                "before_cursor": before_cursor,
            },
            "links": {
                "prev": _page_link(url, request, before=before_cursor, size=size),
                "next": _page_link(url, request, after=after_cursor, size=size),
            },
        },
    )


# -- offset mode ------------------------------------------------------------------------------


def _offset_link(url: str, request: HttpRequest, page: int, per_page: int) -> str:
    """`per_page` only when the request carried it, as recorded `next_page` URLs do."""
    params = [(k, v) for k, v in request.GET.items() if k not in PAGE_PARAMS]
    params.append(("page", page))
    if "per_page" in request.GET:
        params.append(("per_page", per_page))
    return f"{url}?{urlencode(params)}"


def _offset_page(request: HttpRequest, queryset: QuerySet, ordering: Ordering, *, url: str) -> Page:
    page = _int_param(request, "page", 1)
    per_page = min(_int_param(request, "per_page", DEFAULT_PER_PAGE), MAX_PAGE_SIZE)
    if page < 1 or per_page < 1:
        raise errors.bad_request("InvalidPaginationParameter", "page and per_page must be positive")
    if page * per_page > MAX_OFFSET_DEPTH:
        raise errors.invalid_pagination_depth()
    total = queryset.count()
    start = (page - 1) * per_page
    rows = list(queryset.order_by(*ordering.order_by())[start : start + per_page])
    has_next = start + per_page < total
    return Page(
        rows,
        {
            "next_page": _offset_link(url, request, page + 1, per_page) if has_next else None,
            "previous_page": _offset_link(url, request, page - 1, per_page) if page > 1 else None,
            "count": total,
        },
    )
