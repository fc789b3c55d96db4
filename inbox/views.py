"""Views: thin. Check input and permission, call a service, render a page or a partial."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from inbox import services


@require_GET
def home(request: HttpRequest) -> HttpResponse:
    return render(request, "inbox/home.html", {"upstream": services.upstream_status()})


@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    report = services.health_report()
    return JsonResponse(report, status=200 if report["ok"] else 503)
