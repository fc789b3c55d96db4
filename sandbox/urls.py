"""Each concern owns its module and registers its routes; this file only joins them."""

from __future__ import annotations

from sandbox import photos, routing, update_limit  # noqa: F401  (they register routes)
from sandbox.views import (  # noqa: F401  (they register)
    control,
    control_hostile,
    control_users,
    groups,
    oauth,
    reads,
    ticket_fields,
    traffic,
    uploads,
    users_search,
    writes,
)

urlpatterns = routing.urlpatterns()
