from __future__ import annotations

from django.urls import path

from inbox import views, views_activity, views_inbox, views_signin

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
    # -- the activity drawer --
    path("activity/", views_activity.drawer, name="activity_drawer"),
    path("activity/seen", views_activity.mark_seen, name="activity_seen"),
    path("activity/preferences", views_activity.preferences_set, name="activity_preferences"),
    path("activity/<int:activity_id>", views_activity.activity_show, name="activity_show"),
    path("activity/<int:activity_id>/open", views_activity.activity_open, name="activity_open"),
    path("healthz", views.healthz, name="healthz"),
    path("auth/signin", views_signin.signin, name="signin"),
    path("auth/start", views_signin.signin_start, name="auth_start"),
    path("auth/callback", views_signin.signin_callback, name="auth_callback"),
    path("auth/signout", views_signin.signout, name="signout"),
]
