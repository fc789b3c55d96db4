"""GET /api/v2/ticket_fields: the account's custom ticket fields (sandbox.ticket_fields).

https://developer.zendesk.com/api-reference/ticketing/tickets/ticket_fields/#list-ticket-fields
"""

from __future__ import annotations

from django.http import HttpRequest, JsonResponse

from sandbox import serializers
from sandbox.auth import Caller, api_view
from sandbox.models import FieldLabel
from sandbox.routing import route
from sandbox.ticket_fields import CREATED_AT, TICKET_FIELDS, ticket_field_json


@api_view(agents_only=True)
def ticket_field_list(request: HttpRequest, caller: Caller) -> JsonResponse:
    base_url = serializers.base_url(request)
    stamp = serializers.timestamp(CREATED_AT)
    labels = dict(FieldLabel.objects.values_list("key", "name"))
    fields = [
        ticket_field_json(f, base_url=base_url, timestamp=stamp, labels=labels)
        for f in TICKET_FIELDS
    ]
    return JsonResponse(
        {"ticket_fields": fields, "next_page": None, "previous_page": None, "count": len(fields)}
    )


route("ticket_fields", "GET", ticket_field_list)
