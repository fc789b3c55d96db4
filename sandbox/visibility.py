"""Which tickets a user may see: the one rule every read (lists, counts, show) goes through.

Zendesk restricts agents by `ticket_restriction`: "groups" sees the tickets of their groups,
"assigned" those assigned to them; both also see tickets they are CC'd on or follow. End
users see the tickets they requested or are CC'd on. Everyone else sees everything.
"""

from __future__ import annotations

from django.db.models import Q, QuerySet

from sandbox import errors
from sandbox.models import Ticket, User


def _ccd_or_followed(user: User) -> Q:
    ccd = Ticket.email_ccs.through.objects.filter(user_id=user.id).values("ticket_id")
    followed = Ticket.followers.through.objects.filter(user_id=user.id).values("ticket_id")
    return Q(id__in=ccd) | Q(id__in=followed)


def visible_tickets(user: User) -> QuerySet[Ticket]:
    """All tickets `user` may see, archived ones included (lists drop those themselves)."""
    tickets = Ticket.objects.all()
    if not user.is_agent:
        ccd = Ticket.email_ccs.through.objects.filter(user_id=user.id).values("ticket_id")
        return tickets.filter(Q(requester_id=user.id) | Q(id__in=ccd))
    if user.ticket_restriction == "groups" or (
        user.restricted_agent and not user.ticket_restriction
    ):
        group_ids = user.groups.values("id")
        return tickets.filter(Q(group_id__in=group_ids) | _ccd_or_followed(user))
    if user.ticket_restriction == "assigned":
        return tickets.filter(Q(assignee_id=user.id) | _ccd_or_followed(user))
    return tickets


def visible_ticket(user: User, ticket_id: int) -> Ticket:
    """The ticket, or Zendesk's 404 when there is none and 403 when `user` may not see it."""
    ticket = Ticket.objects.filter(id=ticket_id).first()
    if ticket is None:
        raise errors.not_found()
    if not visible_tickets(user).filter(id=ticket_id).exists():
        raise errors.forbidden()
    return ticket
