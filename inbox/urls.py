from __future__ import annotations

from django.urls import path

from inbox import (
    views,
    views_activity,
    views_create,
    views_inbox,
    views_signin,
    views_ticket,
    views_webhooks,
)

urlpatterns = [
    path("", views_inbox.home, name="home"),
    path("views/<slug:view_key>", views_inbox.ticket_list, name="inbox_view"),
    path(
        "views/organizations/<int:organization_id>",
        views_inbox.ticket_list,
        name="inbox_organization",
    ),
    path("inbox/poll", views_inbox.poll, name="inbox_poll"),
    path("preferences/theme", views_inbox.theme_set, name="theme_set"),
    # The ticket page (issue G).
    path("tickets/<int:ticket_id>", views_ticket.ticket, name="ticket"),
    path("tickets/<int:ticket_id>/update", views_ticket.ticket_update, name="ticket_update"),
    path("tickets/<int:ticket_id>/draft", views_ticket.ticket_draft, name="ticket_draft"),
    path("tickets/<int:ticket_id>/comments", views_ticket.ticket_comments, name="ticket_comments"),
    path("tickets/<int:ticket_id>/order", views_ticket.ticket_order, name="ticket_order"),
    # -- the activity drawer --
    path("activity/", views_activity.drawer, name="activity_drawer"),
    path("activity/seen", views_activity.mark_seen, name="activity_seen"),
    path("activity/preferences", views_activity.preferences_set, name="activity_preferences"),
    path("activity/<int:activity_id>", views_activity.activity_show, name="activity_show"),
    path("activity/<int:activity_id>/open", views_activity.activity_open, name="activity_open"),
    # Create ticket (views_create).
    path("tickets/new", views_create.ticket_new_page, name="ticket_new"),
    path("tickets/new/draft", views_create.ticket_new_draft, name="ticket_new_draft"),
    path("tickets/new/discard", views_create.ticket_new_discard, name="ticket_new_discard"),
    path(
        "tickets/new/requesters", views_create.ticket_new_requesters, name="ticket_new_requesters"
    ),
    path("tickets/new/assignees", views_create.ticket_new_assignees, name="ticket_new_assignees"),
    path("healthz", views.healthz, name="healthz"),
    path("webhooks/zendesk", views_webhooks.zendesk_webhook, name="zendesk_webhook"),
    path("auth/signin", views_signin.signin, name="signin"),
    path("auth/start", views_signin.signin_start, name="auth_start"),
    path("auth/callback", views_signin.signin_callback, name="auth_callback"),
    path("auth/signout", views_signin.signout, name="signout"),
]
