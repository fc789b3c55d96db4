"""Control endpoints for faults, rate limits, traffic stats and webhooks.

    GET  /_sandbox/faults           the whole fault set in force (every key, defaults included)
    POST /_sandbox/faults           REPLACE the fault set with the JSON object sent ({} clears)
    GET  /_sandbox/stats            API and OAuth traffic since the last reset (`arrived` counts
                                    calls as they come in, hung ones included)
    POST /_sandbox/stats/reset      zero the stats
    GET  /_sandbox/webhooks         the webhook config (secret masked) and the delivery log
    POST /_sandbox/webhooks         REPLACE the webhook config ({} clears) and its delivery log
    POST /_sandbox/webhooks/test    {"ticket_id": N, "event_type"?: str, "event"?: {}}: send one

Bad input answers 400 `{"error": "InvalidControl", "description": <what is wrong>}`.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, JsonResponse

from sandbox import jsonbody, traffic, webhooks
from sandbox.models import Ticket
from sandbox.routing import route


class _BadInput(ValueError):
    pass


def _invalid(description: str) -> JsonResponse:
    return JsonResponse({"error": "InvalidControl", "description": description}, status=400)


def _json_body(request: HttpRequest) -> Any:
    """The request's JSON; an empty body reads as {} (so `POST /faults` alone clears)."""
    if not request.body.strip():
        return {}
    try:
        return jsonbody.loads(request.body)
    except ValueError as error:
        raise _BadInput(f"the body is not valid JSON: {error}") from error


def faults_show(request: HttpRequest) -> JsonResponse:
    faults, _changed = traffic.current_faults()
    return JsonResponse(traffic.faults_json(faults))


def faults_replace(request: HttpRequest) -> JsonResponse:
    try:
        faults = traffic.parse_faults(_json_body(request))
    except (_BadInput, traffic.FaultsInvalid) as problem:
        return _invalid(str(problem))
    traffic.set_faults(faults)
    return JsonResponse(traffic.faults_json(faults))


def stats_show(request: HttpRequest) -> JsonResponse:
    return JsonResponse(traffic.stats_json())


def stats_reset(request: HttpRequest) -> JsonResponse:
    traffic.reset_stats()
    return JsonResponse(traffic.stats_json())


def _webhooks_json() -> dict[str, Any]:
    return {
        **webhooks.current_config().public_json(),
        "pending": webhooks.pending_count(),
        "deliveries": webhooks.delivery_log(),
    }


def webhooks_show(request: HttpRequest) -> JsonResponse:
    return JsonResponse(_webhooks_json())


def webhooks_replace(request: HttpRequest) -> JsonResponse:
    try:
        config = webhooks.parse_config(_json_body(request))
    except (_BadInput, webhooks.WebhookConfigInvalid) as problem:
        return _invalid(str(problem))
    webhooks.set_config(config)
    webhooks.clear_delivery_log()
    return JsonResponse(_webhooks_json())


def _test_request(raw: Any) -> tuple[int, str, dict]:
    if not isinstance(raw, dict):
        raise _BadInput("the body must be a JSON object")
    unknown = set(raw) - {"ticket_id", "event_type", "event"}
    if unknown:
        raise _BadInput(f"unknown keys {sorted(unknown)}")
    ticket_id, event_type = raw.get("ticket_id"), raw.get("event_type", "ticket.status_changed")
    event = raw.get("event", {})
    if isinstance(ticket_id, bool) or not isinstance(ticket_id, int):
        raise _BadInput("ticket_id must be an integer")
    if not isinstance(event_type, str) or not event_type.startswith("ticket."):
        raise _BadInput('event_type must be a string like "ticket.status_changed"')
    if not isinstance(event, dict):
        raise _BadInput("event must be a JSON object")
    return ticket_id, event_type, event


def webhooks_test(request: HttpRequest) -> JsonResponse:
    """Fire one real, signed delivery for a real ticket, without going through a write."""
    try:
        ticket_id, event_type, event = _test_request(_json_body(request))
    except _BadInput as problem:
        return _invalid(str(problem))
    if not webhooks.current_config().url:
        return _invalid("no webhook is configured: POST /_sandbox/webhooks {url, secret} first")
    ticket = Ticket.objects.filter(id=ticket_id).first()
    if ticket is None:
        return JsonResponse({"error": "RecordNotFound", "description": "Not found"}, status=404)
    webhooks.ticket_changed(ticket.id, event_type, event, webhooks.ticket_event_detail(ticket))
    return JsonResponse({"queued": True}, status=202)


route("_sandbox/faults", "GET", faults_show, raw=True)
route("_sandbox/faults", "POST", faults_replace, raw=True)
route("_sandbox/stats", "GET", stats_show, raw=True)
route("_sandbox/stats/reset", "POST", stats_reset, raw=True)
route("_sandbox/webhooks", "GET", webhooks_show, raw=True)
route("_sandbox/webhooks", "POST", webhooks_replace, raw=True)
route("_sandbox/webhooks/test", "POST", webhooks_test, raw=True)
