from __future__ import annotations

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
application = get_wsgi_application()


def _change_feed_thread_maybe() -> None:
    """A web process runs the change feed in a thread when asked (single-dyno deployments);
    the lease in the shared cache keeps it to one process even when every worker starts one.
    Started here, not in AppConfig.ready(), so management commands never start it."""
    from django.conf import settings

    if settings.CHANGE_FEED_THREAD:
        from inbox.services.changes import change_feed_thread_start

        change_feed_thread_start()


_change_feed_thread_maybe()
