"""The seams hold: services never reach into the web layer; views reach Zendesk via services.

Walks the imports (ast) of the source files rather than importing them, so a module that is
never imported by the tests is checked too.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

INBOX = Path(__file__).resolve().parents[2] / "inbox"
SERVICES = sorted((INBOX / "services").rglob("*.py"))
VIEWS = sorted(INBOX.glob("views*.py"))

# The web layer, and the app's own web modules that import it (inbox.auth holds the session).
WEB_LAYER = (
    "django.contrib.messages",
    "django_htmx",
    "inbox.auth",
    "inbox.views",
    "inbox.views_signin",
)
# What a view may take from the client package: error types and records, nothing that calls.
VIEWS_MAY_IMPORT_FROM_ZENDESK = ("inbox.zendesk.errors", "inbox.zendesk.records")


def imported_names(path: Path) -> set[str]:
    """Every module and name imported, dotted: `from a.b import c` gives "a.b" and "a.b.c"."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def within(name: str, package: str) -> bool:
    return name == package or name.startswith(f"{package}.")


def test_there_are_services_and_views_to_check():
    assert len(SERVICES) >= 5
    assert {path.name for path in VIEWS} >= {"views.py", "views_signin.py"}


def web_layer_imports(names: set[str]) -> list[str]:
    return sorted(
        name
        for name in names
        if any(within(name, layer) for layer in WEB_LAYER) or name.endswith(".HttpRequest")
    )


def zendesk_client_imports(names: set[str]) -> list[str]:
    """Imports of inbox.zendesk other than its error types and records (the package's own
    name, which every `from inbox.zendesk import x` adds, says nothing by itself)."""
    return sorted(
        name
        for name in names
        if within(name, "inbox.zendesk")
        and name != "inbox.zendesk"
        and not any(within(name, allowed) for allowed in VIEWS_MAY_IMPORT_FROM_ZENDESK)
    )


@pytest.mark.parametrize("path", SERVICES, ids=lambda path: path.name)
def test_no_service_imports_the_web_layer(path):
    offending = web_layer_imports(imported_names(path))
    assert offending == [], f"{path.name} imports the web layer: {offending}"


@pytest.mark.parametrize("path", VIEWS, ids=lambda path: path.name)
def test_views_reach_zendesk_only_through_services(path):
    offending = zendesk_client_imports(imported_names(path))
    assert offending == [], f"{path.name} calls the Zendesk client directly: {offending}"


def test_the_walk_sees_what_it_must_refuse(tmp_path):
    """A test that cannot fail is a defect: the walk does find each kind of offending import."""
    module = tmp_path / "views_bad.py"
    module.write_text(
        "from django.contrib import messages\n"
        "from django.http import HttpRequest\n"
        "import django_htmx.http\n"
        "from inbox.auth import current_agent\n"
        "from inbox.zendesk import client, errors\n"
        "from inbox.zendesk.oauth import revoke\n"
    )
    names = imported_names(module)
    assert web_layer_imports(names) == [
        "django.contrib.messages",
        "django.http.HttpRequest",
        "django_htmx.http",
        "inbox.auth",
        "inbox.auth.current_agent",
    ]
    assert zendesk_client_imports(names) == [
        "inbox.zendesk.client",
        "inbox.zendesk.oauth",
        "inbox.zendesk.oauth.revoke",
    ]
    allowed = tmp_path / "views_good.py"
    allowed.write_text(
        "from inbox.zendesk import errors\nfrom inbox.zendesk.records import TokenGrant\n"
    )
    assert zendesk_client_imports(imported_names(allowed)) == []
