"""What the poll shows (the sidebar's badges and organizations, and the bell) and the cheap
"nothing new" that most polls are.

Every open tab polls every few seconds, so the usual poll must cost little more than knowing
who is asking. The last answer is kept per agent as a *poll state*, with the inputs it was
computed from: the generations of the cache families it reads (the change feed, webhooks and
the app's own writes move them on), the agent's "opened" counts, whether a change feed runs,
and the agent's own marks (what they opened or marked seen, their notification choices: a
family of its own, moved on by those writes). A poll reads the state and its inputs in one
cache round trip (one `get_many`), then the approximate counts the state shows (a second);
while the inputs match, the answer is within the lifetime of its parts, and the cache's fresh
approximate counts say the same numbers, the kept state is the answer, with no database query
and no cache write. (The approximate counts live 30 s; ending every agent's state with them
would compute every state again twice a minute.) Anything else computes the answer from the
services as before and keeps it again.

The state is keyed by the agent's account, Zendesk user and restricted flag: no agent ever
reads another's.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.cache import caches

from inbox.models import AgentAccount
from inbox.services import activities
from inbox.services import inbox as inbox_services
from inbox.services.freshness import (
    activities_family,
    agent_marks_family,
    agent_tickets_family,
)
from inbox.zendesk import budget, cache, request_cost
from inbox.zendesk.errors import ZendeskUnavailable


@dataclass(frozen=True)
class PollState:
    """The sidebar and the bell as a poll (or a page drawn from the cache) shows them.

    `sidebar` None: not in the cache yet (a page only; a poll always has one). `bell` None:
    Zendesk gave nothing for the bell. `version` is what the browser sends back; "" when a
    page could not draw every part, so its first poll brings them.
    """

    sidebar: inbox_services.Sidebar | None
    bell: activities.Bell | None
    notify: activities.NotificationSettings
    version: str


@dataclass(frozen=True)
class _Inputs:
    """What a kept state was computed from, and the kept state itself (read together)."""

    kept: tuple[Any, float, PollState] | None
    fingerprint: tuple[Any, ...] | None  # None: a family has no generation yet
    feed_alive: bool = False


def poll_state(*, agent: AgentAccount, lane: str = budget.BACKGROUND) -> PollState:
    """The poll's answer: the kept state when nothing it depends on changed, else computed
    from the services (on `lane`) and kept for the next poll.

    Raises what `sidebar_counts` raises for a refusal (ZendeskError); Zendesk being down is
    not an error (numbers are left out, the bell is None).
    """
    inputs = _inputs_read(agent)
    kept, how = _kept(agent, inputs)
    request_cost.note("poll", how)
    if kept is not None:
        return kept
    if inputs.fingerprint is None:  # start the families that have no generation yet
        cache.generations(_families(agent))
        inputs = _inputs_read(agent)
    sidebar = inbox_services.sidebar_counts(agent=agent, lane=lane)
    try:
        bell: cache.Fresh[activities.Bell] | None = activities.activity_bell(agent=agent, lane=lane)
    except ZendeskUnavailable:
        bell = None
    notify = activities.notification_settings_get(agent=agent)
    state = _state(sidebar, bell.value if bell else None, notify)
    _keep(agent, inputs, state, bell)
    return state


def poll_state_cached(*, agent: AgentAccount) -> PollState:
    """What a full page draws at once, from the cache alone (never a Zendesk read).

    The kept state when it is current (two cache reads), else what the cache holds of
    each part; a part it does not hold is left for the page's first poll.
    """
    kept, _how = _kept(agent, _inputs_read(agent))
    if kept is not None:
        return kept
    sidebar = inbox_services.sidebar_cached(agent=agent)
    bell = activities.activity_bell_cached(agent=agent)
    notify = activities.notification_settings_get(agent=agent)
    state = _state(sidebar, bell.value if bell else None, notify)
    if sidebar is None or bell is None:
        return PollState(sidebar=sidebar, bell=state.bell, notify=notify, version="")
    return state


def _state(
    sidebar: inbox_services.Sidebar | None,
    bell: activities.Bell | None,
    notify: activities.NotificationSettings,
) -> PollState:
    choices = "".join(
        "1" if on else "0" for on in (notify.desktop, notify.sound, notify.do_not_disturb)
    )
    shown = f"{sidebar.version if sidebar else ''}|{bell.version if bell else 'none'}-{choices}"
    version = hashlib.sha256(shown.encode()).hexdigest()[:16]
    return PollState(sidebar=sidebar, bell=bell, notify=notify, version=version)


def _families(agent: AgentAccount) -> list[str]:
    """What moves a kept state on. Not the "all" list's family, which every ticket change
    moves (every few seconds in a busy team): the sidebar shows no "all" list, only Zendesk's
    approximate count and the organizations' counts, which the kept state follows by their
    lifetimes (`_keep`), as the kept sidebar it is drawn from does."""
    base_url = settings.ZENDESK_URL
    return [
        agent_tickets_family(base_url, agent.zendesk_user_id),
        activities_family(base_url, agent.zendesk_user_id),
        agent_marks_family(base_url, agent.pk),
    ]


def _state_key(agent: AgentAccount) -> str:
    material = f"{settings.ZENDESK_URL}|{agent.pk}|{agent.zendesk_user_id}|{agent.restricted}"
    return f"inbox:poll-state:{hashlib.sha256(material.encode()).hexdigest()[:40]}"


def _inputs_read(agent: AgentAccount) -> _Inputs:
    """The kept state and everything it depends on, in one cache round trip."""
    opened = inbox_services.opened_count_keys(agent=agent, base_url=settings.ZENDESK_URL)
    state_key = _state_key(agent)
    values, generations = cache.read_with_generations(
        [state_key, *opened, cache.FEED_ALIVE_KEY], _families(agent)
    )
    feed_alive = cache.FEED_ALIVE_KEY in values
    if generations is None:
        return _Inputs(kept=values.get(state_key), fingerprint=None)
    fingerprint = (
        tuple(sorted(generations.items())),
        tuple(values.get(key) for key in opened),
        feed_alive,
        agent.activities_seen_at,
        agent.iana_time_zone,
    )
    return _Inputs(kept=values.get(state_key), fingerprint=fingerprint, feed_alive=feed_alive)


def _kept(agent: AgentAccount, inputs: _Inputs) -> tuple[PollState | None, str]:
    """The kept state if it still stands, and how the poll's answer is made (its
    Server-Timing): "kept", else why it is computed again: "none" kept, its inputs "moved"
    on, it "expired", or the approximate "counts" it shows are due again or changed."""
    if inputs.kept is None or inputs.fingerprint is None:
        return None, "none"
    fingerprint, fresh_until, state = inputs.kept
    if fingerprint != inputs.fingerprint:
        return None, "moved"
    if cache.clock() >= fresh_until:
        return None, "expired"
    if not _same_approximate_counts(agent, state):
        return None, "counts"
    return state, "kept"


def _same_approximate_counts(agent: AgentAccount, state: PollState) -> bool:
    """Whether the cache holds fresh approximate counts ("all", the organizations) with the
    numbers the state shows: their short life (the "all" count's 30 s) need not end the
    state's, as long as Zendesk says the same numbers (an organization's count moved on by a
    change is not fresh: the state is computed again). Until the first of them expires,
    nothing to read; after, one cache read (on Redis, answered by the near cache)."""
    sidebar = state.sidebar
    shown = sidebar.approximate if sidebar is not None else ()
    if not shown:
        return True
    if sidebar.fresh_until is not None and cache.clock() < sidebar.fresh_until:
        return True  # none has expired since the state was computed: the same entries
    reads = [read for read, _number in shown]
    # A count that only aged is answered as cached_call would, and asked again behind it.
    hits = cache.cached_hits(
        reads, fetches=[inbox_services.approximate_count_fetch(agent, read) for read in reads]
    )
    return all(
        hit is not None and inbox_services.count_number(hit) == number
        for hit, (_read, number) in zip(hits, shown, strict=True)
    )


def _keep(
    agent: AgentAccount,
    inputs: _Inputs,
    state: PollState,
    bell: cache.Fresh[activities.Bell] | None,
) -> None:
    """Keep a state computed from fresh parts until its first part would expire.

    The inputs were read before the parts were computed: a change in between leaves the
    kept state with older inputs, which the next poll does not match.
    """
    sidebar = state.sidebar
    if (
        inputs.fingerprint is None
        or sidebar is None
        or sidebar.stale_message
        or sidebar.fresh_until is None
        or bell is None
        or bell.stale
    ):
        return
    fresh_until = min(
        # Past the approximate counts' own expiry while they say the same (`_kept`).
        sidebar.lasting_until if sidebar.lasting_until is not None else sidebar.fresh_until,
        bell.fetched_at.timestamp() + _lifetime("activities", inputs.feed_alive),
    )
    seconds_left = fresh_until - cache.clock()
    if seconds_left < 1:
        return
    caches["default"].set(
        _state_key(agent), (inputs.fingerprint, fresh_until, state), timeout=int(seconds_left)
    )


def _lifetime(kind: str, feed_alive: bool) -> float:
    """How long the cache serves an answer of this kind: longer while a change feed runs, as
    every change then moves the families the state was computed from (and a feed that stops
    changes the state's inputs)."""
    seconds = cache.ttl_for(kind)
    if not feed_alive:
        return seconds
    overrides = getattr(settings, "ZENDESK_CACHE_TTL_WITH_FEED_SECONDS", {}) or {}
    with_feed = {**cache.DEFAULT_TTL_WITH_FEED_SECONDS, **overrides}
    return max(seconds, float(with_feed.get(kind, 0)))
