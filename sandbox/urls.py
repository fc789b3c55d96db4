"""Each concern owns its module and registers its routes; this file only joins them."""

from __future__ import annotations

from sandbox import photos, routing, update_limit  # noqa: F401  (they register routes)
from sandbox.views import control, oauth, reads, ticket_fields, traffic, writes  # noqa: F401

urlpatterns = routing.urlpatterns()
