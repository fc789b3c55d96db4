"""Ticket changes made in Zendesk, learnt from webhooks or a change feed, and what they make stale.

The cost of freshness should follow what changed, not who is looking. When a ticket changes,
only the entries it can appear in are moved to a new generation (inbox.zendesk.cache.bump):
the ticket itself, the "all" list, the lists and counts of its organization (before
and after), and the activities of the people it concerns (assignee before and after,
requester, CCs and followers) and of each only the list and count of the part they play (the
assignee's assigned tickets, a follower's followed ones...). Everything else stays cached.

Two ways to learn of a change:
- **Webhooks** (`webhook_receive`): Zendesk POSTs event subscriptions
  (`zen:event-type:ticket.*` envelopes) or a trigger's payload naming the ticket. The request
  is verified as Zendesk signs it, refused when old or replayed, and answered without calling
  Zendesk: what the event and the app's cached copy of the ticket name is invalidated at once,
  then a background re-read of the ticket adds whoever the change brought in (a new CC...).
  https://developer.zendesk.com/documentation/event-connectors/webhooks/verifying/
- **The change feed** (`change_feed_run`): one poll for the whole deployment (a lease in the
  shared cache), on the budget's feed lane, asks for the tickets updated since its last
  answer and invalidates as a webhook would. It also keeps cache lifetimes long while it runs.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import hmac
import json
import logging
import threading
import time
import uuid
from collections.abc import Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.core.cache import caches
from django.db import close_old_connections
from django.db.models import F

from inbox.models import AgentAccount
from inbox.services.credentials import with_agent_credentials
from inbox.services.freshness import (
    AGENT_VIEWS,
    activities_family,
    agent_tickets_family,
    agent_view_family,
    organization_count_family,
    organization_tickets_family,
    ticket_family,
    tickets_family,
)
from inbox.services.tickets import (
    ORGANIZATION_COUNT,
    ticket_cached_copy,
    ticket_reread_in_background,
)
from inbox.zendesk import budget, cache, client, leases, request_cost, sharedcache
from inbox.zendesk.client import Credentials
from inbox.zendesk.errors import NotFound, SessionExpired, ZendeskError
from inbox.zendesk.records import Ticket

logger = logging.getLogger(__name__)

# Zendesk signs each request with the time it sent it; older (or later) than this is refused.
WEBHOOK_TOLERANCE_SECONDS = 300
# A replayed event is recognised this long (the tolerance both ways, and a margin).
REPLAY_MEMORY_SECONDS = 2 * WEBHOOK_TOLERANCE_SECONDS + 60
DEFAULT_WEBHOOK_MAX_BYTES = 256 * 1024
TICKET_EVENT_PREFIX = "zen:event-type:ticket."
# Events that make a ticket count (its organization's) one more or one less;
# every kind of deletion too (soft, permanent, and its undoing: any event type naming
# "deleted").
# https://developer.zendesk.com/api-reference/webhooks/event-types/ticket-events/
COUNTED_EVENTS = ("ticket.created", "ticket.merged")
REPLAY_KEY_PREFIX = "inbox:webhook:seen"

# -- what a change touches ---------------------------------------------------------------------


@dataclass(frozen=True)
class TicketChange:
    """A ticket that changed, and the people and organizations it is known to concern.

    `roles` says which part a person plays (person, view of AGENT_VIEWS): only those views of
    theirs are invalidated. A person in `people` with no role known (an event naming someone
    without saying how) has all their views invalidated.
    """

    ticket_id: int
    people: frozenset[int] = frozenset()
    organization_ids: frozenset[int] = frozenset()
    roles: frozenset[tuple[int, str]] = frozenset()
    # Whether the change can alter the organizations' approximate counts: the event says the
    # ticket is new (or was deleted), or a copy says when it was created (`created_after`)...
    counted: bool = False
    created_at: float | None = None
    # ... or sat in another organization in one copy than in another (0: in none).
    placements: frozenset[int] = frozenset()
    # Whose own action it was, when the event says (a comment's author): Zendesk gives nobody
    # an activity for their own action, so their bell is left as it is.
    # https://developer.zendesk.com/api-reference/ticketing/tickets/activity_stream/
    actor: int | None = None

    def including(self, ticket: Ticket | None) -> TicketChange:
        """This change plus whoever `ticket` (a copy before or after it) concerns."""
        if ticket is None:
            return self
        roles = ticket_roles(ticket)
        return TicketChange(
            ticket_id=self.ticket_id,
            people=self.people | {person for person, _view in roles},
            organization_ids=self.organization_ids | _ids([ticket.organization_id]),
            roles=self.roles | roles,
            counted=self.counted,
            created_at=max(
                (stamp for stamp in (self.created_at, _created_stamp(ticket)) if stamp is not None),
                default=None,
            ),
            placements=self.placements | {ticket.organization_id or 0},
            actor=self.actor,
        )

    def count_families(self, base_url: str, followed: dict[str, float] | None) -> set[str]:
        """The organizations' approximate counts that can differ from what the cache holds,
        by their families; `followed` says which creations each was moved on for already
        (`counts_followed`)."""
        if self.counted or len(self.placements) > 1:
            return {organization_count_family(base_url, org) for org in self.organization_ids}
        followed = followed or {}
        return {
            organization_count_family(base_url, org)
            for org in self.organization_ids
            if created_after(self.created_at, followed.get(str(org)))
        }

    def views(self) -> set[tuple[int, str]]:
        """Every (person, view) the change can alter: the known roles, and every view of a
        person whose part is not known."""
        known = {person for person, _view in self.roles}
        unknown = {(person, view) for person in self.people - known for view in AGENT_VIEWS}
        return set(self.roles) | unknown


def _created_stamp(ticket: Ticket) -> float | None:
    return ticket.created_at.timestamp() if ticket.created_at is not None else None


# How far the app's clock may be from Zendesk's (whose created_at it compares with its own).
CLOCK_SLACK_SECONDS = 60


def created_after(created_at: float | None, followed: float | None) -> bool:
    """Whether a ticket created then (Zendesk's clock) may be missing from a cached approximate
    count. `followed`: the newest creation that count was moved on for (Zendesk's clock): it
    was moved on after that ticket existed, so every copy of it cached now was asked after
    every ticket created until then. None: no such creation within the counts' longest
    lifetime, and every copy cached now was asked within it.

    Not known (an event's own payload, no copy cached): the event's kind says whether it is
    new, or the re-read of the ticket will."""
    if created_at is None:
        return False
    if followed is None:
        window = cache.longest_lifetime(ORGANIZATION_COUNT) + CLOCK_SLACK_SECONDS
        return created_at > cache.clock() - window
    return created_at > followed


COUNTS_FOLLOWED_KEY_PREFIX = "inbox:change:counts-followed"


def _counts_followed_key(base_url: str) -> str:
    return f"{COUNTS_FOLLOWED_KEY_PREFIX}:{hashlib.sha256(base_url.encode()).hexdigest()[:40]}"


def counts_followed(base_url: str) -> dict[str, float]:
    """The newest ticket creation (Zendesk's created_at) each organization's approximate count
    was moved on for within the counts' longest lifetime, by organization id."""
    return caches["default"].get(_counts_followed_key(base_url)) or {}


def _counts_followed_note(base_url: str, change: TicketChange, families: set[str]) -> None:
    """After counts were moved on for a change: remember its ticket's creation time for them.
    (Two processes at once may keep the older time: a later change then moves a count on once
    more than needed, never less.)"""
    moved = [
        str(org)
        for org in change.organization_ids
        if organization_count_family(base_url, org) in families
    ]
    if change.created_at is None or not moved:
        return
    followed = counts_followed(base_url)
    for key in moved:
        followed[key] = max(change.created_at, followed.get(key, 0.0))
    seconds = int(cache.longest_lifetime(ORGANIZATION_COUNT)) + 1
    caches["default"].set(_counts_followed_key(base_url), followed, timeout=seconds)


def _id(value: Any) -> int | None:
    """One positive integer id from Zendesk's value, or None."""
    return next(iter(_ids([value])), None)


def _ids(values: Iterable[Any]) -> frozenset[int]:
    """Positive integer ids from Zendesk's values (event payloads write ids as strings)."""
    found = set()
    for value in values:
        try:
            number = int(value)
        except (TypeError, ValueError):
            continue
        if number > 0:
            found.add(number)
    return frozenset(found)


def _as(view: str, values: Iterable[Any]) -> frozenset[tuple[int, str]]:
    return frozenset((person, view) for person in _ids(values))


def ticket_roles(ticket: Ticket) -> frozenset[tuple[int, str]]:
    """Whose lists, counts and activities a change of this ticket can alter, and which lists:
    the assignee's assigned, the requester's requested, the CCs' CC'd and the followers'
    followed tickets. `collaborator_ids` is both CCs and followers, so it counts as both.

    The submitter is left out: Zendesk lists a ticket under its requester, not its submitter.
    https://developer.zendesk.com/api-reference/ticketing/tickets/tickets/#list-tickets
    """
    return (
        _as("assigned", [ticket.assignee_id])
        | _as("requested", [ticket.requester_id])
        | _as("ccd", [*ticket.email_cc_ids, *ticket.collaborator_ids])
        | _as("followed", [*ticket.follower_ids, *ticket.collaborator_ids])
    )


def ticket_people(ticket: Ticket) -> frozenset[int]:
    """Everyone the ticket concerns (see ticket_roles)."""
    return frozenset(person for person, _view in ticket_roles(ticket))


def change_families(
    base_url: str, change: TicketChange, followed: dict[str, float] | None = None
) -> set[str]:
    """Every cache family the change makes stale (see the module docstring); the approximate
    counts' only if they can differ from what the cache holds (see TicketChange.
    count_families)."""
    families = {
        ticket_family(base_url, change.ticket_id),
        tickets_family(base_url),
        *(organization_tickets_family(base_url, org) for org in change.organization_ids),
        *(agent_tickets_family(base_url, person) for person in change.people),
        *(agent_view_family(base_url, person, view) for person, view in change.views()),
        *(activities_family(base_url, person) for person in change.people - {change.actor}),
    }
    return families | change.count_families(base_url, followed)


@dataclass(frozen=True)
class Applied:
    """A change as applied (the app's cached copy of the ticket included) and the families it
    moved on."""

    change: TicketChange
    families: frozenset[str]


def ticket_change_apply(*, base_url: str, change: TicketChange) -> Applied:
    """Invalidate what the change touches, as the app's cached copy of the ticket also names
    (who it concerned before, where it was). Never calls Zendesk."""
    whole = change.including(ticket_cached_copy(base_url=base_url, ticket_id=change.ticket_id))
    return Applied(whole, frozenset(_bump(base_url, whole)))


def _bump(base_url: str, change: TicketChange, already: frozenset[str] = frozenset()) -> set[str]:
    """Move on what the change makes stale and was not moved on `already`; returns that."""
    families = change_families(base_url, change, counts_followed(base_url)) - already
    if families:
        cache.bump(*families)
        _counts_followed_note(base_url, change, families)
    return families


# -- the re-read in the background -----------------------------------------------------------
_background = ThreadPoolExecutor(max_workers=2, thread_name_prefix="ticket-reread")
_pending: set[Future] = set()
_pending_lock = threading.Lock()


def background_agents() -> list[AgentAccount]:
    """Signed-in unrestricted agents, most recently signed in first: whose credentials the
    background reads use (they see every ticket the shared cache holds)."""
    return list(
        AgentAccount.objects.filter(restricted=False, role__in=("agent", "admin"))
        .exclude(access_token_encrypted="")
        .order_by(F("last_signed_in_at").desc(nulls_last=True), "-pk")[:3]
    )


def ticket_reread_later(*, base_url: str, applied: Applied) -> Future | None:
    """Queue a re-read of the ticket on the background lane; invalidate what it adds to the
    change already `applied` (a new CC, the organization it moved to...).

    The agents are chosen here (on the caller's thread) and handed to the job.
    """
    agents = background_agents()
    if not agents:
        return None
    future = _background.submit(_reread_job, base_url, applied, agents)
    with _pending_lock:
        _pending.add(future)
    future.add_done_callback(_forget_future)
    return future


def _forget_future(future: Future) -> None:
    with _pending_lock:
        _pending.discard(future)


def background_wait(timeout: float = 60.0) -> None:
    """Wait for the queued re-reads (tests, and a clean shutdown)."""
    with _pending_lock:
        waiting = list(_pending)
    for future in waiting:
        future.result(timeout=timeout)


def _reread_job(base_url: str, applied: Applied, agents: list[AgentAccount]) -> set[str]:
    ticket_id = applied.change.ticket_id
    # The ticket and its comments were moved on at once; what the re-read caches is new.
    already = applied.families | {ticket_family(base_url, ticket_id)}
    try:
        for agent in agents:
            try:
                with request_cost.counting("webhook-re-read"):
                    ticket = ticket_reread_in_background(agent=agent, ticket_id=ticket_id)
            except SessionExpired:
                continue
            except NotFound:  # deleted: one ticket fewer in the counts that held it
                organizations = applied.change.organization_ids
                gone = TicketChange(ticket_id, organization_ids=organizations, counted=True)
                return _bump(base_url, gone, already)
            except ZendeskError as error:  # Zendesk down: the feed catches up
                logger.info("re-reading ticket %s after a change: %s", ticket_id, error)
                return set()
            added = _bump(base_url, applied.change.including(ticket), already)
            applied_record(base_url, ticket)
            return added
        return set()
    finally:
        close_old_connections()


# -- what was applied already (so the feed does not invalidate a change twice) -------------------
APPLIED_KEY_PREFIX = "inbox:change:applied"
# Long enough for the feed to come by (it runs every CHANGE_FEED_SECONDS).
APPLIED_MEMORY_SECONDS = 600


def _applied_key(base_url: str, ticket_id: int) -> str:
    digest = hashlib.sha256(f"{base_url}|{int(ticket_id)}".encode()).hexdigest()[:40]
    return f"{APPLIED_KEY_PREFIX}:{digest}"


def applied_record(base_url: str, ticket: Ticket) -> None:
    """Remember that this version of the ticket (as Zendesk gave it after a webhook) has been
    invalidated in full: the feed, finding the same version, need not move anyone on again
    (every affected agent would otherwise ask Zendesk twice for one change)."""
    caches["default"].set(
        _applied_key(base_url, ticket.id), _fingerprint(ticket), timeout=APPLIED_MEMORY_SECONDS
    )


def applied_versions(base_url: str, tickets: Iterable[Ticket]) -> dict[int, str]:
    """The version applied of each ticket that has one, in one round trip."""
    keys = {_applied_key(base_url, ticket.id): ticket.id for ticket in tickets}
    if not keys:
        return {}
    found = caches["default"].get_many(list(keys))
    return {keys[key]: version for key, version in found.items()}


# -- webhooks ----------------------------------------------------------------------------------


class WebhookRefused(Exception):
    """A webhook request the app will not act on; `status` and a sentence saying why."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True)
class WebhookOutcome:
    ticket_id: int | None
    invalidated: set[str] = field(default_factory=set)
    ignored: str = ""


def webhook_max_bytes() -> int:
    return int(getattr(settings, "ZENDESK_WEBHOOK_MAX_BYTES", DEFAULT_WEBHOOK_MAX_BYTES))


def _secrets() -> list[str]:
    """The signing secret, and the previous one while a rotation is under way."""
    names = ("ZENDESK_WEBHOOK_SECRET", "ZENDESK_WEBHOOK_SECRET_PREVIOUS")
    return [secret for name in names if (secret := getattr(settings, name, ""))]


def webhook_signature(secret: str, timestamp: str, body: bytes) -> str:
    """base64(HMAC-SHA256(secret, TIMESTAMP + BODY)), as Zendesk signs.
    https://developer.zendesk.com/documentation/event-connectors/webhooks/verifying/"""
    digest = hmac.new(secret.encode(), timestamp.encode() + body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def webhook_verify(*, body: bytes, signature: str | None, timestamp: str | None) -> None:
    """Raise WebhookRefused unless the request is signed with a configured secret, now."""
    secrets = _secrets()
    if not secrets:
        raise WebhookRefused(403, "Webhooks are not accepted: ZENDESK_WEBHOOK_SECRET is not set.")
    if not signature or not timestamp:
        raise WebhookRefused(
            401, "The request has no X-Zendesk-Webhook-Signature and -Timestamp headers."
        )
    try:
        given = base64.b64decode(signature, validate=True)
    except (binascii.Error, ValueError):
        raise WebhookRefused(401, "The signature is not base64.") from None
    if not any(
        hmac.compare_digest(given, base64.b64decode(webhook_signature(secret, timestamp, body)))
        for secret in secrets
    ):
        raise WebhookRefused(401, "The signature does not match: check the signing secret.")
    sent_at = _parse_time(timestamp)
    if sent_at is None:
        raise WebhookRefused(400, "The signature timestamp is not an ISO 8601 time.")
    if abs(cache.clock() - sent_at.timestamp()) > WEBHOOK_TOLERANCE_SECONDS:
        raise WebhookRefused(401, "The signature timestamp is more than 5 minutes from now.")


def _parse_time(text: str) -> dt.datetime | None:
    try:
        moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None


def _event_time(payload: dict[str, Any]) -> float | None:
    """When Zendesk says the event happened (the envelope's `time`)."""
    moment = _parse_time(payload["time"]) if isinstance(payload.get("time"), str) else None
    return moment.timestamp() if moment is not None else None


def _event_ticket_id(payload: dict[str, Any]) -> tuple[int | None, str]:
    """The ticket an event names, or why it is ignored ("" when it names one)."""
    kind = payload.get("type")
    if isinstance(kind, str):  # an event subscription's envelope
        if not kind.startswith(TICKET_EVENT_PREFIX):
            return None, f"{kind} is not a ticket event"
        subject = payload.get("subject")
        if isinstance(subject, str) and subject.startswith("zen:ticket:"):
            return next(iter(_ids([subject.removeprefix("zen:ticket:")])), None), ""
        detail = payload.get("detail")
        return next(iter(_ids([detail.get("id")])), None) if isinstance(detail, dict) else None, ""
    # A trigger's payload, written by the admin: {"ticket_id": "{{ticket.id}}"} or alike.
    ticket = payload.get("ticket")
    candidates = [payload.get("ticket_id"), ticket.get("id") if isinstance(ticket, dict) else None]
    return next(iter(_ids(candidates)), None), ""


def _event_change(payload: dict[str, Any], ticket_id: int) -> TicketChange:
    """Who the event itself names: the ticket's people now, and before for an assignment."""
    detail = payload.get("detail") if isinstance(payload.get("detail"), dict) else {}
    event = payload.get("event") if isinstance(payload.get("event"), dict) else {}
    assignees = [detail.get("assignee_id")]
    requesters = [detail.get("requester_id")]
    organizations = [detail.get("organization_id")]
    kind = payload.get("type") if isinstance(payload.get("type"), str) else ""
    if kind.endswith("agent_assignment_changed"):
        assignees += [event.get("previous"), event.get("current")]
    if kind.endswith("requester_changed"):
        requesters += [event.get("previous"), event.get("current")]
    placements: frozenset[int] = frozenset()
    if kind.endswith("organization_changed"):
        organizations += [event.get("previous"), event.get("current")]
        # Where it was and where it is (0: in no organization): both counts change.
        placements = frozenset(_id(event.get(side)) or 0 for side in ("previous", "current"))
    actor = None
    if kind.endswith("comment_added"):
        comment = event.get("comment") if isinstance(event.get("comment"), dict) else {}
        author = comment.get("author") if isinstance(comment.get("author"), dict) else {}
        actor = _id(author.get("id"))
    roles = _as("assigned", assignees) | _as("requested", requesters)
    return TicketChange(
        ticket_id,
        people=frozenset(person for person, _view in roles),
        organization_ids=_ids(organizations),
        roles=roles,
        counted=kind.endswith(COUNTED_EVENTS) or "deleted" in kind,
        created_at=_event_time(payload) if kind.endswith("ticket.created") else None,
        placements=placements,
        actor=actor,
    )


def _replay_key(payload: dict[str, Any], timestamp: str, body: bytes) -> str:
    event_id = payload.get("id") if isinstance(payload.get("type"), str) else None
    material = (
        f"id:{event_id}" if event_id else f"sig:{timestamp}:" + hashlib.sha256(body).hexdigest()
    )
    return f"{REPLAY_KEY_PREFIX}:{hashlib.sha256(material.encode()).hexdigest()[:40]}"


def webhook_receive(
    *, base_url: str, body: bytes, signature: str | None, timestamp: str | None
) -> WebhookOutcome:
    """Verify, then invalidate what the event makes stale, and queue the re-read.

    Raises WebhookRefused (nothing changed) for a bad signature, an old timestamp, a body that
    is not a JSON object naming a ticket, or an event already received.
    """
    if len(body) > webhook_max_bytes():
        raise WebhookRefused(413, f"The body is larger than {webhook_max_bytes()} bytes.")
    webhook_verify(body=body, signature=signature, timestamp=timestamp)
    try:
        payload = json.loads(body)
    except (UnicodeDecodeError, ValueError):
        raise WebhookRefused(400, "The body is not JSON.") from None
    if not isinstance(payload, dict):
        raise WebhookRefused(400, "The body is not a JSON object.")
    ticket_id, ignored = _event_ticket_id(payload)
    if ignored:
        return WebhookOutcome(ticket_id=None, ignored=ignored)
    if ticket_id is None:
        raise WebhookRefused(400, 'The body names no ticket (e.g. {"ticket_id": "123"}).')
    replay_key = _replay_key(payload, timestamp or "", body)
    if not caches["default"].add(replay_key, 1, timeout=REPLAY_MEMORY_SECONDS):
        raise WebhookRefused(409, "This event was already received.")
    try:
        applied = ticket_change_apply(base_url=base_url, change=_event_change(payload, ticket_id))
    except BaseException:
        caches["default"].delete(replay_key)  # not applied: let Zendesk's retry through
        raise
    ticket_reread_later(base_url=base_url, applied=applied)
    return WebhookOutcome(ticket_id=ticket_id, invalidated=set(applied.families))


# -- the change feed ---------------------------------------------------------------------------
LEASE_KEY = "inbox:change-feed:lease"
STATE_KEY_PREFIX = "inbox:change-feed:state"
# Tickets of the recently-updated list read in one round at most (pages of 100): a burst of
# changes larger than this is read over several rounds, each carrying on where the last stopped.
FEED_MAX_TICKETS = 500
FEED_PAGE_SIZE = 100
DEFAULT_FEED_SECONDS = 10.0
PAUSED = "the shared cache (Redis) is unreachable"
LEASE_LOST = "another process took the change feed over"


def feed_seconds() -> float:
    return float(getattr(settings, "CHANGE_FEED_SECONDS", DEFAULT_FEED_SECONDS))


def _lease_seconds() -> int:
    return max(30, int(feed_seconds() * 3))


def feed_lease_take(token: str) -> bool:
    """Hold the deployment's one change feed (or keep holding it); False when another does.

    Taking and renewing are one atomic step in the shared cache (inbox.zendesk.leases): a
    holder whose lease expired never renews the lease another process has taken since.
    """
    return leases.lease_hold(LEASE_KEY, token, _lease_seconds())


def feed_lease_release(token: str) -> None:
    leases.lease_release(LEASE_KEY, token)


@dataclass(frozen=True)
class FeedRun:
    """One run of the feed: the tickets found changed and the families moved on."""

    changed: tuple[int, ...]
    invalidated: set[str]
    baseline: bool = False  # the first run only notes where it starts
    skipped: str = ""  # why nothing was asked, when nothing was
    more: bool = False  # stopped at FEED_MAX_TICKETS: the next run carries on from there


def _fingerprint(ticket: Ticket) -> str:
    return hashlib.sha256(repr(ticket).encode()).hexdigest()[:16]


def _state_key(base_url: str) -> str:
    return f"{STATE_KEY_PREFIX}:{hashlib.sha256(base_url.encode()).hexdigest()[:40]}"


@dataclass(frozen=True)
class _Walk:
    """Tickets read down the recently-updated list, and where to carry on (None: done)."""

    tickets: list[Ticket]
    resume_after: str | None = None


def _walk(credentials: Credentials, *, after: str | None, floor: float | None, limit: int) -> _Walk:
    """One bounded page walk down the tickets sorted by -updated_at, from the cursor `after`
    (None: the newest): until a ticket updated before `floor`, the list's end, or `limit`
    tickets. Without a floor (the first run), one page."""
    found: list[Ticket] = []
    while len(found) < limit:
        page = client.tickets_list(
            credentials,
            view="all",
            sort="-updated_at",
            page_size=min(FEED_PAGE_SIZE, limit - len(found)),
            after=after,
            include=(),
            lane=budget.FEED,
        )
        for ticket in page.items:
            if floor is not None and _stamp(ticket) < floor:
                return _Walk(found)
            found.append(ticket)
        if floor is None or not page.has_more or not page.after_cursor:
            return _Walk(found)
        after = page.after_cursor
    return _Walk(found, resume_after=after)


def _stamp(ticket: Ticket) -> float:
    return ticket.updated_at.timestamp() if ticket.updated_at else 0.0


def _newest(tickets: list[Ticket]) -> tuple[float, dict[str, str]] | None:
    """The newest updated_at and the fingerprints of the tickets updated in that second.

    Zendesk's updated_at has whole seconds: a ticket updated again within that second is
    still seen next time by its fingerprint (when a field shows).
    """
    newest = max((_stamp(ticket) for ticket in tickets), default=None)
    if newest is None:
        return None
    return newest, {
        str(ticket.id): _fingerprint(ticket) for ticket in tickets if _stamp(ticket) == newest
    }


def _feed_round(
    credentials: Credentials, state: dict[str, Any] | None
) -> tuple[list[Ticket], dict[str, Any], bool]:
    """One bounded walk: the tickets changed since the state, the state to keep, and whether
    the walk stopped at FEED_MAX_TICKETS before reaching what the last round had seen.

    The state is `since`/`prints` (everything updated after was seen) and, while a walk is
    unfinished, `resume`: its cursor and the newest point it started from. The list is
    keyset-paginated, so the cursor stays put while tickets above it change; a ticket it has
    not reached yet that changes again moves above the start and the next walk from the top
    sees it.
    """
    if state is None:  # the first run: note where the list stands
        top = _newest(_walk(credentials, after=None, floor=None, limit=FEED_PAGE_SIZE).tickets)
        since, prints = top or (0.0, {})
        return [], {"since": since, "prints": prints, "resume": None}, False
    since, prints, resume = state["since"], state["prints"], state.get("resume")
    walk = _walk(
        credentials,
        after=resume["after"] if resume else None,
        floor=since,
        limit=FEED_MAX_TICKETS,
    )
    changed = [
        ticket
        for ticket in walk.tickets
        if _stamp(ticket) > since or prints.get(str(ticket.id)) != _fingerprint(ticket)
    ]
    if resume is not None:
        # Tickets this walk read in the newest second join that second's fingerprints, or the
        # next walk from the top would take them for changed again (Zendesk's updated_at has
        # whole seconds, so a burst shares its second with the walk's start).
        top: tuple[float, dict[str, str]] = (
            resume["top"],
            {
                **resume["top_prints"],
                **{
                    str(ticket.id): _fingerprint(ticket)
                    for ticket in walk.tickets
                    if _stamp(ticket) == resume["top"]
                },
            },
        )
    else:
        top = _newest(walk.tickets) or (since, prints)
    if walk.resume_after is None:
        return changed, {"since": top[0], "prints": top[1], "resume": None}, False
    carry_on = {"after": walk.resume_after, "top": top[0], "top_prints": top[1]}
    return changed, {"since": since, "prints": prints, "resume": carry_on}, True


def _feed_credentials_run(agent: AgentAccount, base_url: str, token: str) -> FeedRun:
    store = caches["default"]
    state = store.get(_state_key(base_url))
    changed, new_state, more = with_agent_credentials(
        agent, lambda credentials: _feed_round(credentials, state)
    )
    # Asking Zendesk took a while: hold on to the lease before acting on the answer, or leave
    # it to the process that took it over (it reads from the same state).
    if not feed_lease_take(token):
        logger.warning("change feed: %s while this run asked Zendesk; leaving it", LEASE_LOST)
        return FeedRun(changed=(), invalidated=set(), skipped=LEASE_LOST)
    invalidated: set[str] = set()
    versions = applied_versions(base_url, changed)
    for ticket in changed:
        if versions.get(ticket.id) == _fingerprint(ticket):
            continue  # a webhook has invalidated this very version already
        applied = ticket_change_apply(
            base_url=base_url, change=TicketChange(ticket.id).including(ticket)
        )
        invalidated |= applied.families
    store.set(_state_key(base_url), new_state, timeout=None)
    cache.feed_alive_mark(feed_seconds() * 3)
    if more:
        logger.info(
            "change feed: read %d tickets, the most one run reads, before reaching what the "
            "last run had seen; the next run carries on from there",
            FEED_MAX_TICKETS,
        )
    return FeedRun(
        changed=tuple(ticket.id for ticket in changed),
        invalidated=invalidated,
        baseline=state is None,
        more=more,
    )


_paused = False
_paused_lock = threading.Lock()


def _feed_paused(paused: bool) -> None:
    """Log once when the feed pauses for the shared cache, once when it resumes."""
    global _paused
    with _paused_lock:
        if paused == _paused:
            return
        _paused = paused
    if paused:
        logger.warning(
            "change feed paused: %s, so no process could tell the others what changed (each "
            "keeps answers only for the short default lifetimes meanwhile); it resumes when "
            "the shared cache answers again",
            PAUSED,
        )
    else:
        logger.warning("change feed resumed: the shared cache answers again")


def change_feed_run(*, token: str) -> FeedRun | None:
    """One run of the feed, if this holder has the lease (None when another process has it).

    Skipped (saying why) while the shared cache is unreachable (what the feed learns could
    reach only this process), and when no unrestricted agent is signed in (nothing to ask
    Zendesk with).
    """
    if not feed_lease_take(token):
        return None
    if not sharedcache.shared_cache_available():
        _feed_paused(True)
        return FeedRun(changed=(), invalidated=set(), skipped=PAUSED)
    _feed_paused(False)
    base_url = settings.ZENDESK_URL
    for agent in background_agents():
        try:
            return _feed_credentials_run(agent, base_url, token)
        except SessionExpired:
            continue
    return FeedRun(changed=(), invalidated=set(), skipped="no unrestricted agent is signed in")


def change_feed_forever(*, stop: threading.Event | None = None) -> None:
    """Run the feed every CHANGE_FEED_SECONDS until `stop` is set; any process may call it,
    only the lease holder asks Zendesk (the others take over when it stops renewing)."""
    stop = stop or threading.Event()
    token = uuid.uuid4().hex
    try:
        while not stop.is_set():
            started = time.monotonic()
            try:
                with request_cost.counting("change-feed"):
                    change_feed_run(token=token)
            except ZendeskError as error:
                logger.warning("change feed: Zendesk did not answer (%s)", error)
            except Exception:  # one bad run must not end the feed
                logger.exception("change feed run failed")
            finally:
                close_old_connections()
            stop.wait(max(0.0, feed_seconds() - (time.monotonic() - started)))
    finally:
        feed_lease_release(token)


_thread: threading.Thread | None = None
_thread_lock = threading.Lock()


def change_feed_thread_start() -> threading.Thread:
    """The in-process feed for a single-dyno deployment (CHANGE_FEED_THREAD=true)."""
    global _thread
    with _thread_lock:
        if _thread is None or not _thread.is_alive():
            _thread = threading.Thread(target=change_feed_forever, name="change-feed", daemon=True)
            _thread.start()
        return _thread
