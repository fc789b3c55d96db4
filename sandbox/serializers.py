"""Sandbox records rendered exactly as Zendesk renders them (responses recorded from real
accounts, and https://developer.zendesk.com/api-reference/ticketing/tickets/tickets/#json-format).

Every field the recordings carry is present, even the ones the sandbox has no model for
(`satisfaction_rating`, `sharing_agreement_ids`, ...): clients written against the real API must
meet the same keys here. `url` fields point at the sandbox's own host, which is why each
function takes `base_url` (see `base_url(request)`).

List views should load tickets with `prefetch_related("email_ccs", "followers", "requester")`
so that `ticket_json` costs no extra query per ticket (email tickets name their requester).
"""

from __future__ import annotations

import datetime as dt
import html
from typing import Any

from django.conf import settings
from django.http import HttpRequest

from sandbox import photos
from sandbox.models import Activity, Audit, Comment, CustomStatus, Group, Organization, Ticket, User
from sandbox.ticket_fields import ticket_field_values
from sandbox.uploads import audit_events_json, comment_attachments_json

# Zendesk accounts have one default ticket form and brand; the sandbox has no models for
# them, but their ids appear on every ticket.
TICKET_FORM_ID = 360000000001
BRAND_ID = 360000000002
# Zendesk's system user (automations, triggers) appears as actor -1 in activities.
SYSTEM_ACTOR_ID = -1
# Zendesk's role_type: 4 admin, 0 custom role (restricted agents here); standard agents null.
ROLE_TYPES = {"admin": 4}


def base_url(request: HttpRequest) -> str:
    """scheme://host:port the caller reached us on, so links lead back to this sandbox."""
    return f"{request.scheme}://{request.get_host()}"


def timestamp(moment: dt.datetime | None) -> str | None:
    """Zendesk writes UTC seconds with a `Z`: 2023-09-09T23:52:05Z."""
    if moment is None:
        return None
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def count_json(value: int, *, refreshed_at: dt.datetime) -> dict[str, Any]:
    """`{count: {value, refreshed_at}}`; recorded counts use `+00:00`, not `Z`."""
    refreshed = refreshed_at.astimezone(dt.UTC).replace(microsecond=0).isoformat()
    return {"count": {"value": value, "refreshed_at": refreshed}}


def _via(channel: str) -> dict[str, Any]:
    return {"channel": channel, "source": {"from": {}, "to": {}, "rel": None}}


def support_address() -> str:
    """The account's default support address, where email tickets arrive."""
    return f"support@{settings.SANDBOX_SUBDOMAIN}.zendesk.com"


def _account_name() -> str:
    return settings.SANDBOX_SUBDOMAIN.replace("-", " ").title()


def _ticket_via(ticket: Ticket) -> dict[str, Any]:
    """Email tickets name who wrote and to which address, as recorded email tickets do:
    https://developer.zendesk.com/documentation/ticketing/reference-guides/via-object-reference/

    Load tickets with `select_related("requester")` (or prefetch it) for lists.
    """
    via = _via(ticket.via_channel)
    if ticket.via_channel == "email":
        requester = ticket.requester
        via["source"]["from"] = {"address": requester.email, "name": requester.name}
        via["source"]["to"] = {"name": _account_name(), "address": support_address()}
    return via


def ticket_json(ticket: Ticket, *, base_url: str) -> dict[str, Any]:
    """One ticket as GET /api/v2/tickets/{id} returns it (no comments)."""
    email_cc_ids = sorted(user.id for user in ticket.email_ccs.all())
    follower_ids = sorted(user.id for user in ticket.followers.all())
    return {
        "url": f"{base_url}/api/v2/tickets/{ticket.id}.json",
        "id": ticket.id,
        "external_id": ticket.external_id,
        "via": _ticket_via(ticket),
        "created_at": timestamp(ticket.created_at),
        "updated_at": timestamp(ticket.updated_at),
        "type": ticket.type,
        "subject": ticket.subject,
        "raw_subject": ticket.subject,
        "description": ticket.description,
        "priority": ticket.priority,
        "status": ticket.status,
        "recipient": support_address() if ticket.via_channel == "email" else None,
        "requester_id": ticket.requester_id,
        "submitter_id": ticket.submitter_id,
        "assignee_id": ticket.assignee_id,
        "organization_id": ticket.organization_id,
        "group_id": ticket.group_id,
        # Zendesk's collaborators are the union of CCs and followers.
        "collaborator_ids": sorted(set(email_cc_ids) | set(follower_ids)),
        "follower_ids": follower_ids,
        "email_cc_ids": email_cc_ids,
        "forum_topic_id": None,
        "problem_id": None,
        "has_incidents": False,
        "is_public": ticket.is_public,
        "due_at": timestamp(ticket.due_at),
        "tags": list(ticket.tags),
        "custom_fields": ticket_field_values(ticket.tags, ticket.custom_values),
        "satisfaction_rating": None,
        "sharing_agreement_ids": [],
        "custom_status_id": ticket.custom_status_id,
        # Left out of cursor-paginated lists by the view (recorded lists have no `fields`).
        "fields": ticket_field_values(ticket.tags, ticket.custom_values),
        "followup_ids": [],
        "ticket_form_id": TICKET_FORM_ID,
        "brand_id": BRAND_ID,
        "allow_channelback": False,
        "allow_attachments": True,
        "from_messaging_channel": False,
    }


def user_json(user: User, *, base_url: str) -> dict[str, Any]:
    """One user as GET /api/v2/users/{id} returns it to an agent."""
    return {
        "id": user.id,
        "url": f"{base_url}/api/v2/users/{user.id}.json",
        "name": user.name,
        "email": user.email,
        "created_at": timestamp(user.created_at),
        "updated_at": timestamp(user.updated_at),
        "time_zone": user.time_zone,
        "iana_time_zone": user.iana_time_zone,
        "phone": None,
        "shared_phone_number": None,
        "photo": photos.photo_json(user.photo_url, base_url=base_url),
        "locale_id": 1,
        "locale": user.locale,
        "organization_id": user.organization_id,
        "role": user.role,
        "verified": True,
        "external_id": user.external_id,
        "tags": [],
        "alias": None,
        "active": user.active,
        "shared": False,
        "shared_agent": False,
        "last_login_at": timestamp(user.last_login_at),
        "two_factor_auth_enabled": None,
        "signature": None,
        "details": None,
        "notes": None,
        "role_type": 0 if user.restricted_agent else ROLE_TYPES.get(user.role),
        "custom_role_id": None,
        "moderator": user.is_agent,
        "ticket_restriction": user.ticket_restriction,
        "only_private_comments": False,
        "restricted_agent": user.restricted_agent,
        "suspended": user.suspended,
        "default_group_id": user.default_group_id,
        "report_csv": user.role == "admin",
        "user_fields": {},
    }


def anonymous_user_json() -> dict[str, Any]:
    """What GET /users/me answers without credentials: 200 with an id-less end user."""
    return {
        "id": None,
        "url": None,
        "name": "Anonymous user",
        "email": "invalid@example.com",
        "created_at": None,
        "updated_at": None,
        "time_zone": "UTC",
        "iana_time_zone": "Etc/UTC",
        "phone": None,
        "shared_phone_number": None,
        "photo": None,
        "locale_id": 1,
        "locale": "en-US",
        "organization_id": None,
        "role": "end-user",
        "verified": False,
        "authenticity_token": "",
        "external_id": None,
        "tags": [],
        "alias": None,
        "active": True,
        "shared": False,
        "shared_agent": False,
        "last_login_at": None,
        "two_factor_auth_enabled": None,
        "signature": None,
        "details": None,
        "notes": None,
        "role_type": None,
        "custom_role_id": None,
        "moderator": False,
        "ticket_restriction": "requested",
        "only_private_comments": False,
        "restricted_agent": True,
        "suspended": False,
        "default_group_id": None,
        "report_csv": False,
        "user_fields": {},
    }


def comment_html(body: str) -> str:
    """Zendesk's html_body: paragraphs from blank lines, <br> for single line breaks."""
    paragraphs = [part for part in body.replace("\r\n", "\n").split("\n\n") if part.strip()]
    rendered = "".join(
        '<p dir="auto">'
        + "<br>".join(html.escape(line) for line in part.strip("\n").split("\n"))
        + "</p>"
        for part in paragraphs
    )
    return f'<div class="zd-comment" dir="auto">{rendered}</div>'


def comment_json(comment: Comment, *, base_url: str) -> dict[str, Any]:
    """One comment as GET /api/v2/tickets/{id}/comments lists it."""
    return {
        "id": comment.id,
        "type": "Comment",
        "author_id": comment.author_id,
        "body": comment.body,
        "html_body": (
            comment.html_body if comment.html_body is not None else comment_html(comment.body)
        ),
        "plain_body": comment.body.strip(),
        "public": comment.public,
        "attachments": comment_attachments_json(comment, base_url=base_url),
        "audit_id": comment.audit_id,
        "via": _via(comment.via_channel),
        "created_at": timestamp(comment.created_at),
        "metadata": {"system": {}, "custom": {}},
    }


def audit_json(audit: Audit, *, base_url: str) -> dict[str, Any]:
    """The audit a ticket create or update returns beside the ticket."""
    return {
        "id": audit.id,
        "ticket_id": audit.ticket_id,
        "created_at": timestamp(audit.created_at),
        "author_id": audit.author_id,
        "metadata": {"system": {}, "custom": {}},
        "events": audit_events_json(audit.events, base_url=base_url),
        "via": _via(audit.via_channel),
    }


def activity_json(activity: Activity, *, base_url: str) -> dict[str, Any]:
    """One activity with its `user` and `actor` embedded, as Zendesk sends them.

    Load with `select_related("user", "actor")`. A system action has no actor: actor_id -1,
    and `actor` is still a user object (see `system_actor_json`).
    """
    actor = activity.actor
    return {
        "url": f"{base_url}/api/v2/activities/{activity.id}.json",
        "id": activity.id,
        "title": activity.title,
        "verb": activity.verb,
        "user_id": activity.user_id,
        "actor_id": actor.id if actor is not None else SYSTEM_ACTOR_ID,
        "updated_at": timestamp(activity.updated_at),
        "created_at": timestamp(activity.created_at),
        "object": activity.object,
        "target": activity.target,
        "user": user_json(activity.user, base_url=base_url),
        "actor": (
            user_json(actor, base_url=base_url) if actor is not None else system_actor_json()
        ),
    }


def system_actor_json() -> dict[str, Any]:
    """The actor of a system activity (actor_id -1: automations, triggers).

    Zendesk's OpenAPI description types `actor` as a full user record and says an `actor_id`
    of -1 is "a Zendesk system user", so `actor` is never null here:
    https://developer.zendesk.com/api-reference/ticketing/tickets/activity_stream/
    The description leaves the record's values open; no recording shows one. The sandbox's
    choice: the anonymous user's keys, with id -1, the name "Zendesk", role "admin" (the
    system acts with an admin's rights) and no email, url or photo.
    """
    actor = {
        **anonymous_user_json(),
        "id": SYSTEM_ACTOR_ID,
        "name": "Zendesk",
        "email": None,
        "role": "admin",
        "verified": True,
        "restricted_agent": False,
        "ticket_restriction": None,
        "moderator": True,
    }
    del actor["authenticity_token"]  # only /users/me carries one
    return actor


def group_json(group: Group, *, base_url: str) -> dict[str, Any]:
    return {
        "url": f"{base_url}/api/v2/groups/{group.id}.json",
        "id": group.id,
        "is_public": True,
        "name": group.name,
        "description": "",
        "default": False,
        "deleted": False,
        "created_at": timestamp(group.created_at),
        "updated_at": timestamp(group.updated_at),
    }


def organization_json(organization: Organization, *, base_url: str) -> dict[str, Any]:
    return {
        "url": f"{base_url}/api/v2/organizations/{organization.id}.json",
        "id": organization.id,
        "name": organization.name,
        "shared_tickets": False,
        "shared_comments": False,
        "external_id": organization.external_id,
        "created_at": timestamp(organization.created_at),
        "updated_at": timestamp(organization.updated_at),
        "domain_names": list(organization.domain_names),
        "details": "",
        "notes": "",
        "group_id": None,
        "tags": [],
        "organization_fields": {},
    }


def custom_status_json(status: CustomStatus, *, base_url: str) -> dict[str, Any]:
    return {
        "url": f"{base_url}/api/v2/custom_statuses/{status.id}.json",
        "id": status.id,
        "status_category": status.status_category,
        "agent_label": status.agent_label,
        "raw_agent_label": status.agent_label,
        "end_user_label": status.end_user_label,
        "raw_end_user_label": status.end_user_label,
        # Unset descriptions are null, not "" (recorded custom statuses).
        "description": status.description or None,
        "raw_description": status.description or None,
        "end_user_description": status.end_user_description or None,
        "raw_end_user_description": status.end_user_description or None,
        "active": status.active,
        "default": status.default,
        "created_at": timestamp(status.created_at),
        "updated_at": timestamp(status.updated_at),
    }
