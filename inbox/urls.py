from __future__ import annotations

from django.urls import path

from inbox import views, views_signin

urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", views.healthz, name="healthz"),
    path("auth/signin", views_signin.signin, name="signin"),
    path("auth/start", views_signin.signin_start, name="auth_start"),
    path("auth/callback", views_signin.signin_callback, name="auth_callback"),
    path("auth/signout", views_signin.signout, name="signout"),
]
