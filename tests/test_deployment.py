"""The deployment manifest (app.json), the Procfile and the gunicorn settings, as a platform
reads them: a new team deploying from the README must be asked for every setting the app
refuses to start without."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import jsonschema
from cryptography.fernet import Fernet

ROOT = Path(__file__).resolve().parent.parent
APP_JSON = ROOT / "app.json"
# What the add-ons set when they are attached (Heroku Postgres, Heroku Key-Value Store).
ADDON_VARIABLES = {
    "heroku-postgresql": ("DATABASE_URL", "postgres://inbox:secret@db.invalid:5432/inbox"),
    "heroku-redis": ("REDIS_URL", "redis://cache.invalid:6379/0"),
}
# The parts of the app.json schema this manifest uses, with the types the platform expects
# (https://devcenter.heroku.com/articles/app-json-schema). Unknown keys are refused, so a typo
# ("enviroment") fails here instead of being ignored by the platform.
ENV_ENTRY = {
    "type": "object",
    "properties": {
        "description": {"type": "string", "minLength": 1},
        "value": {"type": "string"},
        "required": {"type": "boolean"},
        "generator": {"enum": ["secret"]},
    },
    "required": ["description"],
    "additionalProperties": False,
}
APP_JSON_SCHEMA = {
    "type": "object",
    "properties": {
        "name": {"type": "string", "minLength": 3, "maxLength": 30},
        "description": {"type": "string", "maxLength": 140},
        "keywords": {"type": "array", "items": {"type": "string"}},
        "website": {"type": "string"},
        "repository": {"type": "string"},
        "logo": {"type": "string"},
        "success_url": {"type": "string"},
        "scripts": {"type": "object", "additionalProperties": {"type": "string"}},
        "env": {"type": "object", "additionalProperties": ENV_ENTRY},
        "formation": {
            "type": "object",
            "additionalProperties": {
                "type": "object",
                "properties": {
                    "quantity": {"type": "integer", "minimum": 0},
                    "size": {"type": "string"},
                },
                "additionalProperties": False,
            },
        },
        "addons": {
            "type": "array",
            "items": {
                "anyOf": [
                    {"type": "string"},
                    {
                        "type": "object",
                        "properties": {
                            "plan": {"type": "string"},
                            "as": {"type": "string"},
                            "options": {"type": "object"},
                        },
                        "required": ["plan"],
                        "additionalProperties": False,
                    },
                ]
            },
        },
        "buildpacks": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {"url": {"type": "string"}},
                "required": ["url"],
                "additionalProperties": False,
            },
        },
        "stack": {"type": "string"},
        "image": {"type": "string"},
        "environments": {"type": "object"},
    },
    "additionalProperties": False,
}


def manifest() -> dict:
    return json.loads(APP_JSON.read_text())


def addon_plans(app: dict) -> set[str]:
    plans = (addon if isinstance(addon, str) else addon["plan"] for addon in app["addons"])
    return {plan.split(":")[0] for plan in plans}


def deployed_environment(app: dict, *, without: str | None = None) -> dict[str, str]:
    """The environment a fresh deployment from app.json has: what its form asks for (filled
    in as a team would), what generators make, and what the add-ons attach."""
    env = {"PATH": os.environ.get("PATH", ""), "HOME": os.environ.get("HOME", "/tmp")}
    filled = {
        "ALLOWED_HOSTS": "my-inbox.herokuapp.com",
        "ZENDESK_SUBDOMAIN": "acme",
        "ZENDESK_URL": "https://acme.zendesk.com",
        "ZENDESK_OAUTH_CLIENT_ID": "agent-inbox",
        "ZENDESK_OAUTH_CLIENT_SECRET": "client-secret",
        "TOKEN_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
    }
    for name, entry in app["env"].items():
        if "value" in entry:
            env[name] = entry["value"]
        elif entry.get("generator") == "secret":
            env[name] = "generated-" + "x" * 60
        elif entry.get("required", True):
            assert name in filled, f"the test does not know what a team would enter for {name}"
            env[name] = filled[name]
    for plan in addon_plans(app):
        name, value = ADDON_VARIABLES[plan]
        env[name] = value
    env.pop(without or "", None)
    return env


def settings_start(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """Import the app's settings in a fresh process, as a dyno starting does."""
    return subprocess.run(
        [sys.executable, "-c", "import config.settings"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_app_json_has_the_structure_the_platform_reads():
    app = manifest()
    jsonschema.validate(app, APP_JSON_SCHEMA)
    assert {"heroku-postgresql", "heroku-redis"} <= addon_plans(app)
    assert app["formation"]["web"]["quantity"] >= 1


def test_a_deployment_from_app_json_starts():
    """Every setting the app refuses to start without is in app.json (or set by an add-on):
    otherwise the settings below stop with "missing ..." and this test names it."""
    started = settings_start(deployed_environment(manifest()))
    assert started.returncode == 0, started.stderr[-2000:]


def test_every_setting_it_requires_is_marked_required():
    """Take each variable away in turn: each one whose absence stops the app must be one the
    manifest marks required (the platform's form then insists on it), never an optional one."""
    app = manifest()
    stopped_without = []
    for name in app["env"]:
        started = settings_start(deployed_environment(app, without=name))
        if started.returncode != 0:
            assert "ImproperlyConfigured" in started.stderr, started.stderr[-2000:]
            stopped_without.append(name)
    optional = [name for name in stopped_without if not app["env"][name].get("required", True)]
    assert not optional, f"the app cannot start without {optional}, but app.json says optional"
    assert {"SECRET_KEY", "TOKEN_ENCRYPTION_KEYS", "ZENDESK_OAUTH_CLIENT_ID"} <= set(
        stopped_without
    )


def test_the_fernet_key_description_says_how_to_make_one():
    """A generated secret is not a Fernet key, so the form must tell a team how to make one."""
    entry = manifest()["env"]["TOKEN_ENCRYPTION_KEYS"]
    assert "generator" not in entry
    assert "Fernet.generate_key()" in entry["description"]


def test_procfile_serves_with_the_gunicorn_config_and_migrates_on_release():
    processes = dict(
        line.split(":", 1) for line in (ROOT / "Procfile").read_text().splitlines() if line
    )
    assert "--config python:config.gunicorn" in processes["web"]
    assert processes["release"].strip() == "python manage.py migrate --no-input"


def gunicorn_settings(env: dict[str, str]) -> dict[str, object]:
    code = (
        "import json, config.gunicorn as g; "
        "print(json.dumps({k: getattr(g, k) for k in dir(g) if not k.startswith('_') "
        "and isinstance(getattr(g, k), (int, str, type(None)))}))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={"PATH": os.environ.get("PATH", ""), **env},
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_gunicorn_reads_its_size_from_the_environment_and_fits_the_router():
    values = gunicorn_settings({"WEB_CONCURRENCY": "3", "GUNICORN_THREADS": "8", "PORT": "5123"})
    assert (values["workers"], values["threads"]) == (3, 8)
    assert values["bind"] == "0.0.0.0:5123"
    assert values["worker_class"] == "gthread"
    # The router answers 503 after 30 s: a worker must be recycled before that, and a deploy's
    # SIGTERM must leave requests in flight time to finish within the platform's 30 s.
    assert values["timeout"] < 30
    assert values["graceful_timeout"] < 30
    assert values["max_requests"] > 0
    assert values["max_requests_jitter"] > 0
    assert values["accesslog"] == "-"
    assert values["errorlog"] == "-"


def test_a_bad_number_stops_gunicorn_with_its_name():
    result = subprocess.run(
        [sys.executable, "-c", "import config.gunicorn"],
        cwd=ROOT,
        env={"PATH": os.environ.get("PATH", ""), "WEB_CONCURRENCY": "two"},
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode != 0
    assert "WEB_CONCURRENCY='two' is not a whole number." in result.stderr


def test_every_variable_app_json_asks_for_is_one_the_app_reads():
    """A variable nobody reads would make a team fill in a form field for nothing."""
    sources = (ROOT / "config" / "settings.py").read_text() + (
        ROOT / "config" / "gunicorn.py"
    ).read_text()
    unread = [name for name in manifest()["env"] if f'"{name}"' not in sources]
    assert not unread
