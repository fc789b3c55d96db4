"""Groups and group memberships: what an assignee picker needs, as Zendesk serves them.

- `GET /api/v2/groups`, `/groups/assignable`, `/groups/{id}`
  (https://developer.zendesk.com/api-reference/ticketing/groups/groups/);
- `GET /api/v2/group_memberships`, `/group_memberships/{id}`, `/groups/{id}/memberships`, and
  the assignable ones
  `/group_memberships/assignable` and `/groups/{id}/memberships/assignable`
  (https://developer.zendesk.com/api-reference/ticketing/groups/group_memberships/),
  with `include=users,groups` as Zendesk's sideloading allows for memberships
  (https://developer.zendesk.com/documentation/ticketing/using-the-zendesk-api/side_loading/).

Which endpoint lists the agents a ticket can be assigned to in one group: Zendesk's own agent
interface fills its assignee field from `/api/lotus/assignables/groups/{id}/agents.json`, an
endpoint of the agent interface outside the versioned /api/v2 (the OpenAPI description lists
it under "Assignee Field Assignable Agents"). Its /api/v2 counterpart is List Assignable
Memberships by group, `/groups/{id}/memberships/assignable`: the memberships of the agents who
can take a ticket in that group, cursor or offset paginated, 100 a page at most. That is the
one the sandbox serves for a picker (with `include=users` for the names); plain
`/groups/{id}/memberships` also lists members who cannot be assigned (here: suspended agents).

Restricted agents: the reference does not say what these lists answer an agent whose access is
limited to their groups' tickets. Zendesk lets such agents assign tickets only to the groups
they belong to unless a custom role allows any group
(https://support.zendesk.com/hc/en-us/articles/4408834893978). The sandbox takes the
conservative reading everywhere: a restricted agent's groups, assignable groups and
memberships are those of their own groups only, and any other group is 403, as a ticket they
may not see is.
"""

from __future__ import annotations

from typing import Any

from django.db.models import Q, QuerySet
from django.http import HttpRequest, JsonResponse

from sandbox import errors, serializers
from sandbox.auth import Caller, api_view
from sandbox.models import Group, User
from sandbox.pagination import Ordering, paginate
from sandbox.routing import route
from sandbox.views.reads import includes, list_url, parse_id, users_json

BY_ID = Ordering("id", (("id", False),))
Membership = User.groups.through
MEMBERSHIP_INCLUDES = {"users", "groups"}


# -- who may see and assign what --------------------------------------------------------------


def is_restricted(agent: User) -> bool:
    """Agents limited to some tickets: the sandbox confines them to their own groups."""
    return agent.restricted_agent or agent.ticket_restriction in ("groups", "assigned")


def caller_groups(caller: Caller) -> QuerySet[Group]:
    """The groups the caller may list and assign to (see the module docstring)."""
    agent = caller.user
    if is_restricted(agent):
        return agent.groups.all()
    return Group.objects.all()


def caller_group(caller: Caller, group_id: str) -> Group:
    """One group by id: 404 if there is none, 403 if the caller may not use it."""
    group = Group.objects.filter(id=parse_id(group_id, name="group_id")).first()
    if group is None:
        raise errors.not_found()
    if not caller_groups(caller).filter(id=group.id).exists():
        raise errors.forbidden()
    return group


def assignable_agents() -> Q:
    """Members a ticket can be assigned to: active agents and admins who are not suspended."""
    return Q(
        user__role__in=("agent", "admin"),
        user__active=True,
        user__suspended=False,
    )


# -- rendering --------------------------------------------------------------------------------


def membership_json(membership: Any, *, base_url: str) -> dict[str, Any]:
    """A membership as Zendesk renders one; it has no times of its own here, so it takes the
    later of its user's and group's creation (when the agent could first have joined)."""
    user, group = membership.user, membership.group
    joined = max(user.created_at, group.created_at)
    return {
        "url": f"{base_url}/api/v2/group_memberships/{membership.id}.json",
        "id": membership.id,
        "user_id": user.id,
        "group_id": group.id,
        "default": user.default_group_id == group.id,
        "created_at": serializers.timestamp(joined),
        "updated_at": serializers.timestamp(joined),
    }


def groups_response(request: HttpRequest, groups: QuerySet[Group]) -> JsonResponse:
    exclude_deleted = request.GET.get("exclude_deleted")
    if exclude_deleted is not None and exclude_deleted not in ("true", "false"):
        raise errors.bad_request("InvalidValue", "exclude_deleted must be true or false")
    page = paginate(request, groups, BY_ID, url=list_url(request))
    base_url = serializers.base_url(request)
    body: dict[str, Any] = {
        "groups": [serializers.group_json(group, base_url=base_url) for group in page.rows]
    }
    body.update(page.fields)
    return JsonResponse(body)


def memberships_response(request: HttpRequest, memberships: QuerySet) -> JsonResponse:
    wanted = includes(request) & MEMBERSHIP_INCLUDES
    page = paginate(
        request, memberships.select_related("user", "group"), BY_ID, url=list_url(request)
    )
    base_url = serializers.base_url(request)
    body: dict[str, Any] = {
        "group_memberships": [membership_json(m, base_url=base_url) for m in page.rows]
    }
    if "users" in wanted:
        users = {m.user.id: m.user for m in page.rows}
        body["users"] = users_json(users.values(), base_url=base_url)
    if "groups" in wanted:
        groups = sorted({m.group.id: m.group for m in page.rows}.values(), key=lambda g: g.id)
        body["groups"] = [serializers.group_json(group, base_url=base_url) for group in groups]
    body.update(page.fields)
    return JsonResponse(body)


# -- views ------------------------------------------------------------------------------------


@api_view(agents_only=True)
def group_list(request: HttpRequest, caller: Caller) -> JsonResponse:
    return groups_response(request, caller_groups(caller))


@api_view(agents_only=True)
def group_assignable(request: HttpRequest, caller: Caller) -> JsonResponse:
    return groups_response(request, caller_groups(caller))


@api_view(agents_only=True)
def group_show(request: HttpRequest, caller: Caller, group_id: str) -> JsonResponse:
    group = caller_group(caller, group_id)
    base_url = serializers.base_url(request)
    return JsonResponse({"group": serializers.group_json(group, base_url=base_url)})


@api_view(agents_only=True)
def membership_list(request: HttpRequest, caller: Caller) -> JsonResponse:
    memberships = Membership.objects.filter(group__in=caller_groups(caller))
    return memberships_response(request, memberships)


@api_view(agents_only=True)
def membership_assignable(request: HttpRequest, caller: Caller) -> JsonResponse:
    memberships = Membership.objects.filter(assignable_agents(), group__in=caller_groups(caller))
    return memberships_response(request, memberships)


@api_view(agents_only=True)
def membership_show(request: HttpRequest, caller: Caller, membership_id: str) -> JsonResponse:
    """One membership (its `url`); outside the caller's groups it is not found."""
    membership = (
        Membership.objects.select_related("user", "group")
        .filter(id=parse_id(membership_id), group__in=caller_groups(caller))
        .first()
    )
    if membership is None:
        raise errors.not_found()
    base_url = serializers.base_url(request)
    return JsonResponse({"group_membership": membership_json(membership, base_url=base_url)})


@api_view(agents_only=True)
def group_membership_list(request: HttpRequest, caller: Caller, group_id: str) -> JsonResponse:
    group = caller_group(caller, group_id)
    return memberships_response(request, Membership.objects.filter(group=group))


@api_view(agents_only=True)
def group_membership_assignable(
    request: HttpRequest, caller: Caller, group_id: str
) -> JsonResponse:
    group = caller_group(caller, group_id)
    memberships = Membership.objects.filter(assignable_agents(), group=group)
    return memberships_response(request, memberships)


route("groups", "GET", group_list)
route("groups/assignable", "GET", group_assignable)
route(r"groups/(?P<group_id>[^/.]+)", "GET", group_show)
route("group_memberships", "GET", membership_list)
route("group_memberships/assignable", "GET", membership_assignable)
route(r"group_memberships/(?P<membership_id>[^/.]+)", "GET", membership_show)
route(r"groups/(?P<group_id>[^/.]+)/memberships", "GET", group_membership_list)
route(r"groups/(?P<group_id>[^/.]+)/memberships/assignable", "GET", group_membership_assignable)
