"""Agent Inbox settings: 12-factor, every value from the environment (see .env.example)."""

from __future__ import annotations

from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured
from django.utils.csp import CSP

BASE_DIR = Path(__file__).resolve().parent.parent
env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

DEBUG = env.bool("DEBUG", default=False)
SECRET_KEY = env("SECRET_KEY", default="")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "SECRET_KEY is not set: set it in the environment (see .env.example)."
        )
    SECRET_KEY = "dev-only-insecure-secret-key"  # noqa: S105
# Django's own rule for a key that resists guessing (check --deploy, security.W009).
MIN_SECRET_KEY_LENGTH = 50
MIN_SECRET_KEY_UNIQUE_CHARACTERS = 5
if not DEBUG and (
    len(SECRET_KEY) < MIN_SECRET_KEY_LENGTH
    or len(set(SECRET_KEY)) < MIN_SECRET_KEY_UNIQUE_CHARACTERS
):
    # Sessions, CSRF tokens and password-reset-like links are signed with it: a short key
    # can be guessed offline from one signed cookie. The message never shows the key.
    raise ImproperlyConfigured(
        f"SECRET_KEY is too weak for production: use at least {MIN_SECRET_KEY_LENGTH} "
        f"characters with at least {MIN_SECRET_KEY_UNIQUE_CHARACTERS} different ones (see "
        ".env.example for how to make one)."
    )
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_htmx",
    "inbox",
]

MIDDLEWARE = [
    # First: its Server-Timing header times everything below and counts the Zendesk calls.
    "inbox.middleware.ServerTimingMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # Before WhiteNoise, so static files (an SVG opened on its own is a document) get the CSP.
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    # Last: its early 400 still passes through every middleware above (headers, CSP, cookies).
    "inbox.middleware.UnreadableQueryStringMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.csp",
                "django.contrib.messages.context_processors.messages",
                "inbox.context_processors.agent",
                "inbox.context_processors.shell",
            ],
        },
    }
]

DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'var' / 'inbox.sqlite3'}")
}
DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("CONN_MAX_AGE", default=60))
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # SQLite (the demo) ignores SELECT ... FOR UPDATE. Taking the write lock when a transaction
    # begins serializes read-then-write transactions (a create form's claim and settle under a
    # double click) as PostgreSQL's row locks do, and a busy database waits instead of failing.
    DATABASES["default"].setdefault("OPTIONS", {}).setdefault("transaction_mode", "IMMEDIATE")
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Cache: REDIS_URL (Heroku's add-on name) wins, then CACHE_URL, then local memory.
_redis_url = env("REDIS_URL", default="")
if _redis_url:
    # Redis down is not the app down: the wrapper answers from each process's memory and
    # shrinks each process's share of the rate budget (inbox/zendesk/sharedcache.py). Short
    # socket timeouts so a Redis that hangs costs a second, not a request.
    CACHES = {
        "default": {
            # Django's RedisCache with one connection pool per process shared by all threads
            # (inbox/zendesk/redis_cache.py), answering from memory while Redis is down.
            "BACKEND": "inbox.zendesk.sharedcache.ResilientRedisCache",
            "LOCATION": _redis_url,
            "OPTIONS": {
                "socket_connect_timeout": env.float("REDIS_CONNECT_TIMEOUT", default=1.0),
                "socket_timeout": env.float("REDIS_TIMEOUT", default=2.0),
            },
        }
    }
else:
    CACHES = {"default": env.cache("CACHE_URL", default="locmemcache://agent-inbox")}
    if CACHES["default"]["BACKEND"].endswith("LocMemCache"):
        # Django's default of 300 entries is a handful of agents' answers: a 50-agent team
        # would keep evicting its cache and spend the whole rate budget (see benchmarks/).
        CACHES["default"].setdefault("OPTIONS", {}).setdefault("MAX_ENTRIES", 100_000)
# With Redis, each process keeps a copy of the cached answers, generations and feed mark it read,
# kept exact by Redis's invalidation messages, so a hit needs no round trip
# (inbox/zendesk/nearcache.py); at most REDIS_NEAR_CACHE_MAX_ENTRIES keys, least recently used
# dropped first. Off: every read asks Redis.
REDIS_NEAR_CACHE = env.bool("REDIS_NEAR_CACHE", default=True)
REDIS_NEAR_CACHE_MAX_ENTRIES = env.int("REDIS_NEAR_CACHE_MAX_ENTRIES", default=10_000)

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if not DEBUG
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}

# Security: secure cookies and HSTS unless developing on plain http.
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=not DEBUG)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=not DEBUG)
SESSION_COOKIE_HTTPONLY = True
# Pages carry the CSRF token in hx-headers on <body>; no script needs to read the cookie.
CSRF_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
# Sessions live in the database and are read through the cache (Redis in production): the
# session every signed-in request reads costs a cache read instead of a query. Writes go to
# both; whether an agent is still signed in is always read from their account row.
SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"
# A signed-in session ends after this long unused, and after this long whatever happens.
SESSION_IDLE_TIMEOUT_SECONDS = env.int("SESSION_IDLE_TIMEOUT_SECONDS", default=8 * 3600)
SESSION_MAX_AGE_SECONDS = env.int("SESSION_MAX_AGE_SECONDS", default=7 * 24 * 3600)
# How often a signed-in agent's role and restricted flag are read again from Zendesk.
AGENT_RECHECK_SECONDS = env.int("AGENT_RECHECK_SECONDS", default=600)
# Production answers on https only; /healthz stays reachable on plain http so a load balancer
# probing the instance directly still gets an answer instead of a redirect.
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=not DEBUG)
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
# Believe X-Forwarded-Proto only when told a proxy in front sets it (and strips what clients
# send): otherwise any client could claim https and defeat the redirect and secure cookies.
if env.bool("TRUST_X_FORWARDED_PROTO", default=False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# HSTS: a year, subdomains included. Preload is a commitment for the whole domain that is slow
# to undo (https://hstspreload.org/#removal), so it stays off unless asked for.
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0 if DEBUG else 365 * 24 * 3600)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=True)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=False)
# check --deploy warns when preload is off; off is this deployment's deliberate choice above.
SILENCED_SYSTEM_CHECKS = [] if SECURE_HSTS_PRELOAD else ["security.W021"]
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"

# --- Zendesk -----------------------------------------------------------------------------
# A real account: ZENDESK_SUBDOMAIN=acme -> https://acme.zendesk.com. Any base URL (the
# sandbox, a proxy): ZENDESK_URL. There is no default: the app never falls back to the
# sandbox on its own; `make run` points it at the sandbox explicitly.
ZENDESK_SUBDOMAIN = env("ZENDESK_SUBDOMAIN", default="")
ZENDESK_URL = env("ZENDESK_URL", default="").rstrip("/")
if not ZENDESK_URL and ZENDESK_SUBDOMAIN:
    ZENDESK_URL = f"https://{ZENDESK_SUBDOMAIN}.zendesk.com"
# The Content Security Policy comes after ZENDESK_URL: it allows that origin for images.
SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF, CSP.NONCE],
    "style-src": [CSP.SELF],
    # Avatars come from the Zendesk account itself (any scheme: the sandbox runs on http).
    "img-src": [CSP.SELF, "data:", "https:", *([ZENDESK_URL] if ZENDESK_URL else [])],
    "connect-src": [CSP.SELF],
    "frame-ancestors": [CSP.NONE],
    "base-uri": [CSP.NONE],
    "object-src": [CSP.NONE],
    "form-action": [CSP.SELF, *env.list("CSP_FORM_ACTION_EXTRA", default=[])],
}
ZENDESK_OAUTH_CLIENT_ID = env("ZENDESK_OAUTH_CLIENT_ID", default="")
ZENDESK_OAUTH_CLIENT_SECRET = env("ZENDESK_OAUTH_CLIENT_SECRET", default="")
# The public callback URL when the app runs behind a proxy; default: built from the request.
ZENDESK_OAUTH_REDIRECT_URL = env("ZENDESK_OAUTH_REDIRECT_URL", default="")
ZENDESK_OAUTH_SCOPE = env("ZENDESK_OAUTH_SCOPE", default="read write")
ZENDESK_CONNECT_TIMEOUT = env.float("ZENDESK_CONNECT_TIMEOUT", default=3.05)
ZENDESK_READ_TIMEOUT = env.float("ZENDESK_READ_TIMEOUT", default=10.0)
ZENDESK_MAX_RETRIES = env.int("ZENDESK_MAX_RETRIES", default=2)
# The most one call to Zendesk may take, retries and the pauses between them included: an agent
# waiting on a page (interactive), and background work (warming, polling). Each attempt's
# timeouts are clipped to what is left; no retry starts that could not finish in time.
ZENDESK_DEADLINE_SECONDS = env.float("ZENDESK_DEADLINE_SECONDS", default=5.0)
ZENDESK_BACKGROUND_DEADLINE_SECONDS = env.float("ZENDESK_BACKGROUND_DEADLINE_SECONDS", default=20.0)
# After a read gets no answer (down, refused, 5xx, hang), reads wait this long before asking
# Zendesk again, in every process: agents get saved answers or the outage message at once
# instead of each poll spending its retries and deadline. Writes still go. 0 turns it off.
ZENDESK_OUTAGE_PAUSE_SECONDS = env.float("ZENDESK_OUTAGE_PAUSE_SECONDS", default=5.0)
ZENDESK_RATE_LIMIT_PER_MINUTE = env.int("ZENDESK_RATE_LIMIT_PER_MINUTE", default=200)
ZENDESK_RATE_BUDGET_SHARE = env.float("ZENDESK_RATE_BUDGET_SHARE", default=0.8)
# How many processes share that budget: web workers per instance (the Procfile's gunicorn
# --workers) times instances. Only used while Redis is unreachable: each process may then
# spend its part of the budget alone.
WEB_CONCURRENCY = env.int("WEB_CONCURRENCY", default=3)
APP_INSTANCES = env.int("APP_INSTANCES", default=1)
# The response cache: seconds each kind of answer is served without asking Zendesk again
# (ZENDESK_CACHE_TTL_SECONDS="count=30,list=30,ticket=15,comments=15,users=600,activities=20"),
# how long a last good answer is kept to serve (marked stale) when Zendesk fails, and how long
# a request waits for an identical one already under way (with nothing saved / with a copy).
ZENDESK_CACHE_TTL_SECONDS = {
    kind: float(seconds)
    for kind, seconds in env.dict("ZENDESK_CACHE_TTL_SECONDS", default={}).items()
}
ZENDESK_CACHE_KEEP_STALE_SECONDS = env.int("ZENDESK_CACHE_KEEP_STALE_SECONDS", default=24 * 3600)
ZENDESK_CACHE_WAIT_SECONDS = env.float("ZENDESK_CACHE_WAIT_SECONDS", default=20.0)
ZENDESK_CACHE_STALE_WAIT_SECONDS = env.float("ZENDESK_CACHE_STALE_WAIT_SECONDS", default=2.0)
# An answer past its lifetime by less than this (and less than the lifetime itself) is shown at
# once while one refresh runs in the background; one a change invalidated never is. 0: off.
ZENDESK_CACHE_REVALIDATE_SECONDS = env.float("ZENDESK_CACHE_REVALIDATE_SECONDS", default=30.0)
# For benchmarks/team_pages.py only, never in production: the naive proxy it compares the
# product with (every read goes to Zendesk: no cache, no single flight, no shared budget), and
# counters of cache hits and misses in the shared cache (three cache round trips per read).
ZENDESK_NAIVE_PROXY = env.bool("ZENDESK_NAIVE_PROXY", default=False)
ZENDESK_CACHE_STATS = env.bool("ZENDESK_CACHE_STATS", default=False)
# Fernet keys (comma-separated, newest first) encrypting agents' tokens at rest. Rotation:
# put a new key first and keep the old ones; `manage.py rotate_token_keys` re-encrypts.
TOKEN_ENCRYPTION_KEYS = env.list("TOKEN_ENCRYPTION_KEYS", default=[])


def _check_token_encryption_keys(keys: list[str]) -> None:
    """Stop the start on a key Fernet cannot use, instead of failing the first sign-in.

    The message says which key (by position), never the key itself.
    """
    from cryptography.fernet import Fernet

    for position, key in enumerate(keys, start=1):
        try:
            Fernet(key.strip())
        except ValueError:
            raise ImproperlyConfigured(
                f"Agent Inbox cannot start: TOKEN_ENCRYPTION_KEYS key {position} of {len(keys)} "
                "is not a Fernet key (32 url-safe base64 bytes). See .env.example for how to "
                "make one."
            ) from None


_check_token_encryption_keys(TOKEN_ENCRYPTION_KEYS)
# --- The inbox -------------------------------------------------------------------------------
# Seconds between two polls of the sidebar counts (and the bell) while the tab is visible.
INBOX_POLL_SECONDS = env.float("INBOX_POLL_SECONDS", default=10.0)
# At most this many organizations get their own view in the sidebar (most active first).
INBOX_MAX_ORGANIZATIONS = env.int("INBOX_MAX_ORGANIZATIONS", default=8)
# /healthz tells anyone whether Zendesk answers; which Zendesk and its error text only to a
# signed-in agent, or to every caller when this is true (a private network's monitor).
HEALTHZ_DETAIL = env.bool("HEALTHZ_DETAIL", default=False)
# --- The ticket page --------------------------------------------------------------------------
# Unsent drafts (per agent and ticket) are removed after this many days untouched.
DRAFT_MAX_AGE_DAYS = env.int("DRAFT_MAX_AGE_DAYS", default=14)
# Files attached to one reply: how many, and how large each (Zendesk's own limit is 50 MB;
# https://support.zendesk.com/hc/en-us/articles/4408832757146).
TICKET_MAX_FILES = env.int("TICKET_MAX_FILES", default=10)
TICKET_MAX_FILE_BYTES = env.int("TICKET_MAX_FILE_BYTES", default=50 * 1024 * 1024)
# --- Knowing what changed in Zendesk ---------------------------------------------------------
# The secret Zendesk signs webhooks with (empty: webhooks are refused), the one before it while
# a rotation is under way, and the largest body accepted.
ZENDESK_WEBHOOK_SECRET = env("ZENDESK_WEBHOOK_SECRET", default="")
ZENDESK_WEBHOOK_SECRET_PREVIOUS = env("ZENDESK_WEBHOOK_SECRET_PREVIOUS", default="")
ZENDESK_WEBHOOK_MAX_BYTES = env.int("ZENDESK_WEBHOOK_MAX_BYTES", default=256 * 1024)
# The change feed: seconds between two asks for the tickets updated since (one process of the
# deployment asks at a time), and whether a web process runs it in a thread of its own.
CHANGE_FEED_SECONDS = env.float("CHANGE_FEED_SECONDS", default=10.0)
CHANGE_FEED_THREAD = env.bool("CHANGE_FEED_THREAD", default=False)
# While the feed runs, the kinds it keeps fresh live this long (it invalidates what changes).
ZENDESK_CACHE_TTL_WITH_FEED_SECONDS = {
    kind: float(seconds)
    for kind, seconds in env.dict("ZENDESK_CACHE_TTL_WITH_FEED_SECONDS", default={}).items()
}

_missing = [
    name
    for name, value in [
        ("ZENDESK_URL or ZENDESK_SUBDOMAIN", ZENDESK_URL),
        ("ZENDESK_OAUTH_CLIENT_ID", ZENDESK_OAUTH_CLIENT_ID),
        ("ZENDESK_OAUTH_CLIENT_SECRET", ZENDESK_OAUTH_CLIENT_SECRET),
        ("TOKEN_ENCRYPTION_KEYS", TOKEN_ENCRYPTION_KEYS),
    ]
    if not value
]
if _missing and not env.bool("ALLOW_INCOMPLETE_ZENDESK_CONFIG", default=False):
    raise ImproperlyConfigured(
        "Agent Inbox cannot start: missing " + ", ".join(_missing) + ". Set them in the "
        "environment (see .env.example and the README's 'Configuration for a real Zendesk')."
    )

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", default="INFO")},
    "loggers": {"urllib3": {"level": "WARNING"}},
}
