"""POST /_sandbox/users/<id> {"suspended": bool}: suspend or reinstate a seeded user.

Zendesk refuses a suspended user at sign-in and refuses their tokens, so the only way an app
meets a suspended agent during sign-in is a suspension between the agent's consent and the
app's first call. Tests stage that with this control; POST /_sandbox/reset reseeds as before.
"""

from __future__ import annotations

from django.http import HttpRequest, JsonResponse
from django.utils import timezone

from sandbox import jsonbody
from sandbox.models import User
from sandbox.routing import route


def _invalid(description: str) -> JsonResponse:
    return JsonResponse({"error": "InvalidControl", "description": description}, status=400)


def control_user(request: HttpRequest, user_id: str) -> JsonResponse:
    try:
        body = jsonbody.loads(request.body or b"{}")
    except ValueError:
        body = None
    if not isinstance(body, dict) or set(body) != {"suspended"}:
        return _invalid('the body must be {"suspended": true or false}')
    if not isinstance(body["suspended"], bool):
        return _invalid("suspended must be true or false")
    if not user_id.isascii() or not user_id.isdigit():
        return _invalid("the user id must be a number")
    updated = User.objects.filter(id=int(user_id)).update(
        suspended=body["suspended"], updated_at=timezone.now()
    )
    if not updated:
        return JsonResponse({"error": "RecordNotFound", "description": "Not found"}, status=404)
    return JsonResponse({"id": int(user_id), "suspended": body["suspended"]})


route(r"_sandbox/users/(?P<user_id>[^/]+)", "POST", control_user, raw=True)
