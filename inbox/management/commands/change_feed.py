"""`manage.py change_feed`: the deployment's one poll for ticket changes (the Procfile's worker).

Every CHANGE_FEED_SECONDS it asks Zendesk which tickets changed since its last answer and
invalidates what they touch. Any number may run: one holds the lease in the shared cache and
asks; the others wait to take over. `--once` runs one round and says what it found.
"""

from __future__ import annotations

import signal
import threading
import uuid

from django.core.management.base import BaseCommand

from inbox.services import changes


class Command(BaseCommand):
    help = (
        "Poll Zendesk for changed tickets and invalidate what they touch (one process at a time)."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--once", action="store_true", help="one run, then exit")

    def handle(self, *args, once: bool = False, **options) -> None:
        if once:
            self._run_once()
            return
        stop = threading.Event()
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, lambda *_: stop.set())
        self.stdout.write(f"Change feed every {changes.feed_seconds():g} s (Ctrl-C stops it).")
        changes.change_feed_forever(stop=stop)

    def _run_once(self) -> None:
        token = uuid.uuid4().hex
        try:
            run = changes.change_feed_run(token=token)
        finally:
            changes.feed_lease_release(token)
        if run is None:
            self.stdout.write("Not run: another process holds the change feed.")
        elif run.skipped:
            self.stdout.write(f"Not run: {run.skipped}.")
        elif run.baseline:
            self.stdout.write("Started: changes from now on will be picked up.")
        else:
            ids = ", ".join(f"#{ticket_id}" for ticket_id in run.changed) or "none"
            self.stdout.write(
                f"Changed tickets: {ids}; {len(run.invalidated)} families invalidated."
            )
