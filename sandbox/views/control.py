"""Sandbox views: control. What the demo and the tests need to drive the sandbox.

GET /_sandbox/ tells who is in the seeded account and how to sign in as them;
POST /_sandbox/reset re-seeds it (same seed, tickets and agents as settings give the
server) so a test can start from pristine data. No authentication: loopback tooling only.
"""

from __future__ import annotations

from django.conf import settings
from django.db import transaction
from django.http import HttpRequest, JsonResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt

from sandbox import traffic, update_limit
from sandbox.models import OAuthClient, OAuthToken, User
from sandbox.routing import route
from sandbox.seeding import remembered_seed_args, seed_account
from sandbox.serializers import base_url

END_USERS_SHOWN = 5


def _account(request: HttpRequest) -> dict[str, str]:
    subdomain = settings.SANDBOX_SUBDOMAIN
    name = subdomain.replace("-", " ").title()
    return {"subdomain": subdomain, "name": name, "url": base_url(request)}


def _agent_json(agent: User) -> dict:
    return {
        "id": agent.id,
        "name": agent.name,
        "email": agent.email,
        "role": agent.role,
        "restricted": agent.restricted_agent,
        "suspended": agent.suspended,
        "group_ids": sorted(group.id for group in agent.groups.all()),
    }


def _oauth_client_json() -> dict | None:
    client = OAuthClient.objects.filter(identifier=settings.SANDBOX_OAUTH_CLIENT_ID).first()
    if client is None:
        return None
    return {
        "client_id": client.identifier,
        "client_secret": client.secret,
        "redirect_uris": client.redirect_uris,
    }


@csrf_exempt
def sandbox_info(request: HttpRequest) -> JsonResponse:
    agents = (
        User.objects.filter(role__in=("agent", "admin")).order_by("id").prefetch_related("groups")
    )
    end_users = User.objects.filter(role="end-user").order_by("id")[:END_USERS_SHOWN]
    return JsonResponse(
        {
            "account": _account(request),
            "agents": [_agent_json(agent) for agent in agents],
            "end_users": [{"id": u.id, "name": u.name, "email": u.email} for u in end_users],
            "api_token": settings.SANDBOX_API_TOKEN,
            "demo_password": settings.SANDBOX_DEMO_PASSWORD,
            "oauth_client": _oauth_client_json(),
        }
    )


@csrf_exempt
def sandbox_reset(request: HttpRequest) -> JsonResponse:
    """Re-seed as the server was last seeded, in one transaction (never seen half done), and
    put faults, rate-limit windows and stats back to their start-up state.

    Signed-in OAuth sessions survive: the app under test keeps its tokens across a reset,
    as the seed gives every user the same id again.
    """
    seed_args = remembered_seed_args()
    with transaction.atomic():
        tokens = list(OAuthToken.objects.values())
        counts = seed_account(**seed_args, now=timezone.now())
        _restore_tokens(tokens)
    traffic.reset_all()
    update_limit.reset()
    return JsonResponse({"reset": True, **seed_args, "counts": counts})


def _restore_tokens(tokens: list[dict]) -> None:
    client = OAuthClient.objects.get(identifier=settings.SANDBOX_OAUTH_CLIENT_ID)
    user_ids = set(User.objects.values_list("id", flat=True))
    OAuthToken.objects.bulk_create(
        [
            # The codes behind the tokens are gone with the old data.
            OAuthToken(**{**token, "client_id": client.id, "grant_id": None})
            for token in tokens
            if token["user_id"] in user_ids
        ]
    )


route("_sandbox/", "GET", sandbox_info, raw=True)
route("_sandbox/reset", "POST", sandbox_reset, raw=True)
