"""Gunicorn settings for the web process, read from the environment (`Procfile`: web).

    gunicorn config.wsgi --config python:config.gunicorn

Sized for a Heroku-style dyno: the router gives a request 30 s and then answers 503 itself,
so a worker stuck longer than that serves nobody
(https://devcenter.heroku.com/articles/request-timeout). Zendesk calls have their own total
deadline (ZENDESK_DEADLINE_SECONDS, 5 s by default), well inside it.
"""

from __future__ import annotations

import os


def _int(name: str, default: int) -> int:
    """An integer from the environment; a bad value stops the start with its name."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        return int(raw)
    except ValueError:
        raise SystemExit(f"{name}={raw!r} is not a whole number.") from None


# Where to listen: the platform gives PORT; locally 8000.
bind = os.environ.get("GUNICORN_BIND") or f"0.0.0.0:{os.environ.get('PORT', '8000')}"
# Processes x threads. Pages mostly wait on Redis, PostgreSQL or Zendesk, so threads carry
# the load; Heroku sets WEB_CONCURRENCY from the dyno's memory.
workers = _int("WEB_CONCURRENCY", 2)
threads = _int("GUNICORN_THREADS", 4)
worker_class = "gthread"
# Under the router's 30 s: a request the router has given up on is not worth finishing.
timeout = _int("GUNICORN_TIMEOUT", 25)
# On SIGTERM (a deploy, a restart) requests in flight get this long; Heroku kills at 30 s.
graceful_timeout = _int("GUNICORN_GRACEFUL_TIMEOUT", 20)
# The router keeps connections to the dyno open between requests; polls reuse them.
keepalive = _int("GUNICORN_KEEPALIVE", 5)
# Recycle a worker now and then (jittered, so they do not all restart at once): bounds any
# slow leak without a visible pause.
max_requests = _int("GUNICORN_MAX_REQUESTS", 2000)
max_requests_jitter = _int("GUNICORN_MAX_REQUESTS_JITTER", 200)
# Which peers may set X-Forwarded-Proto/For: the platform's router. Heroku's router is not at
# a fixed address, so "*" there; behind your own proxy, its address.
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")
# Logs to stdout/stderr, where the platform collects them.
accesslog = "-" if os.environ.get("GUNICORN_ACCESS_LOG", "true").lower() == "true" else None
errorlog = "-"
loglevel = os.environ.get("GUNICORN_LOG_LEVEL", "info")
