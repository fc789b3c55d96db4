"""The ticket page: read the conversation, answer or note, change fields, never collide silently.

- GET `ticket`: the ticket, the newest page of its conversation (earlier pages by cursor:
  `ticket_comments`), the one reply form, the agent's draft. A ticket the agent may not see is
  a 404 with nothing of it.
- POST `ticket_update`: one update with safe_update and the `updated_stamp` the agent saw (in
  the form, signed by the server). Everything typed is saved as a draft first, so no failure
  loses it; the page then says what happened in the agent's words.
- POST `ticket_draft` (htmx, as the agent types) and `ticket_order` (oldest/newest first).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from typing import Any

import nh3
from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.safestring import SafeString, mark_safe
from django.views.decorators.http import require_GET, require_POST
from django.views.decorators.vary import vary_on_headers

from inbox import services
from inbox.auth import agent_required
from inbox.models import AgentAccount
from inbox.services import inbox, ticket_new, ticket_page
from inbox.services.ticket_page import Assignables, Draft, SeenInvalid, SeenTicket
from inbox.views_create import (
    CONTROL,
    CUSTOM,
    MAX_CUSTOM_LINE,
    custom_field_named,
    custom_field_views,
    with_custom_as_posted,
)
from inbox.views_inbox import MAX_ZENDESK_ID, STATUS_LABELS, private_no_store, stale_sentence
from inbox.zendesk.errors import (
    Conflict,
    Forbidden,
    Invalid,
    NotFound,
    OutcomeUnknown,
    PayloadTooLarge,
    RateBudgetExhausted,
    RateLimited,
    Unauthorized,
    UpstreamUnavailable,
    ZendeskError,
)
from inbox.zendesk.records import Comment, Ticket, TicketField, User

CURSOR = re.compile(r"[A-Za-z0-9_\-+/=.]{1,1024}")
# What the form may set (closed is Zendesk's own, after solved; new only before any reply).
FORM_STATUSES = ("open", "pending", "hold", "solved")
SUBMIT_AS = (("open", "Open"), ("pending", "Pending"), ("solved", "Solved"))
PRIORITIES = ("low", "normal", "high", "urgent")
TYPES = ("question", "incident", "problem", "task")
MAX_BODY_CHARS = 65_536
# How far past MAX_BODY_CHARS a body is still shown again to be shortened (beyond: a 400 page).
BODY_KEPT_FACTOR = 4
MAX_TAGS = 100
MAX_TAG_CHARS = 80
TAG = re.compile(r"[\w\-:./]+")  # Zendesk turns spaces into separators; no other signs
MAX_CCS = 48  # Zendesk's limit of email CCs on a ticket
MAX_TAGS_TEXT = MAX_TAGS * (MAX_TAG_CHARS + 1)  # every tag at its longest, one space apart
MAX_CC_TEXT = MAX_CCS * 256  # every CC an email address at its longest
ASSIGNEE = re.compile(r"keep|none|group:(\d{1,19})|agent:(\d{1,19}):(\d{1,19})")
SEEN_FIELD_MAX = 8192
# Custom fields the reply form can carry at once (an account has at most a few hundred).
MAX_CUSTOM_SHOWN = 400
# Tags and attributes nh3 keeps in a comment's html_body: text formatting, lists, links,
# tables, quotes and code. No images (they would load from anywhere), no styles, no scripts.
HTML_TAGS = {
    "a", "b", "blockquote", "br", "code", "div", "em", "h1", "h2", "h3", "h4", "hr", "i",
    "li", "ol", "p", "pre", "s", "span", "strong", "sub", "sup", "table", "tbody", "td",
    "th", "thead", "tr", "u", "ul",
}  # fmt: skip
HTML_ATTRIBUTES = {"a": {"href", "title"}, "td": {"colspan", "rowspan"}, "th": {"colspan"}}
URL_SCHEMES = {"http", "https", "mailto"}


class BadForm(Exception):
    """The submitted form cannot be read; the message says what was wrong (a 400)."""


# -- reading the page -----------------------------------------------------------------------
@dataclass(frozen=True)
class AttachmentView:
    name: str
    size: str
    url: str | None


@dataclass(frozen=True)
class CommentView:
    id: int
    author: str
    initials: str
    avatar_url: str | None
    public: bool
    html: SafeString | None
    text: str
    created_iso: str
    created_local: str
    attachments: list[AttachmentView]


def _zone(agent: AgentAccount) -> dt.tzinfo:
    return inbox.agent_zone(agent)


def _local(moment: dt.datetime | None, zone: dt.tzinfo) -> str:
    if moment is None:
        return "-"
    local = moment.astimezone(zone)
    return f"{local:%a %d %b %Y, %H:%M} {getattr(zone, 'key', 'UTC')}"


def human_size(size: int | None) -> str:
    """1.2 MB, 34 KB, 512 bytes."""
    if size is None:
        return "size unknown"
    if size >= 1024 * 1024:
        return f"{size / (1024 * 1024):.1f} MB"
    if size >= 1024:
        return f"{size / 1024:.0f} KB"
    return f"{size} bytes"


def _safe_link(url: str) -> str | None:
    """Only http(s) links are shown (a `javascript:` content_url is no link)."""
    return url if url.lower().startswith(("https://", "http://")) else None


def sanitized_html(html: str) -> SafeString:
    """A comment's html_body through nh3: scripts, event attributes, styles and `javascript:`
    links removed; links open safely elsewhere."""
    cleaned = nh3.clean(
        html,
        tags=HTML_TAGS,
        attributes=HTML_ATTRIBUTES,
        url_schemes=URL_SCHEMES,
        link_rel="noopener noreferrer nofollow",
    )
    return mark_safe(cleaned)  # noqa: S308 (nh3 output: a whitelist of tags and attributes)


def _initials(name: str) -> str:
    parts = [part for part in name.split() if part[:1].isalnum()]
    return "".join(part[0] for part in parts[:2]).upper() or "?"


def _comment_view(comment: Comment, users: dict[int, User], zone: dt.tzinfo) -> CommentView:
    author = users.get(comment.author_id or 0)
    name = author.name if author else ("Zendesk" if comment.author_id == -1 else "Unknown")
    return CommentView(
        id=comment.id,
        author=name,
        initials=_initials(name),
        avatar_url=_safe_link(author.photo_url or "") if author else None,
        public=comment.public,
        html=sanitized_html(comment.html_body) if comment.html_body else None,
        text=comment.plain_body or comment.body,
        created_iso=comment.created_at.isoformat() if comment.created_at else "",
        created_local=_local(comment.created_at, zone),
        attachments=[
            AttachmentView(
                name=attachment.file_name or "file",
                size=human_size(attachment.size),
                url=_safe_link(attachment.content_url),
            )
            for attachment in comment.attachments
        ],
    )


def _name(users: dict[int, User], user_id: int | None, nobody: str = "-") -> str:
    if user_id is None:
        return nobody
    user = users.get(user_id)
    return user.name if user else f"User {user_id}"


@dataclass
class FormState:
    """What the form shows: the draft's values, and errors next to their fields."""

    body: str = ""
    public: bool = True
    status: str = ""
    priority: str = ""
    ticket_type: str = ""
    assignee: str = "keep"
    tags: str = ""
    cc_add: str = ""
    cc_remove: list[int] = field(default_factory=list)
    uploads: list[dict[str, Any]] = field(default_factory=list)
    # The custom fields the agent changed from what they saw, by form name (CUSTOM + id):
    # text, "1" / "" for a checkbox, a list for a multi-select (ticket_page.field_form_value).
    # The form shows the ticket's values with these over them, so neither a draft nor a form
    # shown again after a collision puts back a value someone else has changed since.
    custom: dict[str, Any] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_draft(cls, draft: Draft | None, ticket: Ticket) -> FormState:
        state = cls(
            status=ticket.status, priority=ticket.priority or "", tags=" ".join(ticket.tags)
        )
        state.ticket_type = ticket.type or ""
        if draft is None:
            return state
        changes = draft.changes
        state.body, state.public = draft.body, draft.public
        for name in ("status", "priority", "ticket_type", "assignee", "tags", "cc_add"):
            value = changes.get(name)
            if isinstance(value, str):
                setattr(state, name, value)
        state.cc_remove = [int(i) for i in changes.get("cc_remove") or () if str(i).isdigit()]
        custom = changes.get("custom")
        if isinstance(custom, dict):
            state.custom = {
                name: value
                for name, value in custom.items()
                if name.startswith(CUSTOM) and isinstance(value, str | list)
            }
        state.uploads = [u for u in draft.uploads if isinstance(u, dict)]
        return state


def _assignee_value(ticket: Ticket) -> str:
    if ticket.assignee_id is not None and ticket.group_id is not None:
        return f"agent:{ticket.group_id}:{ticket.assignee_id}"
    if ticket.group_id is not None:
        return f"group:{ticket.group_id}"
    return "none"


def _page_context(
    request: HttpRequest,
    thread: services.TicketThread,
    *,
    form: FormState,
    notice: dict[str, Any] | None = None,
) -> dict[str, Any]:
    agent: AgentAccount = request.agent
    ticket, users, zone = thread.ticket, thread.users, _zone(agent)
    order = ticket_page.conversation_order_get(agent=agent)
    comments = [_comment_view(comment, users, zone) for comment in thread.comments]
    if order == "newest":
        comments.reverse()
    custom = thread.custom_statuses.get(ticket.custom_status_id or 0)
    requester = users.get(ticket.requester_id or 0)
    organization = thread.organizations.get(
        ticket.organization_id or (requester.organization_id if requester else None) or 0
    )
    group = thread.groups.get(ticket.group_id or 0)
    assignables = _assignables(agent)
    account_fields, fields_error = _account_fields(agent)
    editable = ticket_new.form_fields_of(account_fields)
    seen = SeenTicket.of(thread)
    shown = {
        f"{CUSTOM}{field_id}": ticket_page.field_form_value(value)
        for field_id, value in ticket.custom_fields
    }
    field_forms = [
        item
        for item in custom_field_views(editable, {**shown, **form.custom}, form.errors)
        if str(item.field.id) in seen.custom_fields
    ]
    return {
        "ticket": ticket,
        "subject": ticket.subject or "(no subject)",
        "status_category": custom.status_category if custom else ticket.status,
        "status_label": custom.agent_label
        if custom
        else STATUS_LABELS.get(ticket.status, ticket.status),
        "requester": requester,
        "requester_name": _name(users, ticket.requester_id, "Unknown"),
        "organization": organization,
        "assignee_name": _name(users, ticket.assignee_id, "Unassigned"),
        "group_name": group.name if group else ("-" if ticket.group_id is None else "A group"),
        "ccs": [(i, _name(users, i)) for i in ticket.email_cc_ids],
        "followers": [_name(users, i) for i in ticket.follower_ids],
        "custom_fields": ticket_page.custom_field_values(ticket, account_fields),
        "field_forms": field_forms,
        "field_forms_error": fields_error,
        "field_forms_open": any(item.error for item in field_forms),
        "field_forms_required": sum(1 for item in field_forms if item.field.required),
        "created_local": _local(ticket.created_at, zone),
        "updated_local": _local(ticket.updated_at, zone),
        "comments": comments,
        "order": order,
        "earlier_cursor": thread.earlier_cursor,
        "closed": ticket.status == "closed",
        "seen_token": ticket_page.seen_sign(agent=agent, seen=seen),
        "form": form,
        "assignables": assignables,
        "assignee_groups": _assignee_groups(assignables),
        "current_assignee": _assignee_value(ticket),
        "form_statuses": [(s, STATUS_LABELS[s]) for s in FORM_STATUSES],
        "priorities": PRIORITIES,
        "types": TYPES,
        "submit_as": SUBMIT_AS,
        "notice": notice,
        "max_files": settings.TICKET_MAX_FILES,
        "max_file_size": human_size(settings.TICKET_MAX_FILE_BYTES),
        "stale_message": stale_sentence(
            getattr(request, "ticket_fresh", None), "this ticket as it was"
        ),
    }


def _assignee_groups(assignables: Assignables | None) -> list[tuple[str, list[tuple[str, str]]]]:
    """The picker's option groups: each group (any agent in it), then its agents."""
    if assignables is None:
        return []
    return [
        (
            group.name,
            [(f"group:{group.id}", f"{group.name} (any agent)")]
            + [
                (f"agent:{group.id}:{person.id}", person.name)
                for person in assignables.agents.get(group.id, ())
            ],
        )
        for group in assignables.groups
    ]


def _assignables(agent: AgentAccount) -> Assignables | None:
    """The picker's choices, or None when Zendesk cannot give them (the picker then keeps the
    current assignee)."""
    try:
        return ticket_page.assignable_list(agent=agent).value
    except ZendeskError:
        return None


def _account_fields(agent: AgentAccount) -> tuple[dict[int, TicketField], str | None]:
    """The account's ticket fields by id (one cached read: the side panel labels the ticket's
    values with them, the form edits those the new ticket form shows), or none and why: the
    ticket's values then show by field id and stay as they are."""
    try:
        return ticket_page.ticket_field_list(agent=agent).value, None
    except ZendeskError as error:
        return {}, f"Zendesk could not list this account's fields just now ({error.user_message})."


def _missing(request: HttpRequest, ticket_id: int) -> HttpResponse:
    return render(
        request,
        "inbox/ticket_missing.html",
        {"ticket_id": ticket_id if 0 < ticket_id <= MAX_ZENDESK_ID else None},
        status=404,
    )


def _unavailable(request: HttpRequest, ticket_id: int, message: str) -> HttpResponse:
    return render(
        request,
        "inbox/ticket_missing.html",
        {"ticket_id": ticket_id, "unavailable": message},
        status=503,
    )


def _bad(request: HttpRequest, reason: str, status: int = 400) -> HttpResponse:
    return render(request, "inbox/bad_request.html", {"reason": reason}, status=status)


def _earlier_bad(request: HttpRequest, ticket_id: int, reason: str) -> HttpResponse:
    """A 400 that says what was wrong: the whole page for a link, the row for htmx (a page
    swapped into the conversation would nest a second header inside it)."""
    if not request.htmx:
        return _bad(request, reason)
    context = {"ticket": {"id": ticket_id}, "earlier_error": reason}
    return render(request, "inbox/ticket.html#earlier-failed", context, status=400)


def _earlier_failed(request: HttpRequest, ticket_id: int, cursor: str, message: str) -> Any:
    """The "show earlier" row again, saying why and offering the same button (htmx swaps a 200
    in place of the row; a 503 would not be swapped, and the click would seem to do nothing)."""
    context = {"ticket": {"id": ticket_id}, "earlier_cursor": cursor, "earlier_error": message}
    return render(request, "inbox/ticket.html#earlier-failed", context)


def _render_page(
    request: HttpRequest,
    thread: services.TicketThread,
    *,
    form: FormState,
    notice: dict[str, Any] | None = None,
    status: int = 200,
) -> HttpResponse:
    context = _page_context(request, thread, form=form, notice=notice)
    return render(request, "inbox/ticket.html", context, status=status)


@require_GET
@agent_required
@private_no_store
def ticket(request: HttpRequest, ticket_id: int) -> HttpResponse:
    """The ticket page (and the record of the visit in the agent's recently viewed)."""
    if not 0 < ticket_id <= MAX_ZENDESK_ID:
        return _missing(request, ticket_id)
    agent = request.agent
    try:
        fresh = services.ticket_detail(agent=agent, ticket_id=ticket_id)
    except (NotFound, Forbidden):
        return _missing(request, ticket_id)
    except services.ZendeskUnavailable as error:
        return _unavailable(request, ticket_id, str(error))
    inbox.ticket_viewed_record(agent=agent, ticket_id=ticket_id)
    request.ticket_fresh = fresh
    draft = ticket_page.ticket_draft_get(agent=agent, ticket_id=ticket_id)
    return _render_page(request, fresh.value, form=FormState.from_draft(draft, fresh.value.ticket))


@require_GET
@agent_required
@private_no_store
@vary_on_headers("HX-Request")
def ticket_comments(request: HttpRequest, ticket_id: int) -> HttpResponse:
    """The page of comments before `before` (the "Show earlier" button's partial)."""
    cursor = request.GET.get("before", "")
    if not 0 < ticket_id <= MAX_ZENDESK_ID:
        return _missing(request, ticket_id)
    if not CURSOR.fullmatch(cursor):
        return _earlier_bad(
            request,
            ticket_id,
            "This “show earlier” link is not one the page made; reload the ticket.",
        )
    agent = request.agent
    try:
        page = services.ticket_comments_earlier(agent=agent, ticket_id=ticket_id, cursor=cursor)
    except (NotFound, Forbidden):
        return _missing(request, ticket_id)
    except services.ZendeskUnavailable as error:
        if request.htmx:
            return _earlier_failed(request, ticket_id, cursor, str(error))
        return _unavailable(request, ticket_id, str(error))
    except ZendeskError as error:
        if error.status_code == 400:
            return _earlier_bad(
                request, ticket_id, "This “show earlier” link has expired; reload the ticket."
            )
        raise
    zone = _zone(agent)
    order = ticket_page.conversation_order_get(agent=agent)
    comments = [_comment_view(comment, page.value.users, zone) for comment in page.value.items]
    if order == "newest":
        comments.reverse()
    context = {
        "ticket": {"id": ticket_id},
        "comments": comments,
        "earlier_cursor": page.value.after_cursor,
        "order": order,
        "earlier_stale": stale_sentence(page, "these comments as they were"),
    }
    if not request.htmx:
        return HttpResponseRedirect(reverse("ticket", args=[ticket_id]))
    return render(request, "inbox/ticket.html#earlier", context)


@require_POST
@agent_required
@private_no_store
def ticket_order(request: HttpRequest, ticket_id: int) -> HttpResponse:
    """Oldest or newest first, remembered for the agent on the server."""
    order = request.POST.get("order", "")
    try:
        ticket_page.conversation_order_set(agent=request.agent, order=order)
    except ValueError:
        return _bad(request, "A conversation is shown oldest first or newest first.")
    return HttpResponseRedirect(reverse("ticket", args=[ticket_id]) + "#conversation")


# -- the form ---------------------------------------------------------------------------------
@dataclass
class Submitted:
    """The form, read and checked: the draft to keep and the update it asks for."""

    seen: SeenTicket
    form: FormState
    status: str | None = None
    priority: str | None = None
    ticket_type: str | None = None
    assignee_id: int | None = None
    group_id: int | None = None
    unassign: bool = False
    tags: list[str] | None = None
    email_ccs: list[dict[str, Any]] = field(default_factory=list)
    custom_fields: list[dict[str, Any]] = field(default_factory=list)
    # The definitions the custom values were read against (to place Zendesk's 422 sentences).
    fields: tuple[TicketField, ...] = ()

    @property
    def comment(self) -> str | None:
        return self.form.body if self.form.body.strip() else None

    @property
    def changes_anything(self) -> bool:
        return bool(
            self.comment
            or self.status
            or self.priority
            or self.ticket_type
            or self.assignee_id
            or self.group_id
            or self.unassign
            or self.tags is not None
            or self.email_ccs
            or self.custom_fields
            or self.form.uploads
        )


def _one(request: HttpRequest, name: str, *, limit: int = 200) -> str:
    values = request.POST.getlist(name)
    if len(values) > 1:
        raise BadForm(f"The form sent {name!r} more than once.")
    value = values[0] if values else ""
    if len(value) > limit:
        raise BadForm(f"The {name.replace('_', ' ')} is longer than {limit:,} characters.")
    return value


def _choice(value: str, allowed: tuple[str, ...], what: str) -> str:
    if value and value not in allowed:
        raise BadForm(f"{what} is one of {', '.join(allowed)}, not {value[:30]!r}.")
    return value


def _read_form(request: HttpRequest, agent: AgentAccount, ticket_id: int) -> Submitted:
    token = _one(request, "seen", limit=SEEN_FIELD_MAX)
    if not token:
        raise BadForm("The form is missing what you saw of the ticket; reload the page.")
    try:
        seen = ticket_page.seen_load(agent=agent, ticket_id=ticket_id, token=token)
    except SeenInvalid as bad:
        raise BadForm(f"{bad} Reload the ticket and write again.") from None
    kind = _choice(_one(request, "kind"), ("public", "note"), "A comment")
    # Past Zendesk's limit the form comes back with the text kept and the limit next to it;
    # only a body far past it (nobody types that) is refused outright.
    body = _one(request, "body", limit=MAX_BODY_CHARS * BODY_KEPT_FACTOR)
    status = _choice(_one(request, "status"), ("new", *FORM_STATUSES), "A status")
    submit_as = _choice(_one(request, "submit_as"), FORM_STATUSES, "Submit as")
    priority = _choice(_one(request, "priority"), PRIORITIES, "A priority")
    ticket_type = _choice(_one(request, "ticket_type"), TYPES, "A type")
    assignee = _one(request, "assignee") or "keep"
    if not ASSIGNEE.fullmatch(assignee):
        raise BadForm("The assignee is not one the picker offers.")
    tags_text = _one(request, "tags", limit=MAX_TAGS_TEXT * BODY_KEPT_FACTOR)
    cc_add = _one(request, "cc_add", limit=MAX_CC_TEXT * BODY_KEPT_FACTOR)
    cc_remove: list[int] = []
    for value in request.POST.getlist("cc_remove"):
        if not value.isdigit() or int(value) not in seen.email_cc_ids:
            raise BadForm("A CC to remove is not one of the ticket's CCs.")
        cc_remove.append(int(value))
    form = FormState(
        body=body,
        public=kind != "note",
        status=submit_as or status,
        priority=priority,
        ticket_type=ticket_type,
        assignee=assignee,
        tags=tags_text,
        cc_add=cc_add,
        cc_remove=cc_remove,
    )
    submitted = Submitted(seen=seen, form=form)
    wanted_status = submit_as or status
    if wanted_status == "new" and seen.status != "new":
        raise BadForm("A ticket cannot go back to New.")
    if wanted_status and wanted_status != seen.status:
        submitted.status = wanted_status
    if priority and priority != (seen.priority or ""):
        submitted.priority = priority
    if ticket_type and ticket_type != (seen.type or ""):
        submitted.ticket_type = ticket_type
    _read_assignee(submitted, assignee)
    if not _over(form, "tags", tags_text, MAX_TAGS_TEXT, "tags"):
        _read_tags(submitted, tags_text)
    if not _over(form, "cc_add", cc_add, MAX_CC_TEXT, "CCs to add"):
        _read_ccs(submitted, cc_add, cc_remove)
    _read_custom(request, submitted)
    if len(body) > MAX_BODY_CHARS:
        form.errors["body"] = (
            f"Your {'note' if kind == 'note' else 'reply'} is {len(body):,} characters; Zendesk "
            f"takes at most {MAX_BODY_CHARS:,} in one comment. Nothing was sent; your text is "
            "kept. Shorten it, or attach the long part as a file."
        )
    return submitted


def _over(form: FormState, name: str, text: str, limit: int, what: str) -> bool:
    """A field past what a ticket can take comes back beside the field with everything the
    agent wrote kept (only a field far past it, that nobody types, is refused outright)."""
    if len(text) <= limit:
        return False
    form.errors[name] = (
        f"The {what} are {len(text):,} characters; a ticket takes at most {limit:,}. Nothing "
        "was sent; your reply is kept."
    )
    return True


def _read_assignee(submitted: Submitted, assignee: str) -> None:
    seen = submitted.seen
    match = ASSIGNEE.fullmatch(assignee)
    if match is None or assignee == "keep":
        return
    if assignee == "none":
        if seen.assignee_id is not None:
            submitted.unassign = True
        return
    group_id = int(match.group(1) or match.group(2))
    user_id = int(match.group(3)) if match.group(3) else None
    if group_id > MAX_ZENDESK_ID or (user_id or 0) > MAX_ZENDESK_ID:
        raise BadForm("The assignee is not one the picker offers.")
    if group_id != seen.group_id or (user_id is None and seen.assignee_id is not None):
        submitted.group_id = group_id
    if user_id is None and seen.assignee_id is not None:
        submitted.unassign = True
    if user_id is not None and user_id != seen.assignee_id:
        submitted.assignee_id = user_id
        submitted.group_id = group_id


def _read_tags(submitted: Submitted, text: str) -> None:
    tags = [tag.lower() for tag in re.split(r"[\s,]+", text.strip()) if tag]
    if len(tags) > MAX_TAGS:
        submitted.form.errors["tags"] = f"A ticket takes at most {MAX_TAGS} tags."
        return
    for tag in tags:
        if len(tag) > MAX_TAG_CHARS or not TAG.fullmatch(tag):
            submitted.form.errors["tags"] = (
                f"“{tag[:40]}” is not a tag: letters, digits, - _ : . / only, "
                f"at most {MAX_TAG_CHARS} characters."
            )
            return
    unique = list(dict.fromkeys(tags))
    if set(unique) != set(submitted.seen.tags):
        submitted.tags = unique


def _read_ccs(submitted: Submitted, text: str, remove: list[int]) -> None:
    emails = [email for email in re.split(r"[\s,;]+", text.strip()) if email]
    for email in emails:
        try:
            validate_email(email)
        except ValidationError:
            submitted.form.errors["cc_add"] = f"“{email[:60]}” is not an email address."
            return
    if len(set(submitted.seen.email_cc_ids) - set(remove)) + len(emails) > MAX_CCS:
        submitted.form.errors["cc_add"] = f"A ticket takes at most {MAX_CCS} CCs."
        return
    submitted.email_ccs = [{"user_email": email, "action": "put"} for email in emails] + [
        {"user_id": user_id, "action": "delete"} for user_id in remove
    ]


def _shown_field_ids(request: HttpRequest) -> set[int]:
    """The custom fields the form showed (an unchecked box or an empty multi-select sends
    nothing, so only these can be read as cleared)."""
    shown = request.POST.getlist("custom_shown")
    if len(shown) > MAX_CUSTOM_SHOWN or not all(
        value.isascii() and value.isdigit() and 0 < int(value) <= MAX_ZENDESK_ID for value in shown
    ):
        raise BadForm("The form's list of custom fields is not one Agent Inbox made.")
    return {int(value) for value in shown}


def _posted_field(request: HttpRequest, form: FormState, each: TicketField) -> str | list[str]:
    """One custom field as posted, as the form holds it; a problem goes beside the field."""
    name = f"{CUSTOM}{each.id}"
    if each.type == "multiselect":
        allowed = {value for value, _ in each.options}
        chosen = [value for value in request.POST.getlist(name) if value]
        if len(chosen) > len(allowed) or any(value not in allowed for value in chosen):
            raise BadForm(f"{each.title}: choose from the list the form offers.")
        return list(dict.fromkeys(chosen))
    if each.type == "checkbox":
        return "1" if request.POST.get(name) else ""
    limit = MAX_BODY_CHARS if each.type == "textarea" else MAX_CUSTOM_LINE
    # Browsers send a text area's line breaks as CRLF; Zendesk keeps LF.
    value = _one(request, name, limit=limit * BODY_KEPT_FACTOR).replace("\r\n", "\n")
    if each.type == "tagger" and value and value not in {v for v, _ in each.options}:
        raise BadForm(f"{each.title}: choose from the list the form offers.")
    if len(value) > limit:
        form.errors[name] = (
            f"{each.title} is {len(value):,} characters; Zendesk takes at most {limit:,}. "
            "Nothing was sent; your text is kept."
        )
    elif CONTROL.search(value):
        form.errors[name] = f"{each.title} contains control characters; remove them."
    elif each.type != "textarea" and ("\n" in value or "\r" in value):
        form.errors[name] = f"{each.title} is one line: remove the line breaks."
    return value


def _zendesk_value(each: TicketField, value: str | list[str]) -> Any:
    """What Zendesk takes for a field (null clears it)."""
    if each.type == "checkbox":
        return value == "1"
    if isinstance(value, list):
        return value or None
    if each.type != "textarea":
        value = value.strip()
    return value if value.strip() else None


def _read_custom(request: HttpRequest, submitted: Submitted) -> None:
    """The custom fields the agent changed since they saw the ticket, and whether solving it
    leaves a field it needs empty (said beside the field, before asking Zendesk)."""
    shown = _shown_field_ids(request)
    if not shown:
        return
    form, seen = submitted.form, submitted.seen
    account_fields, error = _account_fields(request.agent)
    if error:
        _unreadable_fields(request, form, seen, shown, error)
        return
    fields = submitted.fields = ticket_new.form_fields_of(account_fields)
    solving = submitted.status == "solved"
    for each in fields:
        name, known = f"{CUSTOM}{each.id}", seen.custom_fields.get(str(each.id))
        if known is None or each.id not in shown:
            continue  # a field the agent did not see: it stays as it is
        value = _posted_field(request, form, each)
        digest = ticket_page.field_value_digest(value)
        if digest != known:
            form.custom[name] = value
            submitted.custom_fields.append({"id": each.id, "value": _zendesk_value(each, value)})
        if solving and each.required and digest == ticket_page.EMPTY_FIELD_DIGEST:
            form.errors.setdefault(
                name,
                f"{each.title} is required to solve the ticket: fill it in, or choose "
                "another status. Nothing was sent; your text is kept.",
            )


def _unreadable_fields(
    request: HttpRequest, form: FormState, seen: SeenTicket, shown: set[int], error: str
) -> None:
    """Without the field definitions a change cannot be sent as Zendesk takes it: the fields
    stay as they are, and when the agent changed one, nothing is sent and the text is kept."""
    posted = with_custom_as_posted(request.POST, {})
    for field_id in shown:
        name, known = f"{CUSTOM}{field_id}", seen.custom_fields.get(str(field_id))
        value: str | list[str] = posted.get(name, "")
        if known is not None and ticket_page.field_value_digest(value) != known:
            form.custom[name] = value
            form.errors["custom"] = (
                f"{error} Nothing was sent; your text and the fields you changed are kept."
            )


def _draft_of(form: FormState) -> Draft:
    changes = {
        name: getattr(form, name)
        for name in ("status", "priority", "ticket_type", "assignee", "tags", "cc_add")
    }
    changes["cc_remove"] = list(form.cc_remove)
    changes["custom"] = dict(form.custom)
    return Draft(body=form.body, public=form.public, changes=changes, uploads=tuple(form.uploads))


def _files(request: HttpRequest) -> list[Any]:
    return [upload for upload in request.FILES.getlist("files") if upload.name]


def _check_files(form: FormState, files: list[Any]) -> None:
    if len(files) + len(form.uploads) > settings.TICKET_MAX_FILES:
        form.errors["files"] = f"Attach at most {settings.TICKET_MAX_FILES} files to one reply."
        return
    for upload in files:
        if upload.size > settings.TICKET_MAX_FILE_BYTES:
            form.errors["files"] = (
                f"“{upload.name[:80]}” is {human_size(upload.size)}; files can be at most "
                f"{human_size(settings.TICKET_MAX_FILE_BYTES)}. Nothing was sent."
            )
            return
        if len(upload.name) > 255:
            form.errors["files"] = "A file name is longer than 255 characters; rename it."
            return


def _upload(agent: AgentAccount, form: FormState, files: list[Any]) -> None:
    """Upload the new files; each token joins the draft at once (a later failure keeps them)."""
    for upload in files:
        stored = ticket_page.upload_create(
            agent=agent,
            file_name=upload.name,
            content=upload.read(),
            content_type=upload.content_type or "application/octet-stream",
        )
        form.uploads.append(
            {"token": stored.token, "file_name": upload.name, "size": stored.attachment.size}
        )


def _read_submission(request: HttpRequest, ticket_id: int) -> tuple[Submitted, Any] | HttpResponse:
    """The posted form and the agent's saved draft, or the 404/400 page that says why not
    (what sending and saving a draft both start with)."""
    if not 0 < ticket_id <= MAX_ZENDESK_ID:
        return _missing(request, ticket_id)
    try:
        submitted = _read_form(request, request.agent, ticket_id)
    except BadForm as bad:
        return _bad(request, str(bad))
    return submitted, ticket_page.ticket_draft_get(agent=request.agent, ticket_id=ticket_id)


@require_POST
@agent_required
@private_no_store
def ticket_update(request: HttpRequest, ticket_id: int) -> HttpResponse:
    """Send the agent's reply or note and field changes as one safe update."""
    agent = request.agent
    read = _read_submission(request, ticket_id)
    if isinstance(read, HttpResponse):
        return read
    submitted, previous = read
    form = submitted.form
    form.uploads = list(previous.uploads) if previous else []
    ticket_page.ticket_draft_save(agent=agent, ticket_id=ticket_id, draft=_draft_of(form))
    files = _files(request)
    _check_files(form, files)
    if form.errors:
        return _again(request, ticket_id, form, status=400 if "files" not in form.errors else 413)
    if not submitted.changes_anything and not files:
        form.errors["body"] = "Write a reply or a note, or change a field, before sending."
        return _again(request, ticket_id, form, status=400)
    try:
        _upload(agent, form, files)
    except PayloadTooLarge as error:
        form.errors["files"] = f"{error.user_message} Nothing was sent; your text is kept."
        return _again(request, ticket_id, form, status=413)
    except Invalid as error:
        refused = "; ".join(text for texts in error.details.values() for text in texts)
        form.errors["files"] = (
            f"Zendesk refused a file{': ' + refused if refused else ''}. Nothing was sent; "
            "your text is kept."
        )
        return _again(request, ticket_id, form, status=422)
    except Unauthorized:
        raise
    except ZendeskError as error:
        return _not_sent(request, ticket_id, form, error)
    finally:
        ticket_page.ticket_draft_save(agent=agent, ticket_id=ticket_id, draft=_draft_of(form))
    return _send(request, ticket_id, submitted)


def _send(request: HttpRequest, ticket_id: int, submitted: Submitted) -> HttpResponse:
    agent, form, seen = request.agent, submitted.form, submitted.seen
    try:
        services.ticket_update(
            agent=agent,
            ticket_id=ticket_id,
            comment_body=submitted.comment or _files_sentence(form),
            public=form.public,
            upload_tokens=[upload["token"] for upload in form.uploads],
            status=submitted.status,
            priority=submitted.priority,
            ticket_type=submitted.ticket_type,
            assignee_id=submitted.assignee_id,
            group_id=submitted.group_id,
            unassign=submitted.unassign,
            tags=submitted.tags,
            email_ccs=submitted.email_ccs,
            custom_fields=submitted.custom_fields,
            updated_stamp=seen.updated_stamp,
            previous_assignee_id=seen.assignee_id,
        )
    except Conflict:
        return _collision(request, ticket_id, submitted)
    except Invalid as error:
        _place_details(form, error, submitted.fields)
        return _again(request, ticket_id, form, status=422)
    except (NotFound, Forbidden):
        return _missing(request, ticket_id)
    except OutcomeUnknown:
        return _unconfirmed(request, ticket_id, submitted)
    except Unauthorized:
        raise  # the session ends with its own message (inbox.auth)
    except ZendeskError as error:
        return _not_sent(request, ticket_id, form, error)
    return _sent(request, ticket_id, submitted)


def _files_sentence(form: FormState) -> str | None:
    """A comment that only carries files still needs a body: it names them."""
    if not form.uploads:
        return None
    return "Attached: " + ", ".join(str(upload.get("file_name")) for upload in form.uploads)


def _sent(request: HttpRequest, ticket_id: int, submitted: Submitted, extra: str = "") -> Any:
    ticket_page.ticket_draft_clear(agent=request.agent, ticket_id=ticket_id)
    if submitted.comment or submitted.form.uploads:
        what = "Reply sent." if submitted.form.public else "Internal note added."
    else:
        what = "Ticket updated."
    messages.success(request, f"{extra}{what}")
    return HttpResponseRedirect(reverse("ticket", args=[ticket_id]), status=303)


# Zendesk's field names in a 422's details, and the form field each belongs next to.
DETAIL_FIELDS = {
    "status": "status",
    "priority": "priority",
    "type": "ticket_type",
    "assignee": "assignee",
    "assignee_id": "assignee",
    "group": "assignee",
    "group_id": "assignee",
    "tags": "tags",
    "email_ccs": "cc_add",
    "collaborators": "cc_add",
    "comment": "body",
    "body": "body",
    "uploads": "files",
}


def _place_details(form: FormState, error: Invalid, fields: tuple[TicketField, ...] = ()) -> None:
    """Zendesk's 422 sentences beside their fields. A custom field's sentence starts with the
    field's title ("Product area: is required when solving a ticket"), whatever detail key it
    comes under, so it is placed by its title."""
    for zendesk_field, texts in error.details.items():
        placed = [text for text in texts if _custom_place(form, fields, text)]
        texts = [text for text in texts if text not in placed]
        if not texts:
            continue
        name = DETAIL_FIELDS.get(zendesk_field, "general")
        sentence = "; ".join(texts)
        label = zendesk_field.replace("_", " ").capitalize()
        form.errors[name] = (
            f"Zendesk refused this: {sentence}"
            if name != "general"
            else f"Zendesk refused the update: {label} {sentence}"
        )
    if not error.details:
        form.errors["general"] = "Zendesk refused the update. Nothing was sent; your text is kept."


def _custom_place(form: FormState, fields: tuple[TicketField, ...], text: str) -> bool:
    name = custom_field_named(text, fields)
    if name is None:
        return False
    said = f"Zendesk refused this: {text}"
    form.errors[name] = f"{form.errors[name]} {said}" if name in form.errors else said
    return True


def _current(request: HttpRequest, ticket_id: int, *, reread: bool = False) -> Any:
    agent = request.agent
    read = services.ticket_reread if reread else services.ticket_detail
    fresh = read(agent=agent, ticket_id=ticket_id)
    request.ticket_fresh = fresh
    return fresh.value


def _again(request: HttpRequest, ticket_id: int, form: FormState, *, status: int) -> HttpResponse:
    """The page again, the agent's text in the form, the errors next to their fields."""
    try:
        thread = _current(request, ticket_id)
    except (NotFound, Forbidden):
        return _missing(request, ticket_id)
    except ZendeskError:
        return _kept_only(request, ticket_id, form, status=status)
    return _render_page(request, thread, form=form, status=status)


def _kept_only(request: HttpRequest, ticket_id: int, form: FormState, *, status: int) -> Any:
    message = " ".join(form.errors.values()) or "Zendesk is not answering right now."
    return render(
        request,
        "inbox/ticket_missing.html",
        {"ticket_id": ticket_id, "unavailable": f"{message} Your text is kept as a draft."},
        status=status if status >= 500 else 503,
    )


def _not_sent(
    request: HttpRequest, ticket_id: int, form: FormState, error: ZendeskError
) -> HttpResponse:
    """Zendesk did not take the update (busy, down, or an answer we do not know): say so."""
    if isinstance(error, RateLimited | RateBudgetExhausted):
        reason, status = "Zendesk asked us to slow down.", 429
    elif isinstance(error, UpstreamUnavailable):
        reason, status = "Zendesk is not answering right now.", 503
    else:
        reason, status = f"Zendesk refused the update ({error.status_code or 'no status'}).", 502
    form.errors["general"] = f"Not sent: {reason} Your text is kept; send it again in a minute."
    return _again(request, ticket_id, form, status=status)


def _collision(request: HttpRequest, ticket_id: int, submitted: Submitted) -> HttpResponse:
    """Someone changed the ticket since the agent saw it: show what, keep the draft, and let
    the agent send it again on top of the ticket as it is now."""
    try:
        thread = _current(request, ticket_id, reread=True)
    except (NotFound, Forbidden):
        return _missing(request, ticket_id)
    except ZendeskError:
        submitted.form.errors["general"] = (
            "Someone else changed this ticket meanwhile, and Zendesk is not answering now. "
            "Nothing was sent; your text is kept."
        )
        return _kept_only(request, ticket_id, submitted.form, status=409)

    def name_of(kind: str, record_id: int | None) -> str:
        if record_id is None:
            return "none"
        if kind == "group":
            group = thread.groups.get(record_id)
            return group.name if group else f"Group {record_id}"
        return _name(thread.users, record_id)

    changes = ticket_page.changes_since(submitted.seen, thread, name_of=name_of)
    _keep_only_changes(submitted, thread.ticket)
    zone = _zone(request.agent)
    notice = {
        "kind": "collision",
        "fields": changes.fields,
        "comments": [_comment_view(c, thread.users, zone) for c in changes.comments],
    }
    return _render_page(request, thread, form=submitted.form, notice=notice, status=409)


def _keep_only_changes(submitted: Submitted, ticket: Ticket) -> None:
    """The form shown again after a collision: what the agent changed, over the ticket as it
    is now. A field they left alone shows the colleague's value, so sending again does not
    put back the one they first saw (custom fields keep only changes already)."""
    form = submitted.form
    if submitted.status is None:
        form.status = ticket.status
    if submitted.priority is None:
        form.priority = ticket.priority or ""
    if submitted.ticket_type is None:
        form.ticket_type = ticket.type or ""
    if not (submitted.assignee_id or submitted.group_id or submitted.unassign):
        form.assignee = "keep"
    if submitted.tags is None and "tags" not in form.errors:
        form.tags = " ".join(ticket.tags)


def _unconfirmed(request: HttpRequest, ticket_id: int, submitted: Submitted) -> HttpResponse:
    """A lost answer: read the ticket again and say whether the update is there."""
    form = submitted.form
    try:
        thread = _current(request, ticket_id, reread=True)
    except (NotFound, Forbidden):
        return _missing(request, ticket_id)
    except ZendeskError:
        form.errors["general"] = (
            "Zendesk did not confirm your update and cannot be reached to check it. It may "
            "have been sent: your text is kept. Open the ticket again before sending it again."
        )
        return _kept_only(request, ticket_id, form, status=504)
    if _landed(thread, request.agent, submitted):
        return _sent(request, ticket_id, submitted, extra="Zendesk was slow to confirm, but ")
    notice = {"kind": "unconfirmed"}
    return _render_page(request, thread, form=form, notice=notice, status=504)


def _landed(thread: services.TicketThread, agent: AgentAccount, submitted: Submitted) -> bool:
    if submitted.comment:
        return ticket_page.comment_landed(
            thread,
            author_id=agent.zendesk_user_id,
            body=submitted.comment,
            after_comment_id=submitted.seen.newest_comment_id,
        )
    ticket = thread.ticket
    return ticket.updated_stamp != submitted.seen.updated_stamp and all(
        wanted is None or wanted == actual
        for wanted, actual in (
            (submitted.status, ticket.status),
            (submitted.priority, ticket.priority),
            (submitted.ticket_type, ticket.type),
            (submitted.assignee_id, ticket.assignee_id),
        )
    )


# -- drafts as the agent types -----------------------------------------------------------------
@require_POST
@agent_required
@private_no_store
def ticket_draft(request: HttpRequest, ticket_id: int) -> HttpResponse:
    """Keep the form as a draft on the server (htmx, while typing): 204, or 400 with why."""
    agent = request.agent
    read = _read_submission(request, ticket_id)
    if isinstance(read, HttpResponse):
        return read
    submitted, previous = read
    submitted.form.uploads = list(previous.uploads) if previous else []
    draft = _draft_of(submitted.form)
    if not submitted.form.body.strip() and not submitted.changes_anything:
        draft = Draft(uploads=draft.uploads)
    ticket_page.ticket_draft_save(agent=agent, ticket_id=ticket_id, draft=draft)
    return HttpResponse(status=204)
