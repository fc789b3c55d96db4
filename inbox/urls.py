from __future__ import annotations

from django.urls import path

from inbox import views, views_create, views_inbox, views_signin, views_webhooks

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
