"""Each concern owns its module and registers its routes; this file only joins them."""

from __future__ import annotations

from sandbox import routing
from sandbox.views import (  # noqa: F401  (they register)
    control,
    groups,
    oauth,
    reads,
    traffic,
    uploads,
    users_search,
    writes,
)

urlpatterns = routing.urlpatterns()
