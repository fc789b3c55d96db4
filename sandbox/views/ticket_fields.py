"""GET /api/v2/ticket_fields: the account's custom ticket fields (sandbox.ticket_fields).

https://developer.zendesk.com/api-reference/ticketing/tickets/ticket_fields/#list-ticket-fields

POST /_sandbox/ticket_fields/required {"ids": [...]}: the fields an admin makes required to
solve a ticket (replacing the ones set before; SANDBOX_REQUIRED_TO_SOLVE's stay).
"""

from __future__ import annotations

from django.db import transaction
from django.http import HttpRequest, JsonResponse

from sandbox import domain, jsonbody, serializers
from sandbox.auth import Caller, api_view
from sandbox.models import FieldLabel, RequiredField
from sandbox.routing import route
from sandbox.ticket_fields import CREATED_AT, FIELDS_BY_ID, TICKET_FIELDS, ticket_field_json


@api_view(agents_only=True)
def ticket_field_list(request: HttpRequest, caller: Caller) -> JsonResponse:
    base_url = serializers.base_url(request)
    stamp = serializers.timestamp(CREATED_AT)
    labels = dict(FieldLabel.objects.values_list("key", "name"))
    required = domain.required_field_ids()
    fields = [
        ticket_field_json(
            f, base_url=base_url, timestamp=stamp, labels=labels, required=f.id in required
        )
        for f in TICKET_FIELDS
    ]
    return JsonResponse(
        {"ticket_fields": fields, "next_page": None, "previous_page": None, "count": len(fields)}
    )


def sandbox_required_fields(request: HttpRequest) -> JsonResponse:
    try:
        body = jsonbody.loads(request.body or b"{}")
    except ValueError:
        body = None
    ids = body.get("ids") if isinstance(body, dict) else None
    if not isinstance(ids, list) or not all(
        isinstance(i, int) and not isinstance(i, bool) and i in FIELDS_BY_ID for i in ids
    ):
        known = ", ".join(str(i) for i in FIELDS_BY_ID)
        return JsonResponse(
            {
                "error": "InvalidControl",
                "description": f'the body must be {{"ids": [...]}} of field ids ({known})',
            },
            status=400,
        )
    with transaction.atomic():
        RequiredField.objects.all().delete()
        RequiredField.objects.bulk_create([RequiredField(field_id=i) for i in set(ids)])
    return JsonResponse({"required": sorted(domain.required_field_ids())})


route("ticket_fields", "GET", ticket_field_list)
route("_sandbox/ticket_fields/required", "POST", sandbox_required_fields, raw=True)
