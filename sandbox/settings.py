"""Settings of the sandbox project (a Zendesk look-alike), read from SANDBOX_* variables."""

from __future__ import annotations

from pathlib import Path

import environ

BASE_DIR = Path(__file__).resolve().parent.parent
env = environ.Env()

SECRET_KEY = env("SANDBOX_SECRET_KEY", default="sandbox-not-a-secret")
DEBUG = env.bool("SANDBOX_DEBUG", default=False)
# Loopback names only, plus those an operator adds: a DNS-rebinding page (evil.example
# resolving to 127.0.0.1) must not read the control API (sandbox.guard).
ALLOWED_HOSTS = ["127.0.0.1", "localhost", "[::1]", *env.list("SANDBOX_ALLOWED_HOSTS", default=[])]

INSTALLED_APPS = ["sandbox"]

MIDDLEWARE = [
    # Foreign Hosts and cross-site control calls are refused before anything runs.
    "sandbox.guard.SandboxGuardMiddleware",
    # Faults, rate limits and traffic stats wrap every API and OAuth call.
    "sandbox.middleware.SandboxTrafficMiddleware",
    # Inside the rate limit (a 304 counts against it), outside the JSON errors (charset).
    "sandbox.http_caching.JsonCachingMiddleware",
    "sandbox.middleware.JsonErrorsMiddleware",
]

ROOT_URLCONF = "sandbox.urls"
WSGI_APPLICATION = "sandbox.wsgi.application"
APPEND_SLASH = False

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "sandbox" / "templates"],
        "APP_DIRS": False,
        "OPTIONS": {"context_processors": []},
    }
]

DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": env("SANDBOX_DB", default=str(BASE_DIR / "var" / "sandbox.sqlite3")),
        "OPTIONS": {
            "timeout": 20,
            "transaction_mode": "IMMEDIATE",
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        },
    }
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
USE_TZ = True
TIME_ZONE = "UTC"

# The seeded account.
SANDBOX_SUBDOMAIN = env("SANDBOX_SUBDOMAIN", default="acme-sandbox")
SANDBOX_SEED = env.int("SANDBOX_SEED", default=1)
SANDBOX_TICKETS = env.int("SANDBOX_TICKETS", default=600)
SANDBOX_AGENTS = env.int("SANDBOX_AGENTS", default=6)
# What the seeded restricted agent may see: their groups' tickets, or only those assigned to them.
SANDBOX_RESTRICTION = env.str("SANDBOX_RESTRICTION", default="groups")
if SANDBOX_RESTRICTION not in ("groups", "assigned"):
    raise ValueError('SANDBOX_RESTRICTION must be "groups" or "assigned"')
# Ticket fields required to solve a ticket, by id (Zendesk's `required`); `make run` names the
# product area so the demo shows it. POST /_sandbox/ticket_fields/required sets more.
SANDBOX_REQUIRED_TO_SOLVE = [int(i) for i in env.list("SANDBOX_REQUIRED_TO_SOLVE", default=[])]
# The one account-wide API token of Zendesk's legacy basic scheme `{email}/token:{api_token}`.
SANDBOX_API_TOKEN = env("SANDBOX_API_TOKEN", default="sandbox-api-token-0123456789")
# The password every seeded user signs in with on the OAuth page (documented in the README).
SANDBOX_DEMO_PASSWORD = env("SANDBOX_DEMO_PASSWORD", default="demo-password")
# OAuth access token lifetime; short in tests so expiry can be seen.
SANDBOX_OAUTH_EXPIRES_IN = env.int("SANDBOX_OAUTH_EXPIRES_IN", default=7200)
SANDBOX_OAUTH_REFRESH_EXPIRES_IN = env.int("SANDBOX_OAUTH_REFRESH_EXPIRES_IN", default=30 * 86400)
# Uploads: Zendesk's limit is 50 MB a file; its upload tokens live 3 days. Tests set less.
SANDBOX_UPLOAD_MAX_BYTES = env.int("SANDBOX_UPLOAD_MAX_BYTES", default=50 * 1024 * 1024)
SANDBOX_UPLOAD_TOKEN_TTL = env.int("SANDBOX_UPLOAD_TOKEN_TTL", default=3 * 86400)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env("SANDBOX_LOG_LEVEL", default="WARNING")},
}

# The demo OAuth client the seed creates (documented in the README and shown at /_sandbox/).
# Its redirect URIs allow the app's callback on any port of 127.0.0.1 and localhost.
SANDBOX_OAUTH_CLIENT_ID = env("SANDBOX_OAUTH_CLIENT_ID", default="agent-inbox-demo")
SANDBOX_OAUTH_CLIENT_SECRET = env("SANDBOX_OAUTH_CLIENT_SECRET", default="agent-inbox-demo-secret")
SANDBOX_OAUTH_REDIRECT_URIS = env.list(
    "SANDBOX_OAUTH_REDIRECT_URIS",
    default=["http://127.0.0.1:*/auth/callback", "http://localhost:*/auth/callback"],
)
