from __future__ import annotations

from django.urls import include, path

urlpatterns = [path("", include("inbox.urls"))]

# A request Django cannot read (too many fields, a body too large, an unknown host) gets a
# page that says what was wrong instead of Django's bare "Bad Request (400)".
handler400 = "inbox.views.bad_request"
