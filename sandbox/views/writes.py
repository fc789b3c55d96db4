"""Ticket writes over HTTP: POST /api/v2/tickets and PUT /api/v2/tickets/{id}.

Views only read the request, call sandbox.domain and render Zendesk's answers; the rules
live in domain.py, which the team-activity simulator drives too.

Idempotent create (Zendesk's `Idempotency-Key` header): the first response is stored per
key and user for two hours; a repeat with the same body answers it again with
`x-idempotency-lookup: hit`; the same key with another body is refused with 400
`{"error": "IdempotentRequestError", "description": ...}`. Zendesk documents the refusal
but no recorded body exists, so the sandbox uses its general `{error, description}` shape
with the error name Zendesk's documentation gives, and 400 because the request itself,
not the ticket, is wrong. Only successful creates are remembered: a refused body (422) can be
corrected and retried under the same key.

Control (tests): `POST /_sandbox/idempotency {"ttl": seconds}` shortens how long keys live
({} restores two hours) so expiry can be seen; `GET` shows it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from typing import Any

from django.core.exceptions import RequestDataTooBig
from django.db import IntegrityError, transaction
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt

from sandbox import domain, errors, jsonbody, update_limit
from sandbox.auth import Caller, api_view
from sandbox.models import IdempotencyRecord
from sandbox.routing import route
from sandbox.serializers import audit_json, base_url, ticket_json

MAX_BODY_BYTES = 1024 * 1024
IDEMPOTENCY_TTL = dt.timedelta(hours=2)
_idempotency_ttl: dict[str, dt.timedelta] = {"current": IDEMPOTENCY_TTL}
IDEMPOTENCY_KEY_MAX_LENGTH = 200
MAX_TTL = 10 * 365 * 86400  # the longest key lifetime the control accepts: ten years


# -- reading the request -------------------------------------------------------------------


def _too_large() -> errors.ApiError:
    return errors.ApiError(
        413, {"error": "RequestTooLarge", "description": "The request body exceeds 1 MB."}
    )


def _json_body(request: HttpRequest) -> dict[str, Any]:
    """The JSON object sent, or a Zendesk-shaped 400/413 (never a 500)."""
    try:
        declared = int(request.headers.get("Content-Length") or 0)
    except ValueError:
        declared = 0
    if declared > MAX_BODY_BYTES:
        raise _too_large()
    try:
        raw = request.body
    except RequestDataTooBig as exc:
        raise _too_large() from exc
    if len(raw) > MAX_BODY_BYTES:
        raise _too_large()
    try:
        body = jsonbody.loads(raw or b"null")
    except ValueError as exc:
        raise errors.bad_request("InvalidJSON", "The request body is not valid JSON.") from exc
    if not isinstance(body, dict):
        raise errors.bad_request("InvalidJSON", "The request body must be a JSON object.")
    return body


def _ticket_fields(body: dict[str, Any]) -> dict[str, Any]:
    fields = body.get("ticket")
    if not isinstance(fields, dict):
        raise errors.bad_request(
            "InvalidParameter", 'The body must carry the ticket as an object: {"ticket": {...}}.'
        )
    return fields


def _write_error(error: domain.WriteError) -> errors.ApiError:
    """Domain failures in Zendesk's statuses and bodies."""
    if isinstance(error, domain.TicketNotFound):
        return errors.not_found()
    if isinstance(error, domain.WriteForbidden):
        return errors.forbidden()
    if isinstance(error, domain.StaleTicket):
        return errors.conflict()
    if isinstance(error, domain.TicketInvalid):
        return errors.record_invalid(error.details)
    raise error


def _write_response(request: HttpRequest, write: domain.TicketWrite, status: int) -> JsonResponse:
    root = base_url(request)
    ticket = write.ticket
    body = {
        "ticket": ticket_json(ticket, base_url=root),
        "audit": audit_json(write.audit, base_url=root),
    }
    response = JsonResponse(body, status=status)
    if status == 201:
        response["Location"] = f"{root}/api/v2/tickets/{ticket.id}.json"
    return response


# -- create --------------------------------------------------------------------------------


def _body_digest(body: dict[str, Any]) -> str:
    """Same parameters, same digest, whatever the key order or spacing of the JSON."""
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def _idempotency_refusal() -> errors.ApiError:
    return errors.bad_request(
        "IdempotentRequestError",
        "The Idempotency-Key was already used with different request parameters.",
    )


def _replay(record: IdempotencyRecord) -> HttpResponse:
    response = HttpResponse(
        record.response_body, status=record.status_code, content_type="application/json"
    )
    for name, value in record.response_headers.items():
        response[name] = value
    response["x-idempotency-lookup"] = "hit"
    return response


def _create(request: HttpRequest, caller: Caller, fields: dict[str, Any]) -> JsonResponse:
    try:
        write = domain.ticket_create(actor=caller.user, fields=fields, via="api")
    except domain.WriteError as error:
        raise _write_error(error) from error
    return _write_response(request, write, 201)


def _idempotent_create(
    request: HttpRequest, caller: Caller, key: str, body: dict[str, Any]
) -> HttpResponse:
    """At most one ticket per key and user; the whole check-create-store is one transaction."""
    digest = _body_digest(body)
    with transaction.atomic():
        expired_before = timezone.now() - _idempotency_ttl["current"]
        IdempotencyRecord.objects.filter(created_at__lt=expired_before).delete()
        record = IdempotencyRecord.objects.filter(key=key, user=caller.user).first()
        if record is not None:
            if record.body_digest != digest:
                raise _idempotency_refusal()
            return _replay(record)
        response = _create(request, caller, _ticket_fields(body))
        try:
            IdempotencyRecord.objects.create(
                key=key,
                user=caller.user,
                body_digest=digest,
                status_code=response.status_code,
                response_body=response.content.decode(),
                response_headers={"Location": response["Location"]},
                created_at=timezone.now(),
            )
        except IntegrityError as exc:  # cannot happen while writers are serialized
            raise _idempotency_refusal() from exc
    response["x-idempotency-lookup"] = "miss"
    return response


@api_view()
def ticket_create(request: HttpRequest, caller: Caller) -> HttpResponse:
    """POST /api/v2/tickets (agents; Zendesk sends end users to the Requests API)."""
    if not caller.user.is_agent:
        raise errors.forbidden()
    body = _json_body(request)
    key = request.headers.get("Idempotency-Key", "").strip()
    if len(key) > IDEMPOTENCY_KEY_MAX_LENGTH:
        raise errors.bad_request("InvalidParameter", "The Idempotency-Key is too long.")
    if key:
        return _idempotent_create(request, caller, key, body)
    return _create(request, caller, _ticket_fields(body))


# -- update --------------------------------------------------------------------------------


@api_view()
def ticket_update(request: HttpRequest, caller: Caller, ticket_id: str) -> HttpResponse:
    """PUT /api/v2/tickets/{id}: comment, fields, safe_update (409 when stale)."""
    number = domain.parse_id(ticket_id)
    if number is None:
        raise errors.not_found()
    fields = _ticket_fields(_json_body(request))
    _check_update_limit(caller, number)
    try:
        write = domain.ticket_update(actor=caller.user, ticket_id=ticket_id, fields=fields)
    except domain.WriteError as error:
        raise _write_error(error) from error
    return _write_response(request, write, 200)


def _check_update_limit(caller: Caller, ticket_id: int) -> None:
    """Zendesk's 30 updates per ticket per user in 10 minutes (sandbox.update_limit)."""
    retry_after = update_limit.admit_update(caller.user.id, ticket_id)
    if retry_after is not None:
        raise errors.ApiError(
            429,
            {
                "error": "APIRateLimitExceeded",
                "description": "Too many updates to this ticket. Try again later.",
            },
            {"Retry-After": str(retry_after)},
        )


# -- control -------------------------------------------------------------------------------


@csrf_exempt
def control_idempotency(request: HttpRequest) -> JsonResponse:
    """GET shows, POST sets {"ttl": seconds} for Idempotency-Key lifetimes ({} restores 2 h)."""
    if request.method == "POST":
        try:
            body = jsonbody.loads(request.body or b"{}")
        except ValueError:
            body = None
        if not isinstance(body, dict):
            return JsonResponse({"error": "body must be a JSON object"}, status=400)
        ttl = body.get("ttl")
        if ttl is None:
            _idempotency_ttl["current"] = IDEMPOTENCY_TTL
        elif isinstance(ttl, bool) or not isinstance(ttl, int) or not 1 <= ttl <= MAX_TTL:
            # A longer ttl would overflow `now - ttl` on the next create (a 500).
            return JsonResponse(
                {"error": f"ttl must be a whole number of seconds, 1 to {MAX_TTL}"}, status=400
            )
        else:
            _idempotency_ttl["current"] = dt.timedelta(seconds=ttl)
    return JsonResponse({"ttl": int(_idempotency_ttl["current"].total_seconds())})


route("tickets", "POST", ticket_create)
route(r"tickets/(?P<ticket_id>[^/.]+)", "PUT", ticket_update)
route("_sandbox/idempotency", "GET", control_idempotency, raw=True)
route("_sandbox/idempotency", "POST", control_idempotency, raw=True)
