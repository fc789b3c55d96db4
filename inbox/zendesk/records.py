"""Typed, immutable records of what Zendesk returns, parsed once at the edge.

Every record is a frozen dataclass built from plain values only (no `requests` objects, no
dicts of unknown shape where a field is known), so records pickle into the cache and compare by
value. Each has a `from_api(dict)` classmethod reading the shapes recorded from real Zendesk
accounts (tests/fixtures/recorded/). Datetimes are aware and in UTC; Zendesk writes them both
as `...Z` and as `...+00:00`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any, Self


def parse_datetime(value: str | None) -> dt.datetime | None:
    """ISO 8601 from Zendesk (`Z` or an offset) to an aware UTC datetime; None stays None."""
    if not value:
        return None
    moment = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(dt.UTC)


def zendesk_time(moment: dt.datetime) -> str:
    """A datetime as Zendesk writes times (`2023-09-18T23:26:01Z`, UTC, whole seconds): for
    parameters such as `since`, and the `updated_stamp` a safe update sends back."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _ids(values: Any) -> tuple[int, ...]:
    return tuple(int(v) for v in values or ())


def _thumbnail_url(photo: Any) -> str | None:
    """The first thumbnail's content_url of a user's `photo` (Zendesk sends 80x80 first)."""
    if not isinstance(photo, dict):
        return None
    thumbnails = [t for t in photo.get("thumbnails") or () if isinstance(t, dict)]
    return next((t.get("content_url") for t in thumbnails if t.get("content_url")), None)


@dataclass(frozen=True)
class User:
    """A Zendesk user. `id` is None only for the "Anonymous user" users/me returns unauthenticated."""

    id: int | None
    name: str
    email: str | None
    role: str  # end-user | agent | admin
    restricted_agent: bool = False
    suspended: bool = False
    active: bool = True
    time_zone: str = ""
    iana_time_zone: str = "Etc/UTC"
    locale: str = "en-US"
    photo_url: str | None = None
    # The smallest of Zendesk's photo thumbnails (an avatar needs no more).
    photo_thumbnail_url: str | None = None
    organization_id: int | None = None
    default_group_id: int | None = None
    ticket_restriction: str | None = None
    created_at: dt.datetime | None = None
    updated_at: dt.datetime | None = None

    @property
    def is_agent(self) -> bool:
        """A real agent or admin: users/me answers 200 for anyone, so check the id and role."""
        return self.id is not None and self.role in ("agent", "admin")

    @classmethod
    def from_api(cls, data: dict[str, Any]) -> User:
        photo = data.get("photo") or {}
        return cls(
            id=data.get("id"),
            name=data.get("name") or "",
            email=data.get("email"),
            role=data.get("role") or "end-user",
            restricted_agent=bool(data.get("restricted_agent")),
            suspended=bool(data.get("suspended")),
            active=data.get("active", True) is not False,
            time_zone=data.get("time_zone") or "",
            iana_time_zone=data.get("iana_time_zone") or "Etc/UTC",
            locale=data.get("locale") or "en-US",
            photo_url=photo.get("content_url") if isinstance(photo, dict) else None,
            photo_thumbnail_url=_thumbnail_url(photo),
            organization_id=data.get("organization_id"),
            default_group_id=data.get("default_group_id"),
            ticket_restriction=data.get("ticket_restriction"),
            created_at=parse_datetime(data.get("created_at")),
            updated_at=parse_datetime(data.get("updated_at")),
        )


@dataclass(frozen=True)
class NamedRecord:
    """A record the app shows by name only (groups, organizations): its id and name."""

    id: int
    name: str

    @classmethod
    def from_api(cls, data: dict[str, Any]) -> Self:
        return cls(id=data["id"], name=data.get("name") or "")


@dataclass(frozen=True)
class Group(NamedRecord):
    """A group of agents."""


@dataclass(frozen=True)
class Organization(NamedRecord):
    """A customer organization."""


@dataclass(frozen=True)
class CustomStatus:
    """A ticket status label: `status_category` is one of the built-in statuses."""

    id: int
    status_category: str
    agent_label: str
    end_user_label: str = ""
    description: str = ""
    active: bool = True
    default: bool = False

    @classmethod
    def from_api(cls, data: dict[str, Any]) -> CustomStatus:
        return cls(
            id=data["id"],
            status_category=data.get("status_category") or "",
            agent_label=data.get("agent_label") or "",
            end_user_label=data.get("end_user_label") or "",
            description=data.get("description") or "",
            active=bool(data.get("active", True)),
            default=bool(data.get("default", False)),
        )


@dataclass(frozen=True)
class Ticket:
    id: int
    subject: str
    status: str  # new | open | pending | hold | solved | closed
    priority: str | None
    type: str | None
    description: str = ""
    requester_id: int | None = None
    submitter_id: int | None = None
    assignee_id: int | None = None
    organization_id: int | None = None
    group_id: int | None = None
    custom_status_id: int | None = None
    tags: tuple[str, ...] = ()
    collaborator_ids: tuple[int, ...] = ()
    follower_ids: tuple[int, ...] = ()
    email_cc_ids: tuple[int, ...] = ()
    external_id: str | None = None
    via_channel: str | None = None
    is_public: bool = True
    due_at: dt.datetime | None = None
    created_at: dt.datetime | None = None
    updated_at: dt.datetime | None = None
    # Only present when asked for with include=comment_count.
    comment_count: int | None = None
    # The account's custom fields on this ticket, as (field id, value) pairs.
    custom_fields: tuple[tuple[int, Any], ...] = ()

    @property
    def updated_stamp(self) -> str | None:
        """The `updated_at` text to send back as `updated_stamp` for a safe update."""
        if self.updated_at is None:
            return None
        return zendesk_time(self.updated_at)

    @classmethod
    def from_api(cls, data: dict[str, Any]) -> Ticket:
        via = data.get("via") or {}
        return cls(
            id=data["id"],
            subject=data.get("subject") or data.get("raw_subject") or "",
            status=data.get("status") or "new",
            priority=data.get("priority"),
            type=data.get("type"),
            description=data.get("description") or "",
            requester_id=data.get("requester_id"),
            submitter_id=data.get("submitter_id"),
            assignee_id=data.get("assignee_id"),
            organization_id=data.get("organization_id"),
            group_id=data.get("group_id"),
            custom_status_id=data.get("custom_status_id"),
            tags=tuple(data.get("tags") or ()),
            collaborator_ids=_ids(data.get("collaborator_ids")),
            follower_ids=_ids(data.get("follower_ids")),
            email_cc_ids=_ids(data.get("email_cc_ids")),
            external_id=data.get("external_id"),
            via_channel=via.get("channel") if isinstance(via, dict) else None,
            is_public=bool(data.get("is_public", True)),
            due_at=parse_datetime(data.get("due_at")),
            created_at=parse_datetime(data.get("created_at")),
            updated_at=parse_datetime(data.get("updated_at")),
            comment_count=data.get("comment_count"),
            custom_fields=_custom_field_values(data.get("custom_fields")),
        )


def _custom_field_values(entries: Any) -> tuple[tuple[int, Any], ...]:
    """`custom_fields: [{id, value}]` as pairs; multi-select values (lists) become tuples."""
    pairs = []
    for entry in entries or ():
        if not isinstance(entry, dict) or entry.get("id") is None:
            continue
        value = entry.get("value")
        pairs.append((int(entry["id"]), tuple(value) if isinstance(value, list) else value))
    return tuple(pairs)


@dataclass(frozen=True)
class CreatedTicket(Ticket):
    """A ticket as a create answered it: a Ticket, plus Zendesk's `x-idempotency-lookup`
    header: "miss" when this request made it, "hit" when an earlier request with the same
    Idempotency-Key did (the answer is that first one again), None without a key.

    https://developer.zendesk.com/api-reference/ticketing/introduction/#idempotency
    """

    idempotency_lookup: str | None = None

    @property
    def created_before(self) -> bool:
        """An earlier request with this key created the ticket (a double submit or a retry)."""
        return self.idempotency_lookup == "hit"


@dataclass(frozen=True)
class Attachment:
    id: int
    file_name: str
    content_url: str
    content_type: str = ""
    size: int | None = None

    @classmethod
    def from_api(cls, data: dict[str, Any]) -> Attachment:
        return cls(
            id=data["id"],
            file_name=data.get("file_name") or "",
            content_url=data.get("content_url") or "",
            content_type=data.get("content_type") or "",
            size=data.get("size"),
        )


@dataclass(frozen=True)
class Comment:
    id: int
    author_id: int | None
    body: str
    html_body: str
    plain_body: str
    public: bool
    created_at: dt.datetime | None
    attachments: tuple[Attachment, ...] = ()
    via_channel: str | None = None
    type: str = "Comment"

    @classmethod
    def from_api(cls, data: dict[str, Any]) -> Comment:
        via = data.get("via") or {}
        return cls(
            id=data["id"],
            author_id=data.get("author_id"),
            body=data.get("body") or "",
            html_body=data.get("html_body") or "",
            plain_body=data.get("plain_body") or "",
            public=bool(data.get("public", True)),
            created_at=parse_datetime(data.get("created_at")),
            attachments=tuple(Attachment.from_api(a) for a in data.get("attachments") or ()),
            via_channel=via.get("channel") if isinstance(via, dict) else None,
            type=data.get("type") or "Comment",
        )


@dataclass(frozen=True)
class Upload:
    """The answer of POST /uploads: the token a comment takes, and the file just stored."""

    token: str
    attachment: Attachment

    @classmethod
    def from_api(cls, data: dict[str, Any]) -> Upload:
        upload = data["upload"]
        return cls(token=upload["token"], attachment=Attachment.from_api(upload["attachment"]))


@dataclass(frozen=True)
class TicketField:
    """One of the account's ticket fields: its label, type, and option names by value."""

    id: int
    title: str
    type: str
    active: bool = True
    options: tuple[tuple[str, str], ...] = ()  # (value, name) of drop-down / multi-select
    description: str = ""
    position: int = 0
    required: bool = False  # required to solve the ticket (not to create it)
    removable: bool = True  # false for Zendesk's system fields (subject, status, ...)

    @classmethod
    def from_api(cls, data: dict[str, Any]) -> TicketField:
        options = data.get("custom_field_options") or ()
        position = data.get("position")
        return cls(
            id=int(data["id"]),
            title=data.get("title") or data.get("title_in_portal") or "",
            type=data.get("type") or "",
            active=bool(data.get("active", True)),
            description=str(data.get("agent_description") or data.get("description") or ""),
            position=position if isinstance(position, int) else 0,
            required=bool(data.get("required", False)),
            removable=bool(data.get("removable", True)),
            options=tuple(
                (str(option.get("value")), str(option.get("name") or option.get("value")))
                for option in options
                if isinstance(option, dict)
            ),
        )


SYSTEM_ACTOR_ID = -1


@dataclass(frozen=True)
class Activity:
    """Something another person did that affects the agent ("X assigned ticket #1 to you.")."""

    id: int
    title: str
    verb: str  # tickets.assignment | tickets.comment | tickets.priority_increase | ...
    user_id: int | None
    actor_id: int | None  # -1: the system
    ticket_id: int | None
    ticket_subject: str
    created_at: dt.datetime | None
    updated_at: dt.datetime | None
    comment_value: str | None = None
    comment_public: bool | None = None
    actor: User | None = None
    user: User | None = None

    @property
    def by_system(self) -> bool:
        return self.actor_id == SYSTEM_ACTOR_ID

    @classmethod
    def from_api(cls, data: dict[str, Any]) -> Activity:
        target_ticket = ((data.get("target") or {}).get("ticket")) or {}
        comment = ((data.get("object") or {}).get("comment")) or {}
        actor, user = data.get("actor"), data.get("user")
        return cls(
            id=data["id"],
            title=data.get("title") or "",
            verb=data.get("verb") or "",
            user_id=data.get("user_id"),
            actor_id=data.get("actor_id"),
            ticket_id=target_ticket.get("id"),
            ticket_subject=target_ticket.get("subject") or "",
            created_at=parse_datetime(data.get("created_at")),
            updated_at=parse_datetime(data.get("updated_at")),
            comment_value=comment.get("value"),
            comment_public=comment.get("public"),
            actor=User.from_api(actor) if isinstance(actor, dict) else None,
            user=User.from_api(user) if isinstance(user, dict) else None,
        )


@dataclass(frozen=True)
class Count:
    """An approximate count; `refreshed_at` may be None past 100,000 (cached by Zendesk)."""

    value: int
    refreshed_at: dt.datetime | None

    @classmethod
    def from_api(cls, data: dict[str, Any]) -> Count:
        count = data.get("count", data)
        return cls(
            value=int(count["value"]), refreshed_at=parse_datetime(count.get("refreshed_at"))
        )


def _by_id(record: type, entries: Any) -> dict[int, Any]:
    return {
        entry["id"]: record.from_api(entry)
        for entry in entries or ()
        if entry.get("id") is not None
    }


@dataclass(frozen=True, kw_only=True)
class Sideloads:
    """Objects Zendesk sends beside the main ones (include=users,groups,...), keyed by id.

    The base of every answer that carries them (Page, TicketDetail, and the services' views of
    a ticket), so each reads `answer.users[...]` the same way.
    """

    users: dict[int, User] = field(default_factory=dict)
    groups: dict[int, Group] = field(default_factory=dict)
    organizations: dict[int, Organization] = field(default_factory=dict)
    custom_statuses: dict[int, CustomStatus] = field(default_factory=dict)

    @staticmethod
    def fields_from_api(data: dict[str, Any]) -> dict[str, dict[int, Any]]:
        """The four sideload dicts of a body, as keyword arguments for any Sideloads."""
        # Activities sideload `actors` as well as `users`: both are users.
        users = _by_id(User, data.get("users"))
        users.update(_by_id(User, data.get("actors")))
        return {
            "users": users,
            "groups": _by_id(Group, data.get("groups")),
            "organizations": _by_id(Organization, data.get("organizations")),
            "custom_statuses": _by_id(CustomStatus, data.get("custom_statuses")),
        }

    @classmethod
    def from_api(cls, data: dict[str, Any]) -> Sideloads:
        return Sideloads(**Sideloads.fields_from_api(data))

    def sideload_fields(self) -> dict[str, dict[int, Any]]:
        """This answer's sideloads, as keyword arguments for another Sideloads."""
        return {
            "users": self.users,
            "groups": self.groups,
            "organizations": self.organizations,
            "custom_statuses": self.custom_statuses,
        }


@dataclass(frozen=True)
class GroupMembership:
    """An agent's membership of a group (who a ticket in that group can be assigned to)."""

    id: int
    user_id: int
    group_id: int
    default: bool = False

    @classmethod
    def from_api(cls, data: dict[str, Any]) -> GroupMembership:
        return cls(
            id=data["id"],
            user_id=int(data["user_id"]),
            group_id=int(data["group_id"]),
            default=bool(data.get("default")),
        )


@dataclass(frozen=True, kw_only=True)
class Page(Sideloads):
    """One page of a list. Cursor mode: follow `after_cursor` while `has_more`.

    Zendesk can end with an empty page, and can leave `links.next` set on the last one: only
    `has_more` says whether to go on. Offset mode (page numbers): `count` is the list's length,
    `next_page` / `previous_page` the numbers of the pages around this one (None at the ends).
    """

    items: tuple[Any, ...]
    has_more: bool
    after_cursor: str | None = None
    before_cursor: str | None = None
    count: int | None = None
    next_page: int | None = None
    previous_page: int | None = None

    @classmethod
    def from_api(
        cls, data: dict[str, Any], *, key: str, record: type, page_number: int | None = None
    ) -> Page:
        """`key` names the list in the body ("tickets"), `record` parses each entry;
        `page_number` is the page asked for in offset mode."""
        meta = data.get("meta") or {}
        offsets: dict[str, Any] = {}
        if page_number is not None:
            offsets = {
                "count": data.get("count"),
                "next_page": page_number + 1 if data.get("next_page") else None,
                "previous_page": page_number - 1 if data.get("previous_page") else None,
            }
        return cls(
            items=tuple(record.from_api(entry) for entry in data.get(key) or ()),
            has_more=bool(meta.get("has_more") or offsets.get("next_page")),
            after_cursor=meta.get("after_cursor"),
            before_cursor=meta.get("before_cursor"),
            **offsets,
            **Sideloads.fields_from_api(data),
        )


@dataclass(frozen=True, kw_only=True)
class TicketDetail(Sideloads):
    """What ticket_show returns: the ticket and the objects sideloaded with it (by id)."""

    ticket: Ticket

    @classmethod
    def from_api(cls, data: dict[str, Any]) -> TicketDetail:
        return cls(ticket=Ticket.from_api(data["ticket"]), **Sideloads.fields_from_api(data))


@dataclass(frozen=True)
class TokenGrant:
    """The answer of POST /oauth/tokens: secrets, handled only by oauth.py and auth.py.

    `repr` hides the tokens so a grant printed in a traceback or log leaks nothing.
    """

    access_token: str = field(repr=False)
    refresh_token: str | None = field(repr=False)
    scope: str
    expires_at: dt.datetime | None
    refresh_expires_at: dt.datetime | None

    @classmethod
    def from_api(cls, data: dict[str, Any], *, now: dt.datetime) -> TokenGrant:
        def after(seconds: Any) -> dt.datetime | None:
            return now + dt.timedelta(seconds=int(seconds)) if seconds else None

        return cls(
            access_token=data["access_token"],
            refresh_token=data.get("refresh_token"),
            scope=data.get("scope") or "",
            expires_at=after(data.get("expires_in")),
            refresh_expires_at=after(data.get("refresh_token_expires_in")),
        )
