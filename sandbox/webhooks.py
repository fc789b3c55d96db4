"""Signed webhooks for ticket changes, as Zendesk's event subscriptions send them.

The write path calls `ticket_changed(...)` after each committed change; it only enqueues, so a
slow or dead receiver never slows a write. One daemon thread delivers in order: it POSTs the
event envelope signed as Zendesk signs
(https://developer.zendesk.com/documentation/webhooks/verifying/):

    X-Zendesk-Webhook-Signature = base64(HMAC-SHA256(key=secret UTF-8, msg=TIMESTAMP + BODY))

and retries a failed delivery (non-2xx or a transport error) with exponential backoff
(`retry_base_seconds * 2**(attempt-1)`). A retry still pending when the configuration is
replaced is dropped: the receiver it was meant for is no longer configured.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import os
import queue
import threading
import uuid
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import requests

log = logging.getLogger(__name__)

ACCOUNT_ID = 10_000_001  # the sandbox's one account
EVENT_VERSION = "2022-11-06"
# Zendesk signs test deliveries of unsaved webhooks with this secret (recorded vectors).
DEFAULT_SECRET = "dGhpc19zZWNyZXRfaXNfZm9yX3Rlc3Rpbmdfb25seQ=="
DELIVERY_LOG_SIZE = 100


class WebhookConfigInvalid(ValueError):
    """A webhook configuration that cannot be used; the message says what is wrong."""


@dataclass(frozen=True)
class WebhookConfig:
    url: str = ""  # empty: no webhook, ticket changes are not delivered
    secret: str = DEFAULT_SECRET
    retry_base_seconds: float = 1.0
    max_attempts: int = 4
    timeout_seconds: float = 5.0
    webhook_id: str = field(default_factory=lambda: "01" + uuid.uuid4().hex[:24].upper())

    def public_json(self) -> dict[str, Any]:
        """For GET /_sandbox/webhooks: everything but the secret, which is masked."""
        return {
            "url": self.url,
            "secret": ("*" * 8 + self.secret[-4:]) if self.secret else "",
            "retry_base_seconds": self.retry_base_seconds,
            "max_attempts": self.max_attempts,
            "timeout_seconds": self.timeout_seconds,
            "webhook_id": self.webhook_id,
        }


def _positive(key: str, value: Any, *, high: float, integer: bool = False) -> float:
    kind = int if integer else (int, float)
    if isinstance(value, bool) or not isinstance(value, kind) or not 0 < value <= high:
        expected = "an integer" if integer else "a number"
        raise WebhookConfigInvalid(f"{key} must be {expected} above 0 and at most {high:g}")
    return value


def _is_http_url(url: str) -> bool:
    try:
        parts = urlsplit(url)
    except ValueError:  # e.g. an unclosed IPv6 bracket: "http://[::1"
        return False
    return parts.scheme in ("http", "https") and bool(parts.netloc)


def parse_config(raw: Any) -> WebhookConfig:
    """Validate POST /_sandbox/webhooks; `{}` means no webhook. Replaces the whole config."""
    if not isinstance(raw, dict):
        raise WebhookConfigInvalid("the webhook configuration must be a JSON object")
    known = {"url", "secret", "retry_base_seconds", "max_attempts", "timeout_seconds"}
    problems = [f"unknown key {key!r}" for key in raw if key not in known]
    url = raw.get("url", "")
    if not isinstance(url, str) or (url and not _is_http_url(url)):
        problems.append("url must be an http:// or https:// URL")
    secret = raw.get("secret", DEFAULT_SECRET)
    if not isinstance(secret, str) or not secret:
        problems.append("secret must be a non-empty string")
    values: dict[str, Any] = {}
    for key, high, integer in (
        ("retry_base_seconds", 60, False),
        ("max_attempts", 10, True),
        ("timeout_seconds", 60, False),
    ):
        if key in raw:
            try:
                values[key] = _positive(key, raw[key], high=high, integer=integer)
            except WebhookConfigInvalid as problem:
                problems.append(str(problem))
    if problems:
        raise WebhookConfigInvalid("; ".join(problems))
    return WebhookConfig(url=url, secret=secret, **values)


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """Zendesk's signature: base64 of HMAC-SHA256 over TIMESTAMP + BODY, keyed by the secret."""
    digest = hmac.new(secret.encode(), timestamp.encode() + body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def _iso_z(moment: datetime, *, micro: bool = False) -> str:
    text = moment.isoformat(timespec="microseconds" if micro else "seconds")
    return text.replace("+00:00", "Z")


def envelope(ticket_id: int, event_type: str, changes: dict, detail: dict) -> dict[str, Any]:
    """The event-subscription envelope Zendesk POSTs for `zen:event-type:ticket.*`."""
    return {
        "type": f"zen:event-type:{event_type}",
        "account_id": ACCOUNT_ID,
        "id": str(uuid.uuid4()),
        "time": _iso_z(datetime.now(UTC), micro=True),
        "zendesk_event_version": EVENT_VERSION,
        "subject": f"zen:ticket:{ticket_id}",
        "detail": detail,
        "event": changes,
    }


def ticket_event_detail(ticket: Any) -> dict[str, Any]:
    """A sandbox Ticket as event subscriptions show it: ids as strings, enums upper case."""

    def string_id(value: int | None) -> str | None:
        return None if value is None else str(value)

    return {
        "actor_id": string_id(ticket.submitter_id),
        "assignee_id": string_id(ticket.assignee_id),
        "created_at": _iso_z(ticket.created_at),
        "custom_status": string_id(ticket.custom_status_id),
        "description": ticket.description,
        "external_id": ticket.external_id,
        "group_id": string_id(ticket.group_id),
        "id": str(ticket.id),
        "is_public": ticket.is_public,
        "organization_id": string_id(ticket.organization_id),
        "priority": (ticket.priority or "").upper() or None,
        "requester_id": string_id(ticket.requester_id),
        "status": ticket.status.upper(),
        "subject": ticket.subject,
        "submitter_id": string_id(ticket.submitter_id),
        "tags": list(ticket.tags),
        "type": (ticket.type or "").upper() or None,
        "updated_at": _iso_z(ticket.updated_at),
        "via": {"channel": ticket.via_channel},
    }


@dataclass(frozen=True)
class _Delivery:
    config: WebhookConfig
    event: dict[str, Any]
    invocation_id: str


_lock = threading.Lock()
_config = WebhookConfig(
    url=os.environ.get("SANDBOX_WEBHOOK_URL", ""),
    secret=os.environ.get("SANDBOX_WEBHOOK_SECRET", "") or DEFAULT_SECRET,
)
_config_changed = threading.Event()
_log: deque[dict[str, Any]] = deque(maxlen=DELIVERY_LOG_SIZE)
_queue: queue.Queue[_Delivery] = queue.Queue()
_worker: threading.Thread | None = None


def current_config() -> WebhookConfig:
    with _lock:
        return _config


def set_config(config: WebhookConfig) -> None:
    """Replace the configuration; pending retries for the old one stop at once."""
    global _config, _config_changed
    with _lock:
        _config = config
        previous, _config_changed = _config_changed, threading.Event()
    previous.set()


def delivery_log() -> list[dict[str, Any]]:
    with _lock:
        return list(_log)


def clear_delivery_log() -> None:
    with _lock:
        _log.clear()


def pending_count() -> int:
    return _queue.qsize()


def ticket_changed(ticket_id: int, event_type: str, changes: dict, detail: dict) -> None:
    """Queue a signed delivery of one committed ticket change; never blocks the caller.

    `event_type` like "ticket.status_changed"; `changes` becomes the envelope's `event`
    (e.g. {"previous": "open", "current": "solved"}); `detail` the ticket (see
    `ticket_event_detail`). A no-op when no webhook is configured.
    """
    config = current_config()
    if not config.url:
        return
    event = envelope(ticket_id, event_type, changes, detail)
    _queue.put(_Delivery(config=config, event=event, invocation_id=str(uuid.uuid4())))
    _ensure_worker()


def _ensure_worker() -> None:
    global _worker
    with _lock:
        if _worker is None or not _worker.is_alive():
            _worker = threading.Thread(target=_deliver_forever, name="webhooks", daemon=True)
            _worker.start()


def _deliver_forever() -> None:
    while True:
        delivery = _queue.get()
        try:
            _deliver(delivery)
        except Exception:  # the worker must survive any one bad delivery
            log.exception("webhook delivery crashed")


def _is_current(config: WebhookConfig) -> tuple[bool, threading.Event]:
    with _lock:
        return _config is config, _config_changed


def _deliver(delivery: _Delivery) -> None:
    config = delivery.config
    body = json.dumps(delivery.event, separators=(",", ":")).encode()
    for attempt in range(1, config.max_attempts + 1):
        current, changed = _is_current(config)
        if not current:
            return
        status, error = _post_once(delivery, body, attempt)
        _remember(delivery, attempt, status, error)
        if status is not None and 200 <= status < 300:
            return
        if attempt < config.max_attempts and changed.wait(
            config.retry_base_seconds * 2 ** (attempt - 1)
        ):
            return  # reconfigured while waiting: drop the retries


def _post_once(delivery: _Delivery, body: bytes, attempt: int) -> tuple[int | None, str | None]:
    config = delivery.config
    timestamp = _iso_z(datetime.now(UTC))
    headers = {
        "Content-Type": "application/json; charset=utf-8",
        "User-Agent": "Zendesk Webhook",
        "X-Zendesk-Webhook-Id": config.webhook_id,
        "X-Zendesk-Webhook-Invocation-Id": delivery.invocation_id,
        "X-Zendesk-Webhook-Signature-Timestamp": timestamp,
        "X-Zendesk-Webhook-Signature": sign(config.secret, timestamp, body),
    }
    try:
        response = requests.post(
            config.url, data=body, headers=headers, timeout=config.timeout_seconds
        )
    except requests.RequestException as error:
        return None, f"{type(error).__name__}: {error}"[:300]
    return response.status_code, None


def _remember(delivery: _Delivery, attempt: int, status: int | None, error: str | None) -> None:
    with _lock:
        _log.append(
            {
                "event_id": delivery.event["id"],
                "type": delivery.event["type"],
                "subject": delivery.event["subject"],
                "url": delivery.config.url,
                "attempt": attempt,
                "status": status,
                "error": error,
                "at": _iso_z(datetime.now(UTC), micro=True),
            }
        )
