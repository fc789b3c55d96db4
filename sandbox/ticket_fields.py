"""The account's custom ticket fields, and each ticket's values for them.

Accounts with ticket fields answer `custom_fields` and `fields` on every ticket as
`[{id, value}]`, one entry per field, `value` null when unset (recorded from real accounts):
https://developer.zendesk.com/api-reference/ticketing/tickets/tickets/#json-format

The sandbox's account has two fields, fixed so that every seed has them (the recorded
account has two). A drop-down keeps its value as a tag on the ticket, as Zendesk's do (see
`custom_field_options` in https://developer.zendesk.com/api-reference/ticketing/tickets/ticket_fields/),
so its value follows from the ticket's tags and needs no storage of its own. The text field
is never set by the seed, so it reads null, as an unused field does on Zendesk (only
POST /_sandbox/hostile sets it, in `Ticket.text_field_values`, and renames fields and options
through `FieldLabel` rows, as an admin may). No checkbox:
the OpenAPI description types values as string or null, and no recording shows a checkbox's.

GET /api/v2/ticket_fields lists them:
https://developer.zendesk.com/api-reference/ticketing/tickets/ticket_fields/#list-ticket-fields
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

PRODUCT_AREA_ID = 360000300001
ORDER_NUMBER_ID = 360000300002
CREATED_AT = dt.datetime(2023, 9, 9, 23, 52, 5, tzinfo=dt.UTC)


@dataclass(frozen=True)
class Option:
    id: int
    name: str
    value: str  # the tag the option puts on a ticket


@dataclass(frozen=True)
class TicketField:
    id: int
    type: str  # "tagger" (drop-down) or "text"
    title: str
    description: str
    position: int
    options: tuple[Option, ...] = ()

    def value_for(self, tags: list[str], texts: dict[str, str]) -> str | None:
        """The ticket's value: a drop-down's option tag when the ticket has it, a text field's
        text when set, else null."""
        if self.type == "tagger":
            return next((option.value for option in self.options if option.value in tags), None)
        return texts.get(str(self.id))


TICKET_FIELDS = (
    TicketField(
        id=PRODUCT_AREA_ID,
        type="tagger",
        title="Product area",
        description="Which part of the product the request is about",
        position=1,
        options=(
            Option(360000310001, "Billing", "billing"),
            Option(360000310002, "Mobile apps", "mobile"),
            Option(360000310003, "API and webhooks", "api"),
            Option(360000310004, "Single sign-on", "sso"),
        ),
    ),
    TicketField(
        id=ORDER_NUMBER_ID,
        type="text",
        title="Order number",
        description="The customer's order number, if any",
        position=2,
    ),
)


def ticket_field_values(tags: list[str], texts: dict[str, str]) -> list[dict[str, Any]]:
    """`custom_fields` / `fields` of a ticket with these tags and text values: every field,
    in id order."""
    return [{"id": field.id, "value": field.value_for(tags, texts)} for field in TICKET_FIELDS]


def _option_json(option: Option, labels: dict[str, str]) -> dict[str, Any]:
    name = labels.get(f"option:{option.id}", option.name)
    return {
        "id": option.id,
        "name": name,
        "raw_name": name,
        "value": option.value,
        "default": False,
    }


def ticket_field_json(
    field: TicketField, *, base_url: str, timestamp: str, labels: dict[str, str]
) -> dict[str, Any]:
    """One field as GET /api/v2/ticket_fields lists it; `labels` are the names an admin gave
    (FieldLabel rows by key), the fixed ones otherwise."""
    title = labels.get(f"field:{field.id}", field.title)
    body: dict[str, Any] = {
        "url": f"{base_url}/api/v2/ticket_fields/{field.id}.json",
        "id": field.id,
        "type": field.type,
        "title": title,
        "raw_title": title,
        "description": field.description,
        "raw_description": field.description,
        "position": field.position,
        "active": True,
        "required": False,
        "collapsed_for_agents": False,
        "regexp_for_validation": None,
        "title_in_portal": title,
        "raw_title_in_portal": title,
        "visible_in_portal": False,
        "editable_in_portal": False,
        "required_in_portal": False,
        "tag": None,
        "created_at": timestamp,
        "updated_at": timestamp,
        "removable": True,
        "key": None,
        "agent_description": None,
    }
    if field.type == "tagger":
        body["custom_field_options"] = [_option_json(option, labels) for option in field.options]
    return body
