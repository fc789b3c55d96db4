from __future__ import annotations

from django.apps import AppConfig


class InboxConfig(AppConfig):
    name = "inbox"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        _change_feed_thread_maybe()


def _change_feed_thread_maybe() -> None:
    """Start the in-process change feed when asked (single-dyno deployments); the lease in the
    shared cache keeps it to one process even when every web worker starts one."""
    from django.conf import settings

    if settings.CHANGE_FEED_THREAD:
        from inbox.services.changes import change_feed_thread_start

        change_feed_thread_start()
