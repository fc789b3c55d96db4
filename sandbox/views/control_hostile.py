"""POST /_sandbox/hostile {"strings": [...]}: hostile text in every place a person can write.

Anyone who can email a Zendesk account chooses a ticket's subject, their own name and a
comment's text; admins name groups, organizations, custom fields and their options; agents
choose tags and file names. An app that shows Zendesk's data must show all of it as text. This
control rewrites the seeded account so that each of those places carries one of the given
strings, cycling through them row by row (row i gets string i mod n, so a short list still
reaches every page): ticket subjects and descriptions, comments' `body` and their `html_body`
as raw markup (no upstream sanitizer to lean on), every user's name (requesters, assignees,
CCs and the signed-in agent), group and organization names, custom status labels, a tag per
ticket, the text field's value and the drop-down's title and option names, activity titles
with the subjects and comments they carry, and attachment file names. Ids, emails, statuses and dates stay,
so sign-in and every list still work. POST /_sandbox/reset puts the seed back.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from django.db import transaction
from django.http import HttpRequest, JsonResponse

from sandbox import jsonbody
from sandbox.models import (
    Activity,
    Attachment,
    Comment,
    CustomStatus,
    FieldLabel,
    Group,
    Organization,
    Ticket,
    User,
)
from sandbox.routing import route
from sandbox.ticket_fields import TICKET_FIELDS

MAX_STRINGS = 200
MAX_STRING_CHARS = 20_000
BATCH = 500


def _invalid(description: str) -> JsonResponse:
    return JsonResponse({"error": "InvalidControl", "description": description}, status=400)


def _strings(request: HttpRequest) -> list[str] | None:
    try:
        body = jsonbody.loads(request.body or b"{}")
    except ValueError:
        return None
    strings = body.get("strings") if isinstance(body, dict) else None
    if not isinstance(strings, list) or not 0 < len(strings) <= MAX_STRINGS:
        return None
    if not all(isinstance(text, str) and 0 < len(text) <= MAX_STRING_CHARS for text in strings):
        return None
    return strings


def _as_tag(text: str) -> str:
    """Zendesk splits tags at whitespace: the hostile tag keeps every other character."""
    return "_".join(text.split()) or "hostile"


def _cycle(strings: Sequence[str], offset: int = 0) -> Callable[[int], str]:
    return lambda index: strings[(index + offset) % len(strings)]


def _rename_unique(model: type, field: str, strings: Sequence[str]) -> int:
    """Names that must stay unique (groups, organizations) get their row's number after."""
    rows = list(model.objects.order_by("id"))
    pick = _cycle(strings)
    for index, row in enumerate(rows):
        setattr(row, field, f"{pick(index)} {index + 1}")
    model.objects.bulk_update(rows, [field], batch_size=BATCH)
    return len(rows)


def _rename(model: type, field: str, strings: Sequence[str], offset: int = 0) -> int:
    rows = list(model.objects.order_by("id"))
    pick = _cycle(strings, offset)
    for index, row in enumerate(rows):
        setattr(row, field, pick(index))
    model.objects.bulk_update(rows, [field], batch_size=BATCH)
    return len(rows)


def _comments(strings: Sequence[str]) -> dict[int, str]:
    """Every comment's body and raw html_body; returns each ticket's first body (its
    description, which Zendesk keeps equal to the first comment)."""
    comments = list(Comment.objects.order_by("ticket_id", "created_at", "id"))
    body_of, html_of = _cycle(strings), _cycle(strings, 1)
    first: dict[int, str] = {}
    for index, comment in enumerate(comments):
        comment.body = body_of(index)
        comment.html_body = html_of(index)
        first.setdefault(comment.ticket_id, comment.body)
    Comment.objects.bulk_update(comments, ["body", "html_body"], batch_size=BATCH)
    return first


def _tickets(strings: Sequence[str], descriptions: dict[int, str]) -> dict[int, str]:
    """Subjects, descriptions, a hostile tag and the text field's value; returns the subjects."""
    tickets = list(Ticket.objects.order_by("id"))
    subject_of, tag_of, text_of = _cycle(strings), _cycle(strings, 2), _cycle(strings, 3)
    text_fields = [str(field.id) for field in TICKET_FIELDS if field.type in ("text", "textarea")]
    for index, ticket in enumerate(tickets):
        ticket.subject = subject_of(index)
        ticket.description = descriptions.get(ticket.id, ticket.description)
        ticket.tags = sorted({*ticket.tags, _as_tag(tag_of(index))})
        ticket.custom_values = {field_id: text_of(index) for field_id in text_fields}
    Ticket.objects.bulk_update(
        tickets, ["subject", "description", "tags", "custom_values"], batch_size=BATCH
    )
    return {ticket.id: ticket.subject for ticket in tickets}


def _activities(strings: Sequence[str], subjects: dict[int, str]) -> int:
    """Titles and the comments they quote from the strings; the subjects they carry follow
    their tickets'."""
    activities = list(Activity.objects.order_by("id"))
    title_of, comment_of = _cycle(strings, 4), _cycle(strings, 9)
    for index, activity in enumerate(activities):
        activity.title = title_of(index)
        for part in (activity.object, activity.target):
            ticket = part.get("ticket") if isinstance(part, dict) else None
            if isinstance(ticket, dict) and ticket.get("id") in subjects:
                ticket["subject"] = subjects[ticket["id"]]
        comment = activity.object.get("comment") if isinstance(activity.object, dict) else None
        if isinstance(comment, dict):
            comment["value"] = comment_of(index)
    Activity.objects.bulk_update(activities, ["title", "object", "target"], batch_size=BATCH)
    return len(activities)


def _field_labels(strings: Sequence[str]) -> int:
    pick = _cycle(strings, 5)
    keys = [f"field:{field.id}" for field in TICKET_FIELDS]
    keys += [f"option:{option.id}" for field in TICKET_FIELDS for option in field.options]
    FieldLabel.objects.all().delete()
    FieldLabel.objects.bulk_create(
        [FieldLabel(key=key, name=pick(index)) for index, key in enumerate(keys)]
    )
    return len(keys)


def sandbox_hostile(request: HttpRequest) -> JsonResponse:
    strings = _strings(request)
    if strings is None:
        return _invalid(
            f'the body must be {{"strings": [...]}}: 1 to {MAX_STRINGS} strings of 1 to '
            f"{MAX_STRING_CHARS} characters"
        )
    with transaction.atomic():
        descriptions = _comments(strings)
        subjects = _tickets(strings, descriptions)
        counts = {
            "tickets": len(subjects),
            "comments": Comment.objects.count(),
            "users": _rename(User, "name", strings, offset=6),
            "groups": _rename_unique(Group, "name", strings),
            "organizations": _rename_unique(Organization, "name", strings[::-1]),
            "custom_statuses": _rename(CustomStatus, "agent_label", strings, offset=7),
            "activities": _activities(strings, subjects),
            "attachments": _rename(Attachment, "file_name", strings, offset=8),
            "field_labels": _field_labels(strings),
        }
    return JsonResponse({"placed": counts})


route("_sandbox/hostile", "POST", sandbox_hostile, raw=True)
