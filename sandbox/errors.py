"""Zendesk's error bodies, as recorded from real accounts by public client libraries.

Where no body is recorded for a case, Zendesk's general shape
`{"error": "<Code>", "description": "<sentence>"}` is used (the 400 range of
https://developer.zendesk.com/api-reference/introduction/requests/).
"""

from __future__ import annotations

from typing import Any

from django.http import JsonResponse


class ApiError(Exception):
    """Raised anywhere in a sandbox view; rendered as Zendesk would render it."""

    def __init__(self, status: int, body: dict[str, Any], headers: dict[str, str] | None = None):
        super().__init__(f"{status} {body}")
        self.status = status
        self.body = body
        self.headers = headers or {}

    def response(self) -> JsonResponse:
        response = JsonResponse(self.body, status=self.status)
        for name, value in self.headers.items():
            response[name] = value
        return response


def bad_request(code: str, description: str) -> ApiError:
    # No recorded body for most 400s: Zendesk's general shape.
    return ApiError(400, {"error": code, "description": description})


def unauthorized() -> ApiError:
    return ApiError(
        401,
        {"error": "Couldn't authenticate you"},
        {"WWW-Authenticate": 'Basic realm="Web Password"'},
    )


def forbidden() -> ApiError:
    return ApiError(
        403,
        {
            "error": {
                "title": "Forbidden",
                "message": "You do not have access to this page. Please contact the account "
                "owner of this help desk for further help.",
            }
        },
    )


def not_found() -> ApiError:
    return ApiError(404, {"error": "RecordNotFound", "description": "Not found"})


def invalid_endpoint() -> ApiError:
    return ApiError(404, {"error": "InvalidEndpoint", "description": "Not found"})


def conflict() -> ApiError:
    # No recorded body for a safe-update 409; Zendesk's conflict body as a client library met
    # it (https://github.com/zendesk/zendesk_api_client_php/issues/314).
    return ApiError(409, {"error": "DatabaseConflict", "description": "Database collision"})


def record_invalid(details: dict[str, list[str | dict[str, str]]]) -> ApiError:
    """Zendesk's 422: each detail a `{"description"}` (or a ready entry with its `error`)."""
    return ApiError(
        422,
        {
            "error": "RecordInvalid",
            "description": "Record validation errors",
            "details": {
                field: [
                    message if isinstance(message, dict) else {"description": message}
                    for message in messages
                ]
                for field, messages in details.items()
            },
        },
    )


def too_many_values(max_count: int = 100) -> ApiError:
    return ApiError(
        400,
        {
            "error": "TooManyValues",
            "description": "Parameter  cannot specify more than 100 values",
            "max_count": max_count,
        },
    )


def invalid_pagination_depth() -> ApiError:
    return ApiError(
        400,
        {
            "errors": [
                {
                    "code": "InvalidPaginationDepth",
                    "title": "Pagination requests using Offset Pagination are limited",
                }
            ]
        },
    )


def invalid_pagination_parameter(title: str) -> ApiError:
    """Cursor pagination's 400, in the `errors` list shape of Zendesk's OpenAPI description:
    https://developer.zendesk.com/api-reference/introduction/pagination/#using-cursor-pagination
    """
    return ApiError(400, {"errors": [{"code": "InvalidPaginationParameter", "title": title}]})
