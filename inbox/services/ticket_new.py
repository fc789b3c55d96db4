"""Creating a ticket for a customer, exactly once: the form's draft and key, the send, the pickers.

Exactly once. Each "new ticket" form an agent is shown is a TicketCreateDraft row; the page
carries a token signed for that agent, form and attempt (django.core.signing, its own salt), so
a forged token or one taken from another agent's form is refused (FormRefused). Zendesk creates
at most one ticket per Idempotency-Key, and the key is the form's id and attempt number:

- Before a send, the exact body and its key are stored on the draft and the draft is marked
  `unconfirmed`. A definite answer clears the mark: the ticket (lands on it), or a refusal
  that created nothing for sure (422, 429, a connection never opened, a 503), after which the
  form takes a new attempt number, so a corrected form is a new key.
- A lost answer (a timeout, an unreadable body: the ticket may exist) keeps the mark: the
  form is locked and the next submit sends the stored body again, unchanged, under the same
  key, before the agent may edit. Zendesk answers the first ticket (`x-idempotency-lookup:
  hit`) if the lost request had made it.
- A double click sends the same body twice under one key: Zendesk makes one ticket and
  answers the second request with it (hit). A form sent again after its ticket was made
  does the same while Zendesk keeps the key (two hours); a different body is refused.
https://developer.zendesk.com/api-reference/ticketing/introduction/#idempotency

Pickers: people found by name (autocomplete) or email (search), and the groups and agents a
ticket can be assigned to, each cached briefly per the usual rules (inbox.zendesk.cache).
"""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass, field
from typing import Any

from django.core import signing
from django.db import transaction
from django.utils import timezone

from inbox.models import AgentAccount, TicketCreateDraft
from inbox.services import ticket_page, tickets
from inbox.services.credentials import with_agent_credentials
from inbox.services.freshness import cached_as_agent, combined
from inbox.zendesk import client
from inbox.zendesk.cache import Fresh
from inbox.zendesk.client import Credentials
from inbox.zendesk.errors import (
    Invalid,
    InvalidResponse,
    UpstreamUnavailable,
    ZendeskError,
)
from inbox.zendesk.records import CreatedTicket, Group, TicketField, User

FORM_SALT = "inbox.ticket_new.form"
# Zendesk keeps a key two hours; a form is sent again under its key only well within them.
KEY_REMEMBERED = dt.timedelta(minutes=110)
# Drafts of forms that made their ticket are kept this long (for repeats), then deleted.
CREATED_DRAFTS_KEPT = dt.timedelta(days=2)
# The typed fields a draft keeps (anything else a request carries is ignored).
DRAFT_FIELDS = (
    "requester_id",
    "requester_name",
    "requester_email",
    "subject",
    "description",
    "priority",
    "type",
    "group_id",
    "assignee_id",
    "tags",
)
# Custom field values are kept on the draft as `cf_<field id>` (a list for a multi-select).
CUSTOM_PREFIX = "cf_"
# The custom field types an agent fills in on Zendesk's own ticket form.
# https://developer.zendesk.com/api-reference/ticketing/tickets/ticket_fields/#json-format
FORM_FIELD_TYPES = frozenset(
    {
        "text",
        "textarea",
        "integer",
        "decimal",
        "checkbox",
        "date",
        "tagger",
        "multiselect",
        "regexp",
    }
)
MIN_SEARCH_LENGTH = 2
PEOPLE_SHOWN = 8


class FormRefused(Exception):
    """A token that is not this agent's (forged, altered, or another agent's form)."""


class FormReplaced(FormRefused):
    """A token of an earlier attempt of the agent's form: the form was shown again since."""


@dataclass(frozen=True)
class TicketForm:
    """A form as the page shows it: its draft and the token the page posts back."""

    draft: TicketCreateDraft
    token: str

    @property
    def locked(self) -> bool:
        """A send's answer was lost: the stored body must go again before any edit."""
        return self.draft.unconfirmed

    @property
    def values(self) -> dict[str, str]:
        """What the form shows: the body last sent while locked, else what was typed."""
        return dict(self.draft.fields or {})


@dataclass(frozen=True)
class CreateOutcome:
    """How a submit ended: the ticket, or why not, and the form to show next."""

    form: TicketForm
    ticket: CreatedTicket | None = None
    error: ZendeskError | None = None
    # The answer was lost: the ticket may exist; the form is locked until a send confirms.
    unconfirmed: bool = False
    # Zendesk refused the key: this form had already been sent with other text.
    key_reused: bool = False
    # The form had made its ticket already (known here, without asking Zendesk again).
    repeat: bool = False
    details: dict[str, list[str]] = field(default_factory=dict)


# -- the form ---------------------------------------------------------------------------------
def _token(draft: TicketCreateDraft) -> str:
    """The form's token: the same every time the same attempt of the form is shown."""
    return signing.Signer(salt=FORM_SALT).sign_object(
        {"agent": draft.agent_id, "form": draft.form_id, "attempt": draft.attempt}
    )


def idempotency_key(draft: TicketCreateDraft) -> str:
    """The Idempotency-Key of the draft's current attempt (unique per form and attempt)."""
    return f"agent-inbox-{draft.form_id}-{draft.attempt}"


def _form(draft: TicketCreateDraft) -> TicketForm:
    return TicketForm(draft=draft, token=_token(draft))


def _forget_old(agent: AgentAccount) -> None:
    cutoff = timezone.now() - CREATED_DRAFTS_KEPT
    TicketCreateDraft.objects.filter(
        agent=agent, ticket_id__isnull=False, updated_at__lt=cutoff
    ).delete()


def ticket_form_open(*, agent: AgentAccount, fresh: bool = False) -> TicketForm:
    """The agent's form: their unfinished draft (nothing typed is lost), or a new one.

    `fresh` starts a new form even when a draft exists (the draft is kept unless locked:
    a locked form's text may already be a ticket, so it is never thrown away unseen).
    """
    _forget_old(agent)
    open_drafts = TicketCreateDraft.objects.filter(agent=agent, ticket_id__isnull=True)
    locked = open_drafts.filter(unconfirmed=True).order_by("-updated_at").first()
    if locked is not None:
        return _form(locked)
    if fresh:
        open_drafts.delete()
    else:
        latest = open_drafts.order_by("-updated_at").first()
        if latest is not None:
            return _form(latest)
    return _new_form(agent)


def _new_form(agent: AgentAccount, fields: dict[str, str] | None = None) -> TicketForm:
    draft = TicketCreateDraft.objects.create(
        agent=agent, form_id=secrets.token_hex(16), fields=fields or {}
    )
    return _form(draft)


def ticket_form_find(*, agent: AgentAccount, token: str) -> TicketCreateDraft:
    """The draft a posted token names, if it is this agent's current attempt of that form.

    Raises FormRefused for a token that is forged, altered or another agent's, or whose form
    is gone; FormReplaced for an earlier attempt of a form that was shown again since.
    """
    try:
        signed = signing.Signer(salt=FORM_SALT).unsign_object(token)
    except (signing.BadSignature, ValueError):
        raise FormRefused("This form was not made by Agent Inbox for you.") from None
    if not isinstance(signed, dict) or signed.get("agent") != agent.pk:
        raise FormRefused("This form belongs to someone else.")
    draft = TicketCreateDraft.objects.filter(agent=agent, form_id=signed.get("form")).first()
    if draft is None:
        raise FormRefused("This form is no longer open.")
    if signed.get("attempt") != draft.attempt:
        raise FormReplaced("This form was shown again since; your text is on it.")
    return draft


def _typed(fields: dict[str, Any]) -> dict[str, Any]:
    kept: dict[str, Any] = {
        name: str(fields.get(name) or "") for name in DRAFT_FIELDS if fields.get(name)
    }
    for name, value in fields.items():
        if name.startswith(CUSTOM_PREFIX) and name[len(CUSTOM_PREFIX) :].isdigit() and value:
            kept[name] = [str(each) for each in value] if isinstance(value, list) else str(value)
    return kept


def ticket_draft_save(*, agent: AgentAccount, token: str, fields: dict[str, Any]) -> TicketForm:
    """Keep what the agent typed so far. A locked or finished form is left as it is."""
    draft = ticket_form_find(agent=agent, token=token)
    with transaction.atomic():
        draft = TicketCreateDraft.objects.select_for_update().get(pk=draft.pk)
        if not draft.unconfirmed and draft.ticket_id is None:
            draft.fields = _typed(fields)
            draft.save(update_fields=["fields", "updated_at"])
    return _form(draft)


# -- the send ---------------------------------------------------------------------------------
def may_have_happened(error: ZendeskError) -> bool:
    """Could Zendesk have created the ticket although the answer was an error? Only when the
    answer was lost (timeout, reset, unreadable body), never for a refusal."""
    if isinstance(error, InvalidResponse):
        return True
    return isinstance(error, UpstreamUnavailable) and error.may_have_arrived


def _is_key_refusal(error: ZendeskError) -> bool:
    return error.status_code == 400 and error.error_code in (None, "IdempotentRequestError")


def _claim(
    agent: AgentAccount, token: str, body: dict[str, Any], typed: dict[str, Any]
) -> tuple[TicketCreateDraft, str, dict[str, Any], bool]:
    """Store the body and key about to be sent (marking the form unconfirmed) before sending.

    A locked form sends its stored body (what was typed now is ignored); a form that made its
    ticket sends what was posted under its old key (Zendesk answers the ticket, or refuses
    other text). Returns the draft, the key, the body and whether the form was locked before.
    """
    draft = ticket_form_find(agent=agent, token=token)
    with transaction.atomic():
        draft = TicketCreateDraft.objects.select_for_update().get(pk=draft.pk)
        if draft.unconfirmed and draft.sent_body is not None:
            return draft, draft.sent_key, dict(draft.sent_body), True
        if draft.ticket_id is not None:
            return draft, draft.sent_key, body, False
        draft.fields = _typed(typed)
        draft.sent_key = idempotency_key(draft)
        draft.sent_body = body
        draft.sent_at = timezone.now()
        draft.unconfirmed = True
        draft.save()
        return draft, draft.sent_key, body, False


def _settle(draft: TicketCreateDraft, **changes: Any) -> TicketCreateDraft:
    with transaction.atomic():
        fresh = TicketCreateDraft.objects.select_for_update().get(pk=draft.pk)
        for name, value in changes.items():
            setattr(fresh, name, value)
        fresh.save()
    return fresh


def ticket_form_submit(
    *, agent: AgentAccount, token: str, body: dict[str, Any], typed: dict[str, Any]
) -> CreateOutcome:
    """Send the form to Zendesk under its key, and say how it ended (see the module docstring).

    `body` are the keyword arguments of inbox.services.tickets.ticket_create (JSON values);
    `typed` the form's fields as typed, kept on the draft. Raises FormRefused for a token that
    is not this agent's current form; SessionExpired when the agent must sign in again.
    """
    draft, key, body, was_locked = _claim(agent, token, body, typed)
    if draft.ticket_id is not None and (
        draft.sent_at is None or timezone.now() - draft.sent_at > KEY_REMEMBERED
    ):
        # Zendesk may have forgotten the key: never send again, land on what it made.
        if body == draft.sent_body:
            return CreateOutcome(form=_form(draft), ticket=_known_ticket(draft), repeat=True)
        return CreateOutcome(form=_new_form(agent, _typed(typed)), key_reused=True)
    try:
        created = tickets.ticket_create(agent=agent, idempotency_key=key, **body)
    except ZendeskError as error:
        return _failed(agent, draft, error, was_locked=was_locked, typed=typed)
    _settle(draft, ticket_id=created.id, fields={}, unconfirmed=False)
    return CreateOutcome(form=_form(draft), ticket=created)


def _known_ticket(draft: TicketCreateDraft) -> CreatedTicket:
    """The ticket a form made, known from the draft alone (only its id is needed to land)."""
    return CreatedTicket(
        id=int(draft.ticket_id or 0), subject="", status="new", priority=None, type=None
    )


def _failed(
    agent: AgentAccount,
    draft: TicketCreateDraft,
    error: ZendeskError,
    *,
    was_locked: bool,
    typed: dict[str, Any],
) -> CreateOutcome:
    current = TicketCreateDraft.objects.get(pk=draft.pk)
    if draft.ticket_id is None and current.ticket_id is not None:
        # A twin of this request (a double click) made the ticket meanwhile: land on it.
        return CreateOutcome(form=_form(current), ticket=_known_ticket(current), repeat=True)
    if draft.ticket_id is not None:
        # The form had made its ticket: other text under its key is refused.
        if _is_key_refusal(error):
            return CreateOutcome(form=_new_form(agent, _typed(typed)), key_reused=True, error=error)
        return CreateOutcome(form=_form(draft), error=error)
    if may_have_happened(error) or (was_locked and not isinstance(error, Invalid)):
        # Still unknown whether a ticket was made: the form stays locked on its body and key.
        return CreateOutcome(form=_form(draft), error=error, unconfirmed=True)
    # Zendesk said for sure that nothing was made: the next send is a new attempt (new key).
    if _is_key_refusal(error):
        draft = _settle(draft, unconfirmed=False, attempt=draft.attempt + 1)
        return CreateOutcome(form=_form(draft), error=error, key_reused=True)
    details = error.details if isinstance(error, Invalid) else {}
    draft = _settle(draft, unconfirmed=False, attempt=draft.attempt + 1)
    return CreateOutcome(form=_form(draft), error=error, details=details)


# -- the account's custom fields -------------------------------------------------------------
def form_custom_fields(*, agent: AgentAccount) -> Fresh[tuple[TicketField, ...]]:
    """The custom fields an agent fills in on a new ticket: active, of a kind a form can show,
    in the account's order. The definitions are shared by the account's agents and cached
    long (inbox.services.ticket_page.ticket_field_list)."""
    found = ticket_page.ticket_field_list(agent=agent)
    return combined(form_fields_of(found.value), [found])


def form_fields_of(fields: dict[int, TicketField]) -> tuple[TicketField, ...]:
    """Of the account's fields (by id), the ones a form shows, in the account's order."""
    return tuple(
        sorted(
            (
                field
                for field in fields.values()
                if field.active and field.removable and field.type in FORM_FIELD_TYPES
            ),
            key=lambda field: (field.position, field.id),
        )
    )


# -- the pickers ------------------------------------------------------------------------------
def requester_search(*, agent: AgentAccount, text: str) -> Fresh[tuple[User, ...]]:
    """People whose name starts with `text` (autocomplete), or whose email or name contains it
    (search) when it looks like an email. Shorter than two characters: nobody, no call."""
    text = " ".join(text.split())
    if len(text) < MIN_SEARCH_LENGTH:
        return Fresh(value=(), fetched_at=timezone.now(), stale=False)
    by_email = "@" in text

    def fetch(credentials: Credentials) -> tuple[User, ...]:
        if by_email:
            return client.users_search(credentials, query=text, per_page=PEOPLE_SHOWN)
        return client.users_autocomplete(credentials, name=text, per_page=PEOPLE_SHOWN)

    return with_agent_credentials(
        agent,
        lambda credentials: cached_as_agent(
            agent=agent,
            credentials=credentials,
            kind="people",
            operation="users_search" if by_email else "users_autocomplete",
            params={"text": text.lower(), "per_page": PEOPLE_SHOWN},
            shareable=True,
            fetch=lambda: fetch(credentials),
        ),
    )


def assignable_groups(*, agent: AgentAccount) -> Fresh[tuple[Group, ...]]:
    """The groups the agent may assign a ticket to, by name."""
    return with_agent_credentials(
        agent,
        lambda credentials: cached_as_agent(
            agent=agent,
            credentials=credentials,
            kind="groups",
            operation="groups_assignable",
            params={},
            shareable=True,
            fetch=lambda: tuple(
                sorted(client.groups_assignable(credentials), key=lambda g: g.name.lower())
            ),
        ),
    )


def assignable_agents(*, agent: AgentAccount, group_id: int) -> Fresh[tuple[User, ...]]:
    """The agents a ticket in the group can be assigned to, by name."""

    def fetch(credentials: Credentials) -> tuple[User, ...]:
        page = client.group_memberships_assignable(credentials, int(group_id))
        people = {m.user_id: page.users.get(m.user_id) for m in page.items}
        found = [person for person in people.values() if person is not None]
        return tuple(sorted(found, key=lambda person: person.name.lower()))

    return with_agent_credentials(
        agent,
        lambda credentials: cached_as_agent(
            agent=agent,
            credentials=credentials,
            kind="groups",
            operation="group_memberships_assignable",
            params={"group_id": int(group_id)},
            shareable=True,
            fetch=lambda: fetch(credentials),
        ),
    )
