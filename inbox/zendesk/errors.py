"""One exception family for everything that can go wrong talking to Zendesk.

Views and services catch `ZendeskError` (or a subclass) and show `user_message`: every error an
agent can meet comes with a sentence they can act on. The HTTP status decides the class; Zendesk's
4xx bodies are opaque (JSON, plain text or HTML from the edge), so they are kept for logs only.
"""

from __future__ import annotations

from typing import Any

# Why a saved answer is shown instead of a fresh one (or why nothing could be shown): a sentence
# for the agent per reason the response cache records.
STALE_MESSAGES = {
    "upstream_unavailable": "Zendesk is not answering right now.",
    "rate_limited": "Zendesk asked the team to slow down.",
    "budget_exhausted": "The team has used this minute's share of Zendesk requests.",
    "invalid_response": "Zendesk sent an answer we could not read.",
    "waiting": "Zendesk is slow to answer.",
}


class ZendeskError(Exception):
    """Base of every failure of a call to Zendesk."""

    status_code: int | None = None
    # Zendesk's `error` code from a JSON body ("RecordNotFound", "invalid_grant"), when sent.
    error_code: str | None = None
    user_message = "Zendesk could not complete the request. Please try again."

    def __init__(self, message: str | None = None, *, status_code: int | None = None) -> None:
        super().__init__(message or self.user_message)
        if status_code is not None:
            self.status_code = status_code


class Unauthorized(ZendeskError):
    status_code = 401
    user_message = "Your Zendesk session expired; please sign in again."


class Forbidden(ZendeskError):
    status_code = 403
    user_message = "Your Zendesk account does not have access to this."


class NotFound(ZendeskError):
    status_code = 404
    user_message = "Zendesk could not find this; it may have been deleted or merged."


class Conflict(ZendeskError):
    status_code = 409
    user_message = (
        "Someone else changed this ticket since you opened it. Reload to see their changes, "
        "then apply yours again."
    )


class Invalid(ZendeskError):
    """422: Zendesk refused the record; `details` maps each field to its messages."""

    status_code = 422
    user_message = "Zendesk refused the change."

    def __init__(
        self, message: str | None = None, *, details: dict[str, list[str]] | None = None
    ) -> None:
        self.details: dict[str, list[str]] = details or {}
        if message is None and self.details:
            message = "Zendesk refused the change: " + "; ".join(
                text for texts in self.details.values() for text in texts
            )
        super().__init__(message)


class RateLimited(ZendeskError):
    """429 from Zendesk; `retry_after` is seconds to wait when Zendesk said so."""

    status_code = 429
    user_message = "Zendesk is busy for your team right now. Please try again in a minute."

    def __init__(self, message: str | None = None, *, retry_after: float | None = None) -> None:
        self.retry_after = retry_after
        if message is None and retry_after is not None:
            message = f"Zendesk asks to wait {retry_after:g} s before the next request."
        super().__init__(message)


class UpstreamUnavailable(ZendeskError):
    """Timeouts, refused connections and 5xx answers that outlived the retries.

    `may_have_arrived` says whether Zendesk may have received (and carried out) the request:
    False only when no attempt got further than opening the connection or was answered 503
    (refused before any work). A write that failed with it True may have happened.
    """

    user_message = "Zendesk is not answering right now. Please try again in a moment."

    def __init__(
        self,
        message: str | None = None,
        *,
        status_code: int | None = None,
        may_have_arrived: bool = True,
    ) -> None:
        super().__init__(message, status_code=status_code)
        self.may_have_arrived = may_have_arrived


class ZendeskUnavailable(UpstreamUnavailable):
    """Zendesk could not answer and there is no saved copy to show instead (the response cache
    raises it; `reason` is a key of STALE_MESSAGES)."""

    user_message = (
        "Zendesk is not answering and there is no saved copy of this page yet. "
        "Please try again in a minute."
    )

    def __init__(self, reason: str, *, retry_after: float | None = None) -> None:
        self.reason = reason
        self.retry_after = retry_after
        because = STALE_MESSAGES.get(reason, STALE_MESSAGES["upstream_unavailable"])
        message = f"{because} There is no saved copy of this yet; please try again in a minute."
        super().__init__(message)
        # What failed, as the agent reads it: a 429 or an unreadable answer is not "Zendesk is
        # not answering" (the class's sentence), and the agent should be told which it was.
        self.user_message = message


class PaginationTooDeep(ZendeskError):
    """400 InvalidPaginationDepth: offset pagination stops at 10,000 records; use a cursor (or a
    narrower list) to go further.

    https://developer.zendesk.com/api-reference/introduction/pagination/#using-offset-pagination
    """

    status_code = 400
    user_message = (
        "Zendesk shows at most the first 10,000 tickets of a list page by page. "
        "Narrow the list or sort it the other way to reach the rest."
    )


class OutcomeUnknown(UpstreamUnavailable):
    """A write was sent but its answer was lost (timed out, 504, or unreadable): Zendesk may
    have made the change. Never retried blindly; the caller reads the record to find out."""

    user_message = "Zendesk did not confirm the change in time; it may or may not have happened."


class PayloadTooLarge(ZendeskError):
    """413: the file is larger than Zendesk takes as an attachment.

    https://support.zendesk.com/hc/en-us/articles/4408832757146
    """

    status_code = 413
    user_message = "The file is larger than Zendesk accepts as an attachment."


class InvalidResponse(ZendeskError):
    """Zendesk (or something in front of it) answered with a body that is not the JSON we expect."""

    user_message = "Zendesk sent an answer we could not read. Please try again in a moment."


class SessionExpired(Unauthorized):
    """The agent's tokens are gone (refresh refused or signed out): they must sign in again."""


class RateBudgetExhausted(ZendeskError):
    """Raised by the team's rate budget (inbox.zendesk.budget) before a call is made."""

    user_message = (
        "Your team has used its share of Zendesk requests for this minute. "
        "Please try again shortly."
    )

    def __init__(
        self,
        message: str | None = None,
        *,
        retry_after: float | None = None,
        zendesk_asked: bool = False,
    ) -> None:
        self.retry_after = retry_after
        # True while the team waits out Zendesk's own Retry-After (a 429), so the agent is told
        # that Zendesk asked to slow down, not that the team spent its own share.
        self.zendesk_asked = zendesk_asked
        super().__init__(message)


def invalid_details(body: Any) -> dict[str, list[str]]:
    """Turn a 422 body's `details: {field: [{description}]}` into `{field: [sentence]}`."""
    if not isinstance(body, dict) or not isinstance(body.get("details"), dict):
        return {}
    details: dict[str, list[str]] = {}
    for field, entries in body["details"].items():
        entries = entries if isinstance(entries, list) else [entries]
        details[str(field)] = [
            str(entry.get("description", entry)) if isinstance(entry, dict) else str(entry)
            for entry in entries
        ]
    return details
