"""What views may ask for. One module per concern; re-exported here for views."""

from __future__ import annotations

from inbox.services.health import health_report, upstream_status

__all__ = ["health_report", "upstream_status"]
