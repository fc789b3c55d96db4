from __future__ import annotations

from django.urls import path

from inbox import views, views_inbox, views_signin, views_ticket, views_webhooks

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
    path("healthz", views.healthz, name="healthz"),
    path("webhooks/zendesk", views_webhooks.zendesk_webhook, name="zendesk_webhook"),
    path("auth/signin", views_signin.signin, name="signin"),
    path("auth/start", views_signin.signin_start, name="auth_start"),
    path("auth/callback", views_signin.signin_callback, name="auth_callback"),
    path("auth/signout", views_signin.signout, name="signout"),
]
