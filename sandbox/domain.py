"""Ticket writes as Zendesk performs them, as plain functions the API and the simulator share.

`ticket_create` and `ticket_update` validate like Zendesk (422 RecordInvalid details),
write the ticket, its comment and an audit whose events read like the recorded ones, and
record the activities that follow for the agents affected by someone else's action:

- assigning a ticket to X (also at creation) gives X `tickets.assignment`;
- a comment on a ticket X is assigned to (or follows) gives X `tickets.comment`;
- raising the priority of X's ticket gives X `tickets.priority_increase`;
- never for one's own action (Zendesk's activities are what *other people* did).

Each write runs in one transaction. The sandbox's SQLite opens transactions IMMEDIATE, so
writers are serialized and `max(id) + 1` cannot collide with a concurrent write or the seed.
Nothing here knows about HTTP: failures are the exceptions below, which views render.
"""

from __future__ import annotations

import datetime as dt
import html
import logging
import re
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import models, transaction
from django.utils import timezone

from sandbox import ticket_fields
from sandbox.models import (
    Activity,
    Audit,
    Comment,
    CustomStatus,
    FieldLabel,
    Group,
    RequiredField,
    Ticket,
    User,
)
from sandbox.uploads import MAX_UPLOADS_PER_COMMENT, attach_uploads
from sandbox.visibility import visible_tickets

log = logging.getLogger(__name__)

MAX_COMMENTS_PER_TICKET = 5000
PRIORITY_RANK = {None: 0, "low": 1, "normal": 2, "high": 3, "urgent": 4}
# Audit event ids live in their own range (audit id * 100 + n) so they never meet the
# seed's (audit id * 10) or each other's.
EVENT_IDS_PER_AUDIT = 100


# -- failures ------------------------------------------------------------------------------


class WriteError(Exception):
    """A write Zendesk would refuse; views turn each kind into Zendesk's status and body."""


class TicketNotFound(WriteError):
    pass


class WriteForbidden(WriteError):
    pass


class StaleTicket(WriteError):
    """safe_update with an updated_stamp older than the ticket: Zendesk's 409."""


class TicketInvalid(WriteError):
    def __init__(self, details: dict[str, list[str | dict[str, str]]]):
        super().__init__(str(details))
        self.details = details


# -- results -------------------------------------------------------------------------------


@dataclass
class TicketWrite:
    """What a write did: the ticket and audit to answer with, and the activities it caused."""

    ticket: Ticket
    audit: Audit
    activities: list[Activity] = field(default_factory=list)
    changes: dict[str, tuple[Any, Any]] = field(default_factory=dict)
    comment: Comment | None = None


# -- visibility ----------------------------------------------------------------------------


def agent_may_see(user: User, ticket: Ticket) -> bool:
    """The same rule the reads use (sandbox.visibility), so writes never see more."""
    return visible_tickets(user).filter(id=ticket.id).exists()


# -- validation helpers --------------------------------------------------------------------


class _Problems:
    """Collects RecordInvalid details (field -> sentences), as Zendesk reports them all.

    A sentence may carry Zendesk's error code beside it (`{"description", "error"}`), as real
    422s do for some fields, e.g. `{"description": "Assignee: is invalid", "error":
    "InvalidValue"}` (a response pasted from a real account in
    https://github.com/facetoe/zenpy/issues/628).
    """

    def __init__(self) -> None:
        self.details: dict[str, list[str | dict[str, Any]]] = {}

    def add(self, name: str, message: str, *, error: str | None = None) -> None:
        self.add_entry(name, message if error is None else {"description": message, "error": error})

    def add_entry(self, name: str, entry: str | dict[str, Any]) -> None:
        """A sentence, or one with more beside it (its error code, a field's id and type)."""
        self.details.setdefault(name, []).append(entry)

    def raise_if_any(self) -> None:
        if self.details:
            raise TicketInvalid(self.details)


def _choice(fields: dict, name: str, allowed: list[str], problems: _Problems) -> str | None:
    value = fields[name]
    if value is None and name != "status":
        return None
    if not isinstance(value, str) or value.lower() not in allowed:
        label = name.capitalize()
        problems.add(name, f"{label}: {value!r} is not one of {', '.join(allowed)}")
        return None
    return value.lower()


def parse_id(value: Any) -> int | None:
    """Zendesk accepts ids as numbers or numeric strings."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    # ASCII digits only: isdigit() is also true for "²", which int() cannot read.
    if isinstance(value, str) and value.strip().isascii() and value.strip().isdigit():
        return int(value.strip())
    return None


def _referenced(fields: dict, key: str, model: type, problems: _Problems, field: str):
    """(given, row) for an id field such as assignee_id; an unknown id is a problem."""
    if key not in fields:
        return False, None
    raw = fields[key]
    if raw is None:
        return True, None
    row_id = parse_id(raw)
    row = model.objects.filter(id=row_id).first() if row_id is not None else None
    if row is None:
        problems.add(field, f"{field.capitalize()}: is invalid", error="InvalidValue")
    return True, row


def _assignee(fields: dict, problems: _Problems) -> tuple[bool, User | None]:
    """(given, user); an assignee must be an active agent.

    Zendesk refuses anyone else as it refuses an unknown id: 422 with
    `details.assignee: [{"description": "Assignee: is invalid", "error": "InvalidValue"}]`
    (as pasted from a real account in https://github.com/facetoe/zenpy/issues/628).
    """
    given, user = _referenced(fields, "assignee_id", User, problems, "assignee")
    if user is not None and (not user.is_agent or not user.active or user.suspended):
        problems.add("assignee", "Assignee: is invalid", error="InvalidValue")
        user = None
    return given, user


def _group(fields: dict, problems: _Problems) -> tuple[bool, Group | None]:
    return _referenced(fields, "group_id", Group, problems, "group")


def _tags(fields: dict, problems: _Problems) -> list[str] | None:
    if "tags" not in fields:
        return None
    raw = fields["tags"]
    if isinstance(raw, str):
        raw = raw.split()
    if not isinstance(raw, list) or not all(isinstance(tag, str) for tag in raw):
        problems.add("tags", "Tags: must be a list of words")
        return None
    # Zendesk tags are single lowercase words; a space separates two tags.
    words = [word.lower() for tag in raw for word in tag.split()]
    return list(dict.fromkeys(words))


def _text(fields: dict, name: str, problems: _Problems, *, max_length: int) -> str | None:
    value = fields.get(name)
    if value is None:
        return None
    if not isinstance(value, (str, int)) or isinstance(value, bool):
        problems.add(name, f"{name.capitalize()}: must be text")
        return None
    text = str(value).strip()
    if len(text) > max_length:
        problems.add(name, f"{name.capitalize()}: is too long (maximum is {max_length} characters)")
        return None
    return text


@dataclass
class _NewComment:
    body: str
    public: bool
    uploads: list[str] = field(default_factory=list)  # upload tokens whose files it takes


def _upload_tokens(raw: Any, problems: _Problems) -> list[str] | None:
    """`comment.uploads`: a list of upload tokens (one token as a string is accepted too)."""
    if raw is None:
        return []
    if isinstance(raw, str):
        raw = [raw]
    if not isinstance(raw, list) or not all(isinstance(token, str) for token in raw):
        problems.add("comment", "Comment: uploads must be a list of upload tokens")
        return None
    tokens = list(dict.fromkeys(token.strip() for token in raw if token.strip()))
    if len(tokens) > MAX_UPLOADS_PER_COMMENT:
        problems.add(
            "comment", f"Comment: at most {MAX_UPLOADS_PER_COMMENT} uploads on one comment"
        )
        return None
    return tokens


_TAG = re.compile(r"<[^>]+>")


def _comment(fields: dict, problems: _Problems) -> _NewComment | None:
    if "comment" not in fields or fields["comment"] is None:
        return None
    raw = fields["comment"]
    if isinstance(raw, str):
        raw = {"body": raw}
    if not isinstance(raw, dict):
        problems.add("comment", "Comment: must be an object with a body")
        return None
    body = raw.get("body")
    if body is None and isinstance(raw.get("html_body"), str):
        body = html.unescape(_TAG.sub("", raw["html_body"].replace("<br>", "\n")))
    if not isinstance(body, str) or not body.strip():
        problems.add("comment", "Comment: body can't be blank")
        return None
    public = raw.get("public", True)
    if not isinstance(public, bool):
        problems.add("comment", "Comment: public must be true or false")
        return None
    tokens = _upload_tokens(raw.get("uploads"), problems)
    if tokens is None:
        return None
    return _NewComment(body=body.strip(), public=public, uploads=tokens)


def _description_comment(fields: dict, problems: _Problems) -> _NewComment | None:
    """`description` without `comment` creates the ticket with it as the first comment.

    Zendesk documents `description` as read-only, yet answers 201 to a create that sends it
    instead of a comment (recorded from a real account: the recording wins over the reference,
    https://developer.zendesk.com/api-reference/ticketing/tickets/tickets/#create-ticket);
    zenpy creates tickets this way. A `comment`, when sent, wins over it.
    """
    if "comment" in fields and fields["comment"] is not None:
        return None
    raw = fields.get("description")
    if raw is None:
        return None
    if not isinstance(raw, str) or not raw.strip():
        problems.add("description", "Description: cannot be blank")
        return None
    return _NewComment(body=raw.strip(), public=True)


def _custom_status(fields: dict, problems: _Problems) -> CustomStatus | None:
    if fields.get("custom_status_id") is None:
        return None
    status_id = parse_id(fields["custom_status_id"])
    found = CustomStatus.objects.filter(id=status_id, active=True).first() if status_id else None
    if found is None:
        problems.add("custom_status_id", "Custom status: is invalid")
    return found


def _default_custom_status(category: str) -> CustomStatus | None:
    """Closed tickets keep the solved category's status, as Zendesk's do."""
    category = "solved" if category == "closed" else category
    statuses = CustomStatus.objects.filter(status_category=category, active=True)
    return statuses.filter(default=True).first() or statuses.order_by("id").first()


# -- ids and time --------------------------------------------------------------------------


def _next_id(model: type[models.Model]) -> int:
    """max(id) + 1 inside the (serialized) write transaction: never collides with the seed."""
    highest = model.objects.aggregate(highest=models.Max("id"))["highest"]
    return (highest or 0) + 1


def next_updated_at(previous: dt.datetime | None) -> dt.datetime:
    """A new updated_at that Zendesk's whole-second timestamps can tell apart.

    Responses show updated_at to the second, and clients send it back as `updated_stamp`.
    Two writes in the same second would look identical and a stale safe_update would pass,
    so every write moves updated_at to a later whole second than the previous one.
    """
    candidate = timezone.now().replace(microsecond=0)
    if previous is not None:
        floor = previous.replace(microsecond=0) + dt.timedelta(seconds=1)
        candidate = max(candidate, floor)
    return candidate


def parse_stamp(raw: Any) -> dt.datetime | None:
    """An ISO 8601 updated_stamp (`2023-09-18T23:26:01Z`, fractions allowed); None if bad."""
    if not isinstance(raw, str):
        return None
    try:
        moment = dt.datetime.fromisoformat(raw.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment


def _stamp_is_current(stamp: dt.datetime, updated_at: dt.datetime) -> bool:
    """Microsecond comparison; a whole-second stamp matches the second it was shown as."""
    if stamp.microsecond == 0:
        return stamp == updated_at.replace(microsecond=0)
    return stamp == updated_at


# -- audits --------------------------------------------------------------------------------


def _as_event_value(value: Any) -> Any:
    """Zendesk writes ids and scalars as strings in audit events; tags stay lists."""
    if value is None or isinstance(value, list):
        return value
    return str(value)


def _comment_event(comment: Comment) -> dict[str, Any]:
    from sandbox.serializers import comment_html

    return {
        "id": comment.id,
        "type": "Comment",
        "author_id": comment.author_id,
        "body": comment.body,
        "html_body": comment_html(comment.body),
        "plain_body": comment.body,
        "public": comment.public,
        "attachments": [],
        "audit_id": comment.audit_id,
    }


def _number_events(audit_id: int, events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    numbered = []
    for index, event in enumerate(events, start=1):
        if "id" not in event:
            event = {"id": audit_id * EVENT_IDS_PER_AUDIT + index, **event}
        numbered.append(event)
    return numbered


def _add_comment(
    ticket: Ticket, author: User, new: _NewComment, *, audit_id: int, via: str, at: dt.datetime
) -> Comment:
    comment = Comment.objects.create(
        id=_next_id(Comment),
        ticket=ticket,
        author=author,
        body=new.body,
        public=new.public,
        via_channel=via,
        audit_id=audit_id,
        created_at=at,
    )
    attach_uploads(comment, new.uploads, uploader=author)
    return comment


# -- activities ----------------------------------------------------------------------------


def comment_excerpt(body: str, words: int = 8) -> str:
    """The start of a comment as Zendesk's titles quote it ("...: update 2.")."""
    parts = " ".join(body.split()).split(" ")
    short = " ".join(parts[:words])
    return short.rstrip(".,!?:;") + ("..." if len(parts) > words else "")


def _activity(
    recipient: User, actor: User, verb: str, title: str, obj: dict, ticket: Ticket, at: dt.datetime
) -> Activity:
    return Activity.objects.create(
        id=_next_id(Activity),
        user=recipient,
        actor=actor,
        verb=verb,
        title=title,
        object=obj,
        target={"ticket": {"id": ticket.id, "subject": ticket.subject}},
        created_at=at,
        updated_at=at,
    )


def _receives_activity(user: User | None, actor: User) -> bool:
    return user is not None and user.id != actor.id and user.is_agent and not user.suspended


def _assignment_activity(ticket: Ticket, actor: User, at: dt.datetime) -> list[Activity]:
    if not _receives_activity(ticket.assignee, actor):
        return []
    title = f"{actor.name} assigned ticket #{ticket.id} to you."
    obj = {"ticket": {"id": ticket.id, "subject": ticket.subject}}
    return [_activity(ticket.assignee, actor, "tickets.assignment", title, obj, ticket, at)]


def _comment_activities(
    ticket: Ticket, actor: User, comment: Comment, watchers: list[User], at: dt.datetime
) -> list[Activity]:
    title = f"{actor.name} commented on ticket #{ticket.id}: {comment_excerpt(comment.body)}."
    obj = {"comment": {"value": comment.body, "public": comment.public}}
    return [
        _activity(watcher, actor, "tickets.comment", title, obj, ticket, at)
        for watcher in watchers
        if _receives_activity(watcher, actor)
    ]


def _priority_activity(ticket: Ticket, actor: User, at: dt.datetime) -> list[Activity]:
    if not _receives_activity(ticket.assignee, actor):
        return []
    title = f"{actor.name} increased the priority of ticket #{ticket.id} to {ticket.priority}."
    obj = {"ticket": {"id": ticket.id, "subject": ticket.subject, "priority": ticket.priority}}
    return [_activity(ticket.assignee, actor, "tickets.priority_increase", title, obj, ticket, at)]


# -- after commit --------------------------------------------------------------------------

# Zendesk's event-subscription types for the fields the sandbox writes.
_EVENT_TYPES = {
    "status": "ticket.status_changed",
    "priority": "ticket.priority_changed",
    "type": "ticket.type_changed",
    "assignee_id": "ticket.agent_assignment_changed",
    "group_id": "ticket.group_assignment_changed",
    "tags": "ticket.tags_changed",
    "subject": "ticket.subject_changed",
    "external_id": "ticket.external_id_changed",
    "custom_status_id": "ticket.custom_status_changed",
}


def _ticket_events(write: TicketWrite, *, created: bool) -> list[tuple[str, dict[str, Any]]]:
    if created:
        return [("ticket.created", {})]
    events = [
        (_EVENT_TYPES[name], {"previous": previous, "current": current})
        for name, (previous, current) in write.changes.items()
        if name in _EVENT_TYPES
    ]
    if write.comment is not None:
        comment = write.comment
        events.append(
            (
                "ticket.comment_added",
                {
                    "comment": {
                        "id": str(comment.id),
                        "body": comment.body,
                        "is_public": comment.public,
                        "author": {"id": str(comment.author_id)},
                    }
                },
            )
        )
    return events


def _after_ticket_change(write: TicketWrite, *, created: bool) -> None:
    """Tell webhook subscribers once the write is committed (best effort, never blocking).

    Called inside the write's transaction: `on_commit` drops the calls if it rolls back.
    """
    from sandbox import webhooks

    detail = webhooks.ticket_event_detail(write.ticket)
    for event_type, changes in _ticket_events(write, created=created):
        transaction.on_commit(
            lambda event_type=event_type, changes=changes: _notify(
                write.ticket.id, event_type, changes, detail
            )
        )


def _notify(ticket_id: int, event_type: str, changes: dict[str, Any], detail: dict) -> None:
    from sandbox import webhooks

    try:
        webhooks.ticket_changed(ticket_id, event_type, changes, detail)
    except Exception:  # a webhook problem must never fail a committed write
        log.exception("webhook notification failed for ticket %s", ticket_id)


# -- create --------------------------------------------------------------------------------


def _requester(fields: dict, actor: User, problems: _Problems) -> User | None:
    """requester_id, or requester {name, email} (found or created as an end user), or the actor."""
    if fields.get("requester_id") is not None:
        user_id = parse_id(fields["requester_id"])
        user = User.objects.filter(id=user_id).first() if user_id is not None else None
        if user is None:
            problems.add("requester", "Requester: is invalid")
        return user
    raw = fields.get("requester")
    if raw is None:
        return actor
    if (
        not isinstance(raw, dict)
        or not isinstance(raw.get("email"), str)
        or "@" not in raw["email"]
    ):
        problems.add("requester", "Requester: email is invalid")
        return None
    email = raw["email"].strip().lower()
    existing = User.objects.filter(email__iexact=email).first()
    if existing is not None:
        return existing
    name = raw.get("name") if isinstance(raw.get("name"), str) and raw["name"].strip() else None
    return _new_end_user(email=email, name=name or email.split("@")[0])


def _new_end_user(*, email: str, name: str) -> User:
    from sandbox.models import Organization

    domain = email.rsplit("@", 1)[-1]
    organization = next(
        (org for org in Organization.objects.all() if domain in (org.domain_names or [])), None
    )
    now = timezone.now()
    return User.objects.create(
        id=_next_id(User),
        name=name.strip()[:200],
        email=email,
        role="end-user",
        organization=organization,
        created_at=now,
        updated_at=now,
    )


def _subject_from(body: str) -> str:
    """Zendesk derives a missing subject from the start of the description."""
    first_line = body.strip().splitlines()[0] if body.strip() else ""
    return first_line[:80].rstrip() or "(no subject)"


def _custom_fields(
    fields: dict, tags: list[str], stored: dict[str, Any], problems: _Problems
) -> ticket_fields.CustomFieldWrite:
    """`custom_fields: [{id, value}]` applied to tags and stored values (sandbox.ticket_fields)."""
    written = ticket_fields.custom_fields_write(fields["custom_fields"], tags=tags, stored=stored)
    for name, message in written.problems:
        problems.add(name, message, error="InvalidValue")
    return written


# Zendesk's names for field types in a 422's `ticket_field_type`.
FIELD_TYPE_NAMES = {
    "text": "FieldText",
    "textarea": "FieldTextarea",
    "integer": "FieldInteger",
    "decimal": "FieldDecimal",
    "checkbox": "FieldCheckbox",
    "date": "FieldDate",
    "tagger": "FieldTagger",
    "multiselect": "FieldMultiselect",
    "regexp": "FieldRegexp",
}


def required_field_ids() -> set[int]:
    """The fields a ticket needs a value in before it can be solved."""
    named = set(getattr(settings, "SANDBOX_REQUIRED_TO_SOLVE", ()))
    return named | set(RequiredField.objects.values_list("field_id", flat=True))


def _required_to_solve(ticket: Ticket, wanted: dict[str, Any], problems: _Problems) -> None:
    """Solving a ticket with a required field empty is refused, one sentence a field starting
    with its title, as Zendesk words it ("About: is required when solving a ticket",
    https://github.com/zendesk/zendesk_api_client_rb/issues/317), under `base` with the
    field's id and type (https://github.com/facetoe/zenpy/issues/114).

    Only a change to solved is checked: a ticket solved before a field became required can
    still take a comment.
    """
    if wanted.get("status") != "solved" or ticket.status == "solved":
        return
    required = required_field_ids()
    if not required:
        return
    tags = wanted.get("tags", list(ticket.tags))
    stored = wanted.get("custom_values", ticket.custom_values)
    titles = dict(FieldLabel.objects.filter(key__startswith="field:").values_list("key", "name"))
    for each in ticket_fields.TICKET_FIELDS:
        if each.id not in required:
            continue
        value = each.value_for(tags, stored)
        if value is None or value is False or value == "" or value == []:
            title = titles.get(f"field:{each.id}", each.title)
            problems.add_entry(
                "base",
                {
                    "description": f"{title}: is required when solving a ticket",
                    "error": None,
                    "ticket_field_id": each.id,
                    "ticket_field_type": FIELD_TYPE_NAMES[each.type],
                },
            )


def _custom_field_events(
    before: list[dict[str, Any]], after: list[dict[str, Any]], *, created: bool
) -> list[dict[str, Any]]:
    """Audit events for custom fields whose value changed; Zendesk names them by field id."""
    previous = {entry["id"]: entry["value"] for entry in before}
    events = []
    for entry in after:
        old, new = previous.get(entry["id"]), entry["value"]
        if old == new or (created and new in (None, False)):
            continue
        event = {"type": "Create" if created else "Change", "value": new}
        event["field_name"] = str(entry["id"])
        if not created:
            event["previous_value"] = old
        events.append(event)
    return events


def _creation_fields(fields: dict, problems: _Problems) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for name, allowed in (("priority", Ticket.PRIORITIES), ("type", Ticket.TYPES)):
        values[name] = _choice(fields, name, allowed, problems) if name in fields else None
    values["status"] = (
        _choice(fields, "status", Ticket.STATUSES, problems) if fields.get("status") else None
    )
    _, values["assignee"] = _assignee(fields, problems)
    _, values["group"] = _group(fields, problems)
    values["tags"] = _tags(fields, problems) or []
    values["custom_values"] = {}
    if "custom_fields" in fields:
        written = _custom_fields(fields, values["tags"], {}, problems)
        values["tags"], values["custom_values"] = written.tags, written.stored
    values["subject"] = _text(fields, "subject", problems, max_length=300)
    values["external_id"] = _text(fields, "external_id", problems, max_length=100)
    values["custom_status"] = _custom_status(fields, problems)
    values["comment"] = _comment(fields, problems) or _description_comment(fields, problems)
    if values["comment"] is None and not {"comment", "description"} & set(problems.details):
        problems.add("description", "Description: cannot be blank")
    return values


def ticket_create(*, actor: User, fields: dict[str, Any], via: str = "api") -> TicketWrite:
    """Create a ticket whose description is the first comment, written by the submitter."""
    if not isinstance(fields, dict):
        raise TicketInvalid({"ticket": ["Ticket: must be an object"]})
    with transaction.atomic():
        problems = _Problems()
        requester = _requester(fields, actor, problems)
        values = _creation_fields(fields, problems)
        if not actor.is_agent and requester is not None and requester.id != actor.id:
            raise WriteForbidden("end users create tickets for themselves only")
        problems.raise_if_any()
        write = _insert_ticket(actor=actor, requester=requester, values=values, via=via)
        _after_ticket_change(write, created=True)
    return write


def _initial_status(values: dict[str, Any]) -> str:
    if values["custom_status"] is not None:
        return values["custom_status"].status_category
    if values["status"]:
        return values["status"]
    # Zendesk moves an assigned ticket out of "new".
    return "open" if values["assignee"] is not None else "new"


def _insert_ticket(
    *, actor: User, requester: User, values: dict[str, Any], via: str
) -> TicketWrite:
    now = next_updated_at(None)
    new_comment: _NewComment = values["comment"]
    status = _initial_status(values)
    group = values["group"]
    if group is None and values["assignee"] is not None:
        group = values["assignee"].default_group
    ticket = Ticket.objects.create(
        id=_next_id(Ticket),
        external_id=values["external_id"] or None,
        subject=values["subject"] or _subject_from(new_comment.body),
        description=new_comment.body,
        status=status,
        priority=values["priority"],
        type=values["type"],
        requester=requester,
        submitter=actor,
        assignee=values["assignee"],
        group=group,
        organization_id=requester.organization_id,
        tags=values["tags"],
        custom_values=values["custom_values"],
        custom_status=values["custom_status"] or _default_custom_status(status),
        via_channel=via,
        is_public=new_comment.public,
        created_at=now,
        updated_at=now,
    )
    audit_id = _next_id(Audit)
    comment = _add_comment(ticket, actor, new_comment, audit_id=audit_id, via=via, at=now)
    created = {
        "subject": ticket.subject,
        "requester_id": ticket.requester_id,
        "priority": ticket.priority,
        "type": ticket.type,
        "status": ticket.status,
        "organization_id": ticket.organization_id,
        "assignee_id": ticket.assignee_id,
        "group_id": ticket.group_id,
        "tags": ticket.tags or None,
        "custom_status_id": ticket.custom_status_id,
    }
    events = [_comment_event(comment)] + [
        {"type": "Create", "value": _as_event_value(value), "field_name": name}
        for name, value in created.items()
        if value is not None or name in ("priority", "type")
    ]
    unset = ticket_fields.ticket_field_values([], {})
    after = ticket_fields.ticket_field_values(ticket.tags, ticket.custom_values)
    events += _custom_field_events(unset, after, created=True)
    audit = Audit.objects.create(
        id=audit_id,
        ticket=ticket,
        author=actor,
        events=_number_events(audit_id, events),
        via_channel=via,
        created_at=now,
    )
    activities = _assignment_activity(ticket, actor, now)
    changes = {name: (None, value) for name, value in created.items()}
    return TicketWrite(
        ticket=ticket, audit=audit, activities=activities, changes=changes, comment=comment
    )


# -- update --------------------------------------------------------------------------------

_UPDATABLE = {
    "comment",
    "status",
    "priority",
    "type",
    "assignee_id",
    "group_id",
    "tags",
    "custom_status_id",
    "subject",
    "external_id",
    "custom_fields",
    "safe_update",
    "updated_stamp",
}
_END_USER_UPDATABLE = {"comment", "safe_update", "updated_stamp"}


def _load_ticket(ticket_id: Any) -> Ticket:
    number = parse_id(ticket_id)
    ticket = Ticket.objects.filter(id=number).first() if number is not None else None
    if ticket is None:
        raise TicketNotFound(str(ticket_id))
    return ticket


def _check_permission(actor: User, ticket: Ticket, fields: dict) -> None:
    """Restricted agents write only what they may see; end users only comment on their own."""
    if actor.is_agent:
        if not agent_may_see(actor, ticket):
            raise WriteForbidden("the agent may not see this ticket")
        return
    if ticket.requester_id != actor.id or set(fields) - _END_USER_UPDATABLE:
        raise WriteForbidden("end users may only comment on their own tickets")


def _check_stamp(ticket: Ticket, fields: dict, problems: _Problems) -> None:
    if fields.get("safe_update") is not True:
        return
    stamp = parse_stamp(fields.get("updated_stamp"))
    if stamp is None:
        problems.add("updated_stamp", "Updated stamp: must be the ticket's updated_at")
        problems.raise_if_any()
    if not _stamp_is_current(stamp, ticket.updated_at):
        raise StaleTicket(f"ticket {ticket.id} changed since {fields['updated_stamp']}")


def _requested_changes(ticket: Ticket, fields: dict, problems: _Problems) -> dict[str, Any]:
    """Field name -> new value (model values: users and groups as objects)."""
    wanted: dict[str, Any] = {}
    for name, allowed in (
        ("status", Ticket.STATUSES),
        ("priority", Ticket.PRIORITIES),
        ("type", Ticket.TYPES),
    ):
        if name in fields:
            wanted[name] = _choice(fields, name, allowed, problems)
    given, assignee = _assignee(fields, problems)
    if given:
        wanted["assignee"] = assignee
    given, group = _group(fields, problems)
    if given:
        wanted["group"] = group
    tags = _tags(fields, problems)
    if tags is not None:
        wanted["tags"] = tags
    if "custom_fields" in fields:
        written = _custom_fields(
            fields, wanted.get("tags", list(ticket.tags)), dict(ticket.custom_values), problems
        )
        if written.tags != ticket.tags:
            wanted["tags"] = written.tags
        if written.stored != ticket.custom_values:
            wanted["custom_values"] = written.stored
    if "subject" in fields:
        subject = _text(fields, "subject", problems, max_length=300)
        if subject is not None:
            wanted["subject"] = subject
    if "external_id" in fields:
        wanted["external_id"] = _text(fields, "external_id", problems, max_length=100)
    custom_status = _custom_status(fields, problems)
    if custom_status is not None:
        wanted["custom_status"] = custom_status
        wanted["status"] = custom_status.status_category
    if wanted.get("status") == "new" and ticket.status != "new":
        problems.add("status", "Status: cannot be set back to new")
    _required_to_solve(ticket, wanted, problems)
    return wanted


_FIELD_NAMES = {"assignee": "assignee_id", "group": "group_id", "custom_status": "custom_status_id"}


def _apply(ticket: Ticket, wanted: dict[str, Any]) -> dict[str, tuple[Any, Any]]:
    """Set changed fields; return {api field name: (previous, current)} for the audit."""
    if "status" in wanted and "custom_status" not in wanted and wanted["status"] != ticket.status:
        wanted["custom_status"] = _default_custom_status(wanted["status"])
    if wanted.get("assignee") is not None and ticket.status == "new" and "status" not in wanted:
        wanted["status"] = "open"  # Zendesk moves an assigned ticket out of "new"
    if wanted.get("assignee") is not None and ticket.group_id is None and "group" not in wanted:
        wanted["group"] = wanted["assignee"].default_group
    changes: dict[str, tuple[Any, Any]] = {}
    for name, value in wanted.items():
        api_name = _FIELD_NAMES.get(name, name)
        if name in _FIELD_NAMES:
            previous = getattr(ticket, f"{name}_id")
            current = value.id if value is not None else None
        else:
            previous, current = getattr(ticket, name), value
        if previous != current:
            setattr(ticket, name, value)
            changes[api_name] = (previous, current)
    return changes


def ticket_update(
    *, actor: User, ticket_id: int | str, fields: dict[str, Any], via: str = "api"
) -> TicketWrite:
    """Apply an update as Zendesk does; every change moves updated_at and leaves an audit."""
    if not isinstance(fields, dict):
        raise TicketInvalid({"ticket": ["Ticket: must be an object"]})
    with transaction.atomic():
        ticket = _load_ticket(ticket_id)
        _check_permission(actor, ticket, fields)
        problems = _Problems()
        _check_stamp(ticket, fields, problems)
        if ticket.status == "closed":
            raise TicketInvalid({"status": ["Status: closed prevents ticket update"]})
        new_comment = _comment(fields, problems)
        wanted = _requested_changes(ticket, fields, problems)
        if new_comment is not None and ticket.comments.count() >= MAX_COMMENTS_PER_TICKET:
            problems.add("comment", f"Comment: a ticket can have at most {MAX_COMMENTS_PER_TICKET}")
        problems.raise_if_any()
        write = _save_update(actor, ticket, wanted, new_comment, via)
        _after_ticket_change(write, created=False)
    return write


def _save_update(
    actor: User, ticket: Ticket, wanted: dict[str, Any], new_comment: _NewComment | None, via: str
) -> TicketWrite:
    previous_assignee_id = ticket.assignee_id
    previous_priority = ticket.priority
    if new_comment is not None and not actor.is_agent and ticket.status in ("pending", "solved"):
        wanted["status"] = "open"  # Zendesk reopens a ticket when the requester replies
    before = ticket_fields.ticket_field_values(ticket.tags, ticket.custom_values)
    changes = _apply(ticket, wanted)
    changes.pop("custom_values", None)  # audited per field below, as Zendesk does
    field_events = _custom_field_events(
        before, ticket_fields.ticket_field_values(ticket.tags, ticket.custom_values), created=False
    )
    now = next_updated_at(ticket.updated_at)
    audit_id = _next_id(Audit)
    events: list[dict[str, Any]] = []
    comment = None
    if new_comment is not None:
        comment = _add_comment(ticket, actor, new_comment, audit_id=audit_id, via=via, at=now)
        events.append(_comment_event(comment))
    events += [
        {
            "type": "Change",
            "value": _as_event_value(current),
            "field_name": name,
            "previous_value": _as_event_value(previous),
        }
        for name, (previous, current) in changes.items()
    ]
    events += field_events
    # An update with nothing to change still answers 200 with an empty audit, like Zendesk;
    # it moves updated_at only when something changed.
    if events:
        ticket.updated_at = now
        ticket.save()
    audit = Audit.objects.create(
        id=audit_id,
        ticket=ticket,
        author=actor,
        events=_number_events(audit_id, events),
        via_channel=via,
        created_at=now,
    )
    activities: list[Activity] = []
    if "assignee_id" in changes:
        activities += _assignment_activity(ticket, actor, now)
    if comment is not None:
        activities += _comment_activities(
            ticket, actor, comment, _comment_watchers(ticket, previous_assignee_id), now
        )
    raised = PRIORITY_RANK.get(ticket.priority, 0) > PRIORITY_RANK.get(previous_priority, 0)
    if raised and ticket.assignee_id == previous_assignee_id:
        activities += _priority_activity(ticket, actor, now)
    return TicketWrite(
        ticket=ticket, audit=audit, activities=activities, changes=changes, comment=comment
    )


def _comment_watchers(ticket: Ticket, previous_assignee_id: int | None) -> list[User]:
    """The assignee (unless just assigned: they hear of the assignment) and agent followers."""
    watchers: list[User] = []
    if ticket.assignee is not None and ticket.assignee_id == previous_assignee_id:
        watchers.append(ticket.assignee)
    for follower in ticket.followers.all():
        if follower.is_agent and follower.id != ticket.assignee_id:
            watchers.append(follower)
    return watchers
