"""The "new ticket" page: find the customer, write what they need, set who owns it, create once.

The form is a plain POST (it works without JavaScript); htmx adds the requester search, the
agents of the chosen group and the draft kept as the agent types. Every answer that is not the
new ticket re-renders the form with what the agent typed: 400 for input the app refuses (the
reason next to the field), 422 when Zendesk refused a field, 503 / 429 when nothing was
created, 202 while Zendesk has not confirmed whether the ticket exists (the form is locked on
the text sent until a send confirms it; see inbox.services.ticket_new).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, QueryDict
from django.shortcuts import render
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django.views.decorators.vary import vary_on_headers

from inbox import services
from inbox.auth import agent_required
from inbox.models import AgentAccount
from inbox.services import ticket_new
from inbox.services.ticket_new import CreateOutcome, FormRefused, FormReplaced, TicketForm
from inbox.views_inbox import MAX_ZENDESK_ID, private_no_store, stale_sentence
from inbox.zendesk.errors import (
    Invalid,
    RateBudgetExhausted,
    RateLimited,
    UpstreamUnavailable,
    ZendeskError,
)
from inbox.zendesk.records import TicketField, User

PRIORITIES = [
    ("", "-"),
    ("low", "Low"),
    ("normal", "Normal"),
    ("high", "High"),
    ("urgent", "Urgent"),
]
TYPES = [
    ("", "-"),
    ("question", "Question"),
    ("incident", "Incident"),
    ("problem", "Problem"),
    ("task", "Task"),
]
MAX_SUBJECT = 1000
MAX_DESCRIPTION = 65_535  # Zendesk's limit on a comment's length
MAX_NAME = 255
MAX_EMAIL = 254
MAX_TAGS = 100
MAX_TAG = 80
MAX_SEARCH = 200
MAX_TOKEN = 400
# A custom field's value: a text area as long as a comment, any other as a line.
MAX_CUSTOM_LINE = 1000
CUSTOM = ticket_new.CUSTOM_PREFIX
# Control characters no one types (tab and line breaks are fine in a description).
CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
# Where Zendesk's 422 details go on the form (`description` is the first comment).
DETAIL_FIELDS = {
    "subject": "subject",
    "description": "description",
    "comment": "description",
    "requester": "requester",
    "requester_id": "requester",
    "priority": "priority",
    "type": "type",
    "group": "group_id",
    "group_id": "group_id",
    "assignee": "assignee_id",
    "assignee_id": "assignee_id",
    "tags": "tags",
}
FIELD_LABELS = {
    "requester": "Requester",
    "subject": "Subject",
    "description": "Description",
    "priority": "Priority",
    "type": "Type",
    "group_id": "Group",
    "assignee_id": "Assignee",
    "tags": "Tags",
}


@dataclass(frozen=True)
class CustomFieldView:
    """One custom field as the form shows it: its definition, its value(s) and its problem."""

    field: TicketField
    name: str
    value: str
    chosen: tuple[str, ...]
    error: str | None


@dataclass
class SubmittedForm:
    """What a POST carried, checked: the body to send, the fields as typed, and the problems."""

    typed: dict[str, Any]
    body: dict[str, Any] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)


def _text(post: QueryDict, name: str, limit: int, errors: dict[str, str], label: str) -> str:
    value = post.get(name, "")
    if len(value) > limit:
        errors[name] = f"{label} is too long: at most {limit:,} characters (it has {len(value):,})."
    elif CONTROL.search(value):
        errors[name] = f"{label} contains control characters; remove them and try again."
    return value


def _an_id(value: str) -> int | None:
    value = value.strip()
    if value.isascii() and value.isdigit() and 0 < int(value) <= MAX_ZENDESK_ID:
        return int(value)
    return None


def _custom_values(
    post: QueryDict, fields: tuple[TicketField, ...], typed: dict[str, Any], errors: dict[str, str]
) -> list[dict[str, Any]]:
    """The custom fields' values as typed (kept on the draft) and as Zendesk takes them.

    Only sizes and control characters are checked here (a 400 before Zendesk); whether a value
    suits its field (a number, a date, an option, the field's pattern) is Zendesk's to say (422).
    """
    sent: list[dict[str, Any]] = []
    for each in fields:
        name = f"{CUSTOM}{each.id}"
        if each.type == "multiselect":
            chosen = [value for value in post.getlist(name) if value][: len(each.options) + 1]
            if any(len(value) > MAX_CUSTOM_LINE or CONTROL.search(value) for value in chosen):
                errors[name] = f"{each.title}: choose from the list."
            if chosen:
                typed[name] = chosen
                sent.append({"id": each.id, "value": chosen})
            continue
        if each.type == "checkbox":
            if post.get(name):
                typed[name] = "1"
                sent.append({"id": each.id, "value": True})
            continue
        limit = MAX_DESCRIPTION if each.type == "textarea" else MAX_CUSTOM_LINE
        # Browsers send a text area's line breaks as CRLF; Zendesk's own form keeps LF.
        value = _text(post, name, limit, errors, each.title).replace("\r\n", "\n")
        if each.type != "textarea" and name not in errors and ("\n" in value or "\r" in value):
            errors[name] = f"{each.title} is one line: remove the line breaks."
        if value.strip():
            typed[name] = value
            sent.append(
                {"id": each.id, "value": value if each.type == "textarea" else value.strip()}
            )
    return sent


def with_custom_as_posted(post: QueryDict, typed: dict[str, Any]) -> dict[str, Any]:
    """What was typed, plus custom values as posted (their fields could not be read)."""
    kept = dict(typed)
    for name in post:
        if name.startswith(CUSTOM) and name[len(CUSTOM) :].isdigit():
            values = [value[:MAX_DESCRIPTION] for value in post.getlist(name)[:50]]
            kept[name] = values if len(values) > 1 else (values[0] if values else "")
    return kept


def _parse(
    post: QueryDict, agent: AgentAccount, fields: tuple[TicketField, ...] = ()
) -> SubmittedForm:
    errors: dict[str, str] = {}
    typed: dict[str, Any] = {
        "subject": _text(post, "subject", MAX_SUBJECT, errors, "The subject"),
        "description": _text(post, "description", MAX_DESCRIPTION, errors, "The description"),
        "requester_name": _text(post, "requester_name", MAX_NAME, errors, "The name"),
        "requester_email": _text(post, "requester_email", MAX_EMAIL, errors, "The email"),
        "tags": _text(post, "tags", MAX_TAGS * (MAX_TAG + 1), errors, "Tags"),
        "requester_id": post.get("requester_id", "")[:30],
        "priority": post.get("priority", "")[:20],
        "type": post.get("type", "")[:20],
        "group_id": post.get("group_id", "")[:30],
        "assignee_id": post.get("assignee_id", "")[:30],
    }
    form = SubmittedForm(typed=typed, errors=errors)
    body: dict[str, Any] = {}
    _requester(form, body)
    if not typed["subject"].strip() and "subject" not in errors:
        errors["subject"] = "Enter a subject: a few words that say what the customer needs."
    if not typed["description"].strip() and "description" not in errors:
        errors["description"] = "Enter a description: what the customer told you."
    body["subject"] = typed["subject"].strip()
    body["comment_body"] = typed["description"]
    for name, choices in (("priority", PRIORITIES), ("type", TYPES)):
        if typed[name] not in {value for value, _label in choices}:
            errors[name] = f"Choose a {name} from the list."
    body["priority"] = typed["priority"] or None
    body["ticket_type"] = typed["type"] or None
    body["group_id"] = _optional_id(typed, "group_id", errors, "Choose a group from the list.")
    if typed["assignee_id"] == "me":
        body["assignee_id"] = agent.zendesk_user_id
    else:
        body["assignee_id"] = _optional_id(
            typed, "assignee_id", errors, "Choose an assignee from the list."
        )
    body["tags"] = _tags(typed["tags"], errors)
    custom_fields = _custom_values(post, fields, typed, errors)
    if custom_fields:
        body["custom_fields"] = custom_fields
    form.body = body
    return form


def _optional_id(typed: dict[str, str], name: str, errors: dict[str, str], message: str):
    if not typed[name]:
        return None
    found = _an_id(typed[name])
    if found is None:
        errors[name] = message
    return found


def _requester(form: SubmittedForm, body: dict[str, Any]) -> None:
    typed, errors = form.typed, form.errors
    chosen = typed["requester_id"]
    email = typed["requester_email"].strip()
    if chosen and chosen != "new":
        requester_id = _an_id(chosen)
        if requester_id is None:
            errors["requester"] = "Choose the requester from the people found, or a new person."
        body["requester_id"] = requester_id
        return
    if not email:
        if "requester_email" not in errors:
            errors["requester"] = (
                "Who is this ticket for? Find them by name or email, or enter a new person's email."
            )
        return
    if "requester_email" in errors:  # too long: say that, not that it is malformed
        return
    try:
        validate_email(email)
    except ValidationError:
        errors["requester_email"] = "Enter the new person's email like name@example.com."
        return
    body["requester_email"] = email
    body["requester_name"] = typed["requester_name"].strip() or None


def _tags(text: str, errors: dict[str, str]) -> list[str]:
    tags = list(dict.fromkeys(tag.lower() for tag in re.split(r"[\s,]+", text) if tag))
    if "tags" in errors:
        return []
    if len(tags) > MAX_TAGS:
        errors["tags"] = f"At most {MAX_TAGS} tags (there are {len(tags)})."
    elif any(len(tag) > MAX_TAG for tag in tags):
        errors["tags"] = f"A tag is at most {MAX_TAG} characters long."
    return tags


# -- rendering --------------------------------------------------------------------------------
def _assignee_context(agent: AgentAccount, group_id: int | None) -> dict[str, Any]:
    """The assignee choices: agents of the group, or (no group) unassigned or the agent."""
    if group_id is None:
        return {"assignees": None, "assignees_error": None}
    try:
        found = ticket_new.assignable_agents(agent=agent, group_id=group_id)
    except ZendeskError as error:
        return {"assignees": (), "assignees_error": _unavailable_sentence(error, "agents")}
    return {
        "assignees": found.value,
        "assignees_error": None,
        "assignees_stale": stale_sentence(found, "the group's agents as they were"),
    }


def _unavailable_sentence(error: ZendeskError, what: str) -> str:
    if error.status_code in (403, 404):
        return f"Zendesk would not list the {what} of this group for you."
    return f"Zendesk could not list the {what} just now: {error.user_message}"


def _form_fields(agent: AgentAccount) -> tuple[tuple[TicketField, ...], str | None]:
    """The account's custom fields for the form, or none and why (the form works without)."""
    try:
        return ticket_new.form_custom_fields(agent=agent).value, None
    except ZendeskError as error:
        return (), (
            f"Zendesk could not list this account's custom fields just now: {error.user_message} "
            "You can create the ticket without them and set them in Zendesk later."
        )


def _custom_kept(values: dict[str, Any]) -> list[tuple[str, str]]:
    kept = []
    for name, value in values.items():
        if name.startswith(CUSTOM):
            kept += [(name, each) for each in (value if isinstance(value, list) else [value])]
    return kept


def custom_field_views(
    fields: tuple[TicketField, ...], values: dict[str, Any], errors: dict[str, str]
) -> list[CustomFieldView]:
    shown = []
    for each in fields:
        name = f"{CUSTOM}{each.id}"
        value = values.get(name) or ""
        chosen = tuple(value) if isinstance(value, list) else ((value,) if value else ())
        shown.append(
            CustomFieldView(
                field=each,
                name=name,
                value=value if isinstance(value, str) else "",
                chosen=chosen,
                error=errors.get(name),
            )
        )
    return shown


def _chosen_requester(agent: AgentAccount, values: dict[str, str]) -> User | None:
    requester_id = _an_id(values.get("requester_id", ""))
    if requester_id is None:
        return None
    try:
        people = services.user_lookup(agent=agent, ids=[requester_id]).value
    except ZendeskError:
        people = {}
    return people.get(requester_id) or User(
        id=requester_id, name=f"User {requester_id}", email=None, role="end-user"
    )


def _render(
    request: HttpRequest,
    form: TicketForm,
    *,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    notice: str | None = None,
    status: int = 200,
) -> HttpResponse:
    agent = request.agent
    values = form.values if values is None else values
    errors = errors or {}
    fields, fields_error = _form_fields(agent)
    labels = {**FIELD_LABELS, **{f"{CUSTOM}{each.id}": each.title for each in fields}}
    try:
        found_groups = ticket_new.assignable_groups(agent=agent)
        groups, groups_error = found_groups.value, None
        groups_stale = stale_sentence(found_groups, "the groups as they were")
    except ZendeskError as error:
        groups, groups_error, groups_stale = (
            (),
            f"Zendesk could not list the groups just now: {error.user_message}",
            None,
        )
    context = {
        "form": form,
        "values": values,
        "errors": errors,
        "error_list": [(name, labels.get(name, ""), text) for name, text in errors.items()],
        "custom_fields": custom_field_views(fields, values, errors),
        # Values of fields that cannot be listed now ride along unseen rather than be lost.
        "custom_kept": [] if fields else _custom_kept(values),
        "custom_fields_error": fields_error,
        "notice": notice,
        "priorities": PRIORITIES,
        "types": TYPES,
        "groups": groups,
        "groups_error": groups_error,
        "groups_stale": groups_stale,
        "chosen": _chosen_requester(agent, values),
        "found": (),
        "new_requester": values.get("requester_id") == "new"
        or (not values.get("requester_id") and bool(values.get("requester_email"))),
        "current_view": "new",
        **_assignee_context(agent, _an_id(values.get("group_id", ""))),
    }
    return render(request, "inbox/ticket_new.html", context, status=status)


def _bad_form(request: HttpRequest, reason: str) -> HttpResponse:
    template = "inbox/ticket_new.html#draft-status" if request.htmx else "inbox/bad_request.html"
    return render(request, template, {"reason": reason, "draft_error": reason}, status=400)


def _token(request: HttpRequest) -> str | None:
    token = request.POST.get("form_token", "")
    return token if 0 < len(token) <= MAX_TOKEN else None


# -- the page ---------------------------------------------------------------------------------
@require_http_methods(["GET", "POST"])
@agent_required
@private_no_store
def ticket_new_page(request: HttpRequest) -> HttpResponse:
    """GET: the agent's form (their draft if they have one). POST: create the ticket once."""
    if request.method == "GET":
        return _render(request, ticket_new.ticket_form_open(agent=request.agent))
    token = _token(request)
    if token is None:
        return _bad_form(request, "This form has no key (or a broken one); open New ticket again.")
    fields, fields_error = _form_fields(request.agent)
    submitted = _parse(request.POST, request.agent, fields)
    try:
        if fields_error and any(name.startswith(CUSTOM) for name in request.POST):
            # Values typed into fields that cannot be read now are never dropped silently.
            form = TicketForm(
                draft=ticket_new.ticket_form_find(agent=request.agent, token=token), token=token
            )
            return _render(
                request,
                form,
                values=with_custom_as_posted(request.POST, submitted.typed),
                notice="The ticket was not created: Zendesk could not list the custom fields to "
                "check yours. Your text is kept: press Create ticket again in a moment.",
                status=503,
            )
        if submitted.errors:
            draft = ticket_new.ticket_form_find(agent=request.agent, token=token)
            form = TicketForm(draft=draft, token=token)
            if not form.locked:
                return _render(
                    request, form, values=submitted.typed, errors=submitted.errors, status=400
                )
        outcome = ticket_new.ticket_form_submit(
            agent=request.agent, token=token, body=submitted.body, typed=submitted.typed
        )
    except FormReplaced as replaced:
        current = ticket_new.ticket_form_open(agent=request.agent)
        values = current.values if current.locked else submitted.typed
        return _render(request, current, values=values, notice=str(replaced), status=409)
    except FormRefused as refused:
        return _bad_form(request, f"{refused} Nothing was sent to Zendesk.")
    return _answer(request, outcome, submitted, fields)


def _answer(
    request: HttpRequest,
    outcome: CreateOutcome,
    submitted: SubmittedForm,
    fields: tuple[TicketField, ...] = (),
) -> HttpResponse:
    if outcome.ticket is not None:
        ticket_id = outcome.ticket.id
        if outcome.ticket.created_before or outcome.repeat:
            messages.info(
                request,
                f"This form had already created ticket #{ticket_id} (it was sent more than "
                "once); no second ticket was made. Here it is.",
            )
        else:
            messages.success(request, f"Ticket #{ticket_id} created.")
        return HttpResponseRedirect(f"/tickets/{ticket_id}", status=303)
    if outcome.unconfirmed:
        return _render(
            request,
            outcome.form,
            notice=(
                "Zendesk has not confirmed the ticket: its answer was lost on the way, so the "
                "ticket may already exist. Your text is kept. Press Send again: the same request "
                "goes again and cannot make a second ticket."
            ),
            status=202,
        )
    # What was sent (a locked form posts nothing: its text is the draft's), else what was typed.
    values = outcome.form.values or submitted.typed
    if outcome.key_reused:
        return _render(
            request,
            outcome.form,
            values=values,
            notice=(
                "This form had already been sent with other text, so Zendesk refused this one "
                "and nothing new was created. Your text is kept: press Create ticket to open it "
                "as another ticket."
            ),
            status=409,
        )
    error = outcome.error
    if isinstance(error, Invalid):
        errors = _detail_errors(outcome.details, fields)
        return _render(
            request,
            outcome.form,
            values=values,
            errors=errors,
            notice="Zendesk did not create the ticket: check the fields marked below.",
            status=422,
        )
    return _render(
        request,
        outcome.form,
        values=values,
        notice=f"The ticket was not created. {_why(error)} Your text is kept: press Create "
        "ticket to try again.",
        status=_status_of(error),
    )


def _detail_errors(
    details: dict[str, list[str]], fields: tuple[TicketField, ...] = ()
) -> dict[str, str]:
    """Zendesk's 422 details, each next to its field. A custom field's sentence starts with
    the field's title ("Seats affected: must be a whole number"), whatever detail key it
    comes under, so it is placed by its title."""
    errors: dict[str, str] = {}
    for name, texts in details.items():
        for text in texts:
            target = custom_field_named(text, fields) or DETAIL_FIELDS.get(name, "form")
            errors[target] = f"{errors[target]} {text}" if target in errors else text
    return errors or {"form": "Zendesk refused the ticket without saying why."}


def custom_field_named(sentence: str, fields: tuple[TicketField, ...]) -> str | None:
    """The form name of the custom field a sentence of Zendesk's is about: it starts with the
    field's title and a colon ("Seats affected: must be a whole number")."""
    return next(
        (
            f"{CUSTOM}{each.id}"
            for each in fields
            if each.title and sentence.startswith(f"{each.title}:")
        ),
        None,
    )


def _why(error: ZendeskError | None) -> str:
    if isinstance(error, RateLimited | RateBudgetExhausted):
        return "Zendesk is busy for your team right now; try again in a minute."
    if isinstance(error, UpstreamUnavailable):
        return "Zendesk is not answering right now."
    if error is not None and error.status_code == 403:
        return "Your Zendesk account may not create this ticket."
    return error.user_message if error is not None else ""


def _status_of(error: ZendeskError | None) -> int:
    if isinstance(error, RateLimited | RateBudgetExhausted):
        return 429
    if isinstance(error, UpstreamUnavailable):
        return 503
    status = error.status_code if error is not None else None
    return status if status in (400, 403, 404) else 502


@require_POST
@agent_required
@private_no_store
def ticket_new_discard(request: HttpRequest) -> HttpResponse:
    """Start over: a new, empty form (a locked form is kept: it may already be a ticket)."""
    token = _token(request)
    if token is None:
        return _bad_form(request, "This form has no key; open New ticket again.")
    try:
        ticket_new.ticket_form_find(agent=request.agent, token=token)
    except FormReplaced:
        pass
    except FormRefused as refused:
        return _bad_form(request, f"{refused} Nothing was changed.")
    ticket_new.ticket_form_open(agent=request.agent, fresh=True)
    return HttpResponseRedirect("/tickets/new", status=303)


# -- what htmx asks for as the agent types ----------------------------------------------------
@require_POST
@agent_required
@private_no_store
def ticket_new_draft(request: HttpRequest) -> HttpResponse:
    """Keep the form's text on the server as the agent types (the `draft-status` partial)."""
    token = _token(request)
    if token is None:
        return _bad_form(request, "This form has no key; your text could not be kept.")
    fields, _ = _form_fields(request.agent)
    submitted = _parse(request.POST, request.agent, fields)
    too_long = [text for text in submitted.errors.values() if "too long" in text]
    if too_long:
        return _bad_form(request, f"Draft not saved: {too_long[0]}")
    try:
        form = ticket_new.ticket_draft_save(
            agent=request.agent, token=token, fields=submitted.typed
        )
    except FormRefused as refused:
        return _bad_form(request, f"Draft not saved: {refused}")
    return render(
        request, "inbox/ticket_new.html#draft-status", {"form": form, "draft_saved": True}
    )


@require_GET
@agent_required
@private_no_store
@vary_on_headers("HX-Request")
def ticket_new_requesters(request: HttpRequest) -> HttpResponse:
    """People matching what the agent typed, as choices (the `requester-results` partial)."""
    text = request.GET.get("requester_query", "")
    if len(text) > MAX_SEARCH or CONTROL.search(text) or "\t" in text or "\n" in text:
        return render(
            request,
            "inbox/ticket_new.html#requester-results",
            {"search_error": f"Search for a name or email of at most {MAX_SEARCH} characters."},
            status=400,
        )
    values = {"requester_id": request.GET.get("requester_id", "")[:30]}
    context: dict[str, Any] = {
        "values": values,
        "chosen": _chosen_requester(request.agent, values),
        "searched": len(" ".join(text.split())) >= ticket_new.MIN_SEARCH_LENGTH,
        "new_requester": values["requester_id"] == "new",
    }
    try:
        found = ticket_new.requester_search(agent=request.agent, text=text)
    except ZendeskError as error:
        context.update(
            found=(), search_error=f"Zendesk could not search just now: {error.user_message}"
        )
    else:
        chosen_id = context["chosen"].id if context["chosen"] else None
        context["found"] = [person for person in found.value if person.id != chosen_id]
        context["search_stale"] = stale_sentence(found, "people found")
    return render(request, "inbox/ticket_new.html#requester-results", context)


@require_GET
@agent_required
@private_no_store
@vary_on_headers("HX-Request")
def ticket_new_assignees(request: HttpRequest) -> HttpResponse:
    """The agents of the chosen group (the `assignee-field` partial)."""
    group_text = request.GET.get("group_id", "")[:30]
    group_id = _an_id(group_text)
    if group_text and group_id is None:
        return render(
            request,
            "inbox/ticket_new.html#assignee-field",
            {"values": {}, "errors": {"assignee_id": "Choose a group from the list."}},
            status=400,
        )
    values = {"group_id": group_text, "assignee_id": request.GET.get("assignee_id", "")[:30]}
    context = {"values": values, "errors": {}, **_assignee_context(request.agent, group_id)}
    return render(request, "inbox/ticket_new.html#assignee-field", context)
