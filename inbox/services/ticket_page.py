"""What the ticket page needs beyond the ticket itself: the assignee picker, the account's
ticket fields, uploads, the agent's drafts and conversation order, and "what the agent saw".

"What the agent saw" (`SeenTicket`) travels in the reply form signed by the server
(django.core.signing), so a collision can be explained against it ("since you opened the
ticket, Ana changed the priority and added a comment") and a forged one is refused.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from typing import Any

from django.conf import settings
from django.core import signing
from django.db import IntegrityError, transaction
from django.utils import timezone

from inbox.models import AgentAccount, AgentPreference, TicketDraft
from inbox.services.credentials import with_agent_credentials
from inbox.services.freshness import cached_as_agent, combined
from inbox.services.tickets import TicketThread
from inbox.zendesk import budget, client, request_cost
from inbox.zendesk.cache import Fresh
from inbox.zendesk.client import Credentials
from inbox.zendesk.errors import Forbidden, NotFound
from inbox.zendesk.records import Comment, Group, Ticket, TicketField, Upload, User

SEEN_SALT = "inbox.ticket.seen"
# A form older than this is refused as "what I saw" (the agent reloads to see the ticket now).
SEEN_MAX_AGE_SECONDS = 7 * 86400


# -- the assignee picker ----------------------------------------------------------------------
@dataclass(frozen=True)
class Assignables:
    """The groups the agent may assign to, each with the agents who can take its tickets."""

    groups: tuple[Group, ...]
    agents: dict[int, tuple[User, ...]] = field(default_factory=dict)

    def allows(self, *, group_id: int, user_id: int | None) -> bool:
        """Is this (group, agent) a choice the picker offered?"""
        if group_id not in {group.id for group in self.groups}:
            return False
        return user_id is None or user_id in {user.id for user in self.agents.get(group_id, ())}


def _assignables_from_zendesk(credentials: Credentials, lane: str) -> Assignables:
    groups = client.groups_assignable(credentials, lane=lane)
    with ThreadPoolExecutor(max_workers=4) as pool:
        members = pool.map(
            request_cost.carried(
                lambda group: client.group_agents_assignable(credentials, group.id, lane=lane)
            ),
            groups,
        )
        agents = {group.id: users for group, users in zip(groups, members, strict=True)}
    return Assignables(groups=groups, agents=agents)


def assignable_list(*, agent: AgentAccount, lane: str = budget.INTERACTIVE) -> Fresh[Assignables]:
    """The assignee picker's choices (a restricted agent gets only theirs; cached 5 minutes)."""
    return with_agent_credentials(
        agent,
        lambda credentials: cached_as_agent(
            agent=agent,
            credentials=credentials,
            kind="assignables",
            operation="groups_assignable+memberships",
            params={},
            shareable=True,
            fetch=lambda: _assignables_from_zendesk(credentials, lane),
        ),
    )


# -- the account's ticket fields -------------------------------------------------------------
def _fields_from_zendesk(credentials: Credentials, lane: str) -> tuple[TicketField, ...]:
    try:
        return client.ticket_fields(credentials, lane=lane)
    except (NotFound, Forbidden):
        # An account (or plan) without the endpoint: fields show by id.
        return ()


def ticket_field_list(
    *, agent: AgentAccount, lane: str = budget.INTERACTIVE
) -> Fresh[dict[int, TicketField]]:
    """The account's ticket fields by id, to label a ticket's `custom_fields` (cached)."""

    def fetch_as(credentials: Credentials) -> Fresh[dict[int, TicketField]]:
        answer = cached_as_agent(
            agent=agent,
            credentials=credentials,
            kind="ticket_fields",
            operation="ticket_fields",
            params={},
            shareable=True,
            fetch=lambda: _fields_from_zendesk(credentials, lane),
        )
        return combined({f.id: f for f in answer.value}, [answer])

    return with_agent_credentials(agent, fetch_as)


@dataclass(frozen=True)
class FieldValue:
    """One custom field as the page shows it: its label and its value in words."""

    label: str
    value: str


def custom_field_values(ticket: Ticket, fields: dict[int, TicketField]) -> list[FieldValue]:
    """The ticket's custom fields that have a value, labelled (by id when the label is unknown)."""
    shown = []
    for field_id, value in ticket.custom_fields:
        if value in (None, "", (), False) and not isinstance(value, int | float):
            continue
        known = fields.get(field_id)
        if known is not None and not known.active:
            continue
        label = known.title if known and known.title else f"Field {field_id}"
        options = dict(known.options) if known else {}
        values = value if isinstance(value, tuple) else (value,)
        words = ", ".join(options.get(str(each), str(each)) for each in values)
        if known and known.type == "checkbox":
            words = "Yes" if value else "No"
        shown.append(FieldValue(label=label, value=words))
    return shown


# -- uploads ----------------------------------------------------------------------------------
def upload_create(
    *, agent: AgentAccount, file_name: str, content: bytes, content_type: str
) -> Upload:
    """Store one file at Zendesk for the next comment (PayloadTooLarge when over the limit)."""
    return with_agent_credentials(
        agent,
        lambda credentials: client.upload_create(
            credentials, file_name=file_name, content=content, content_type=content_type
        ),
    )


# -- drafts ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Draft:
    body: str = ""
    public: bool = True
    changes: dict[str, Any] = field(default_factory=dict)
    uploads: tuple[dict[str, Any], ...] = ()
    updated_at: dt.datetime | None = None

    @property
    def empty(self) -> bool:
        return not (self.body.strip() or self.changes or self.uploads)


def _draft_cutoff() -> dt.datetime:
    return timezone.now() - dt.timedelta(days=settings.DRAFT_MAX_AGE_DAYS)


def ticket_draft_get(*, agent: AgentAccount, ticket_id: int) -> Draft | None:
    """The agent's unsent draft on this ticket, unless it expired (expired ones are removed)."""
    cutoff = _draft_cutoff()
    expired = TicketDraft.objects.filter(updated_at__lt=cutoff)
    if expired.exists():  # a read writes only when there is something to remove
        expired.delete()
    row = TicketDraft.objects.filter(
        agent=agent, ticket_id=int(ticket_id), updated_at__gte=cutoff
    ).first()
    if row is None:
        return None
    return Draft(
        body=row.body,
        public=row.public,
        changes=dict(row.changes or {}),
        uploads=tuple(row.uploads or ()),
        updated_at=row.updated_at,
    )


def ticket_draft_save(*, agent: AgentAccount, ticket_id: int, draft: Draft) -> None:
    """Keep what the agent typed (an empty draft removes the row)."""
    if draft.empty:
        ticket_draft_clear(agent=agent, ticket_id=ticket_id)
        return
    values = {
        "body": draft.body,
        "public": draft.public,
        "changes": draft.changes,
        "uploads": list(draft.uploads),
        "updated_at": timezone.now(),
    }
    rows = TicketDraft.objects.filter(agent=agent, ticket_id=int(ticket_id))
    if rows.update(**values):
        return
    try:
        with transaction.atomic():
            TicketDraft.objects.create(agent=agent, ticket_id=int(ticket_id), **values)
    except IntegrityError:  # the same agent saved from another tab at the same moment
        rows.update(**values)


def ticket_draft_clear(*, agent: AgentAccount, ticket_id: int) -> None:
    TicketDraft.objects.filter(agent=agent, ticket_id=int(ticket_id)).delete()


# -- conversation order ------------------------------------------------------------------------
def conversation_order_get(*, agent: AgentAccount) -> str:
    chosen = (
        AgentPreference.objects.filter(agent=agent)
        .values_list("conversation_order", flat=True)
        .first()
    )
    return chosen or AgentPreference.ORDER_OLDEST


def conversation_order_set(*, agent: AgentAccount, order: str) -> str:
    """Keep the agent's choice on the server: it follows them to every ticket and device."""
    if order not in dict(AgentPreference.ORDERS):
        raise ValueError(f"Unknown conversation order {order!r}.")
    AgentPreference.objects.update_or_create(agent=agent, defaults={"conversation_order": order})
    return order


# -- a custom field's value as a form holds it --------------------------------------------------
def field_form_value(value: Any) -> str | list[str]:
    """A ticket's custom field value as the reply form holds it: a checkbox "1" or "", a
    multi-select's values as a list, anything else as text ("" when unset)."""
    if value is True:
        return "1"
    if value is None or value is False:
        return ""
    if isinstance(value, tuple | list):
        return [str(each) for each in value if each not in (None, "")]
    return str(value)


def field_value_digest(value: str | list[str]) -> str:
    """A short fingerprint of a form value (`field_form_value`), the same for the same value
    however it was typed (surrounding spaces, a multi-select's order)."""
    text = "\x1f".join(sorted(value)) if isinstance(value, list) else value.strip()
    return hashlib.blake2b(text.encode(), digest_size=8).hexdigest()


EMPTY_FIELD_DIGEST = field_value_digest("")


# -- what the agent saw, and what changed since ------------------------------------------------
@dataclass(frozen=True)
class SeenTicket:
    """The fields and the newest comment an agent had in front of them when they wrote."""

    ticket_id: int
    updated_stamp: str | None
    status: str
    priority: str | None
    type: str | None
    assignee_id: int | None
    group_id: int | None
    tags: tuple[str, ...]
    email_cc_ids: tuple[int, ...]
    newest_comment_id: int | None
    # Each custom field's value as a fingerprint (field_value_digest) by field id: the form
    # sends only the fields the agent changed, and a text field's whole value would not fit.
    custom_fields: dict[str, str] = field(default_factory=dict)

    @classmethod
    def of(cls, thread: TicketThread) -> SeenTicket:
        ticket = thread.ticket
        return cls(
            ticket_id=ticket.id,
            updated_stamp=ticket.updated_stamp,
            status=ticket.status,
            priority=ticket.priority,
            type=ticket.type,
            assignee_id=ticket.assignee_id,
            group_id=ticket.group_id,
            tags=tuple(ticket.tags),
            email_cc_ids=tuple(ticket.email_cc_ids),
            newest_comment_id=max((c.id for c in thread.comments), default=None),
            custom_fields={
                str(field_id): field_value_digest(field_form_value(value))
                for field_id, value in ticket.custom_fields
            },
        )


class SeenInvalid(ValueError):
    """The form's "what I saw" was not made by this server for this agent and ticket."""


def seen_sign(*, agent: AgentAccount, seen: SeenTicket) -> str:
    return signing.dumps({"agent": agent.pk, **asdict(seen)}, salt=SEEN_SALT, compress=True)


def seen_load(*, agent: AgentAccount, ticket_id: int, token: str) -> SeenTicket:
    """Check and read a signed SeenTicket; SeenInvalid when forged, foreign or too old."""
    try:
        data = signing.loads(token, salt=SEEN_SALT, max_age=SEEN_MAX_AGE_SECONDS)
    except signing.BadSignature as bad:
        raise SeenInvalid("This form was not made by Agent Inbox, or is too old.") from bad
    if not isinstance(data, dict) or data.pop("agent", None) != agent.pk:
        raise SeenInvalid("This form was made for someone else.")
    try:
        seen = SeenTicket(
            **{**data, "tags": tuple(data["tags"]), "email_cc_ids": tuple(data["email_cc_ids"])}
        )
    except (TypeError, KeyError) as bad:
        raise SeenInvalid("This form is not one Agent Inbox made.") from bad
    if seen.ticket_id != int(ticket_id):
        raise SeenInvalid("This form was made for another ticket.")
    return seen


@dataclass(frozen=True)
class FieldChange:
    label: str
    before: str
    after: str


@dataclass(frozen=True)
class ChangesSince:
    """What someone else did to the ticket between what the agent saw and now."""

    fields: tuple[FieldChange, ...]
    comments: tuple[Comment, ...]

    @property
    def empty(self) -> bool:
        return not (self.fields or self.comments)


def changes_since(seen: SeenTicket, now: TicketThread, *, name_of: Any) -> ChangesSince:
    """Compare what the agent saw with the ticket now; `name_of(kind, id)` words an id."""
    ticket = now.ticket

    def words(values: Iterable[Any]) -> str:
        return ", ".join(str(v) for v in values) or "none"

    pairs = [
        ("Status", seen.status, ticket.status),
        ("Priority", seen.priority or "-", ticket.priority or "-"),
        ("Type", seen.type or "-", ticket.type or "-"),
        ("Assignee", name_of("user", seen.assignee_id), name_of("user", ticket.assignee_id)),
        ("Group", name_of("group", seen.group_id), name_of("group", ticket.group_id)),
        ("Tags", words(sorted(seen.tags)), words(sorted(ticket.tags))),
        (
            "CCs",
            words(sorted(name_of("user", i) for i in seen.email_cc_ids)),
            words(sorted(name_of("user", i) for i in ticket.email_cc_ids)),
        ),
    ]
    changed = tuple(FieldChange(label, a, b) for label, a, b in pairs if a != b)
    newest = seen.newest_comment_id or 0
    comments = tuple(comment for comment in now.comments if comment.id > newest)
    return ChangesSince(fields=changed, comments=comments)


def comment_landed(
    thread: TicketThread, *, author_id: int, body: str, after_comment_id: int | None
) -> bool:
    """Is a comment with this text by this author on the ticket, newer than what was seen?
    (After a lost answer: did the reply go through?)"""
    wanted = " ".join(body.split())
    for comment in thread.comments:
        if comment.author_id != author_id or comment.id <= (after_comment_id or 0):
            continue
        if " ".join((comment.plain_body or comment.body).split()) == wanted:
            return True
        if " ".join(comment.body.split()) == wanted:
            return True
    return False
