"""Zendesk's webhooks into the app: POST /webhooks/zendesk.

Trusts nothing but the signature: no session, no cookie, no CSRF token (Zendesk has none), and
no call to Zendesk while Zendesk waits for the answer (the re-read runs in the background).
https://developer.zendesk.com/documentation/event-connectors/webhooks/verifying/
"""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from inbox.services import changes

SIGNATURE_HEADER = "X-Zendesk-Webhook-Signature"
TIMESTAMP_HEADER = "X-Zendesk-Webhook-Signature-Timestamp"


def _declared_length(request: HttpRequest) -> int:
    try:
        return int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return 0


@csrf_exempt  # signed by Zendesk instead; it has no CSRF token to send
@require_POST
@never_cache
def zendesk_webhook(request: HttpRequest) -> JsonResponse:
    """Verify the request, invalidate what the ticket change makes stale, answer at once."""
    limit = changes.webhook_max_bytes()
    if _declared_length(request) > limit:
        return JsonResponse({"error": f"The body is larger than {limit} bytes."}, status=413)
    body = request.read(limit + 1)
    try:
        outcome = changes.webhook_receive(
            base_url=settings.ZENDESK_URL,
            body=body,
            signature=request.headers.get(SIGNATURE_HEADER),
            timestamp=request.headers.get(TIMESTAMP_HEADER),
        )
    except changes.WebhookRefused as refusal:
        return JsonResponse({"error": refusal.message}, status=refusal.status)
    if outcome.ignored:
        return JsonResponse({"ignored": outcome.ignored})
    return JsonResponse({"ticket_id": outcome.ticket_id, "invalidated": len(outcome.invalidated)})
