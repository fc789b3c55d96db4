"""POST /_sandbox/users/<id> {"suspended", "active", "restricted_agent", "role"}: what a Zendesk
admin does to a user (suspend, deactivate, restrict, demote), for tests of an app that must notice.

Zendesk refuses a suspended user at sign-in and refuses their tokens, so the only way an app
meets a suspended agent during sign-in is a suspension between the agent's consent and the
app's first call. Tests stage that with this control, and an agent restricted or demoted while
signed in; POST /_sandbox/reset reseeds as before.
"""

from __future__ import annotations

from django.http import HttpRequest, JsonResponse
from django.utils import timezone

from sandbox import jsonbody
from sandbox.models import User
from sandbox.routing import route


def _invalid(description: str) -> JsonResponse:
    return JsonResponse({"error": "InvalidControl", "description": description}, status=400)


# What the control may change, and the values each takes (Zendesk's user fields:
# https://developer.zendesk.com/api-reference/ticketing/users/users/#json-format).
CHANGEABLE: dict[str, tuple[object, ...]] = {
    "suspended": (True, False),
    "active": (True, False),
    "restricted_agent": (True, False),
    "role": ("end-user", "agent", "admin"),
    "ticket_restriction": (None, "organization", "groups", "assigned", "requested"),
}
MAX_NAME_LENGTH = 255


def _refusal(name: str, value: object) -> str | None:
    """Why `value` cannot be set as `name`, or None. `name` takes any text (hostile names
    included: that is what tests of an app showing it need)."""
    if name == "name":
        if isinstance(value, str) and 0 < len(value) <= MAX_NAME_LENGTH:
            return None
        return f"name must be text of 1 to {MAX_NAME_LENGTH} characters"
    allowed = CHANGEABLE[name]
    if any(value is choice or (isinstance(choice, str) and value == choice) for choice in allowed):
        return None
    return f"{name} must be one of: " + ", ".join(map(str, allowed))


def control_user(request: HttpRequest, user_id: str) -> JsonResponse:
    try:
        body = jsonbody.loads(request.body or b"{}")
    except ValueError:
        body = None
    if not isinstance(body, dict) or not body or not set(body) <= {*CHANGEABLE, "name"}:
        return _invalid("the body must set some of: name, " + ", ".join(CHANGEABLE))
    for name, value in body.items():
        refusal = _refusal(name, value)
        if refusal:
            return _invalid(refusal)
    if not user_id.isascii() or not user_id.isdigit():
        return _invalid("the user id must be a number")
    updated = User.objects.filter(id=int(user_id)).update(**body, updated_at=timezone.now())
    if not updated:
        return JsonResponse({"error": "RecordNotFound", "description": "Not found"}, status=404)
    return JsonResponse({"id": int(user_id), **body})


route(r"_sandbox/users/(?P<user_id>[^/]+)", "POST", control_user, raw=True)
