"""The account's custom ticket fields, and each ticket's values for them.

Accounts with ticket fields answer `custom_fields` and `fields` on every ticket as
`[{id, value}]`, one entry per field, `value` null when unset (recorded from real accounts):
https://developer.zendesk.com/api-reference/ticketing/tickets/tickets/#json-format

The sandbox's account has one field of each type agents fill in, fixed so that every seed has
them. Drop-downs, multi-selects and checkboxes keep their values as tags on the ticket, as
Zendesk's do (see `custom_field_options` and `tag` in
https://developer.zendesk.com/api-reference/ticketing/tickets/ticket_fields/), so their values
follow from the ticket's tags; the others are stored on the ticket (`Ticket.custom_values`).
Unset fields read null (a checkbox reads false). POST /_sandbox/hostile sets the text
fields' values and renames fields and options through `FieldLabel` rows, as an admin may.

Setting values: `custom_fields: [{id, value}]` on create and update
(https://developer.zendesk.com/api-reference/ticketing/tickets/tickets/#setting-custom-field-values).
A value the field cannot take is refused with 422 RecordInvalid. No recorded body shows where
Zendesk puts a custom field's problem, so the sandbox reports it under `base`, each sentence
starting with the field's title as Zendesk's custom field messages do ("About: is required
when solving a ticket", https://github.com/zendesk/zendesk_api_client_rb/issues/317).

GET /api/v2/ticket_fields lists them:
https://developer.zendesk.com/api-reference/ticketing/tickets/ticket_fields/#list-ticket-fields
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any

PRODUCT_AREA_ID = 360000300001
ORDER_NUMBER_ID = 360000300002
STEPS_ID = 360000300003
SEATS_ID = 360000300004
REFUND_ID = 360000300005
ESCALATED_ID = 360000300006
FOLLOW_UP_ID = 360000300007
PLATFORMS_ID = 360000300008
CONTRACT_ID = 360000300009
CREATED_AT = dt.datetime(2023, 9, 9, 23, 52, 5, tzinfo=dt.UTC)
MAX_TEXT = 65_535
TAG_TYPES = ("tagger", "multiselect", "checkbox")
INTEGER = re.compile(r"-?[0-9]{1,15}")
DECIMAL = re.compile(r"-?[0-9]{1,15}(\.[0-9]{1,10})?")


@dataclass(frozen=True)
class Option:
    id: int
    name: str
    value: str  # the tag the option puts on a ticket


@dataclass(frozen=True)
class TicketField:
    id: int
    type: str  # text, textarea, integer, decimal, checkbox, date, tagger, multiselect, regexp
    title: str
    description: str
    position: int
    options: tuple[Option, ...] = ()
    tag: str | None = None  # a checkbox's tag
    regexp: str | None = None  # a regexp field's pattern, as Zendesk lists it (Ruby syntax)

    def value_for(self, tags: list[str], stored: dict[str, Any] | None = None) -> Any:
        """The ticket's value: from its tags for tag-kept fields, else as stored (or null)."""
        if self.type == "tagger":
            return next((option.value for option in self.options if option.value in tags), None)
        if self.type == "multiselect":
            chosen = [option.value for option in self.options if option.value in tags]
            return chosen or None
        if self.type == "checkbox":
            return self.tag in tags
        return (stored or {}).get(str(self.id))

    def option_tags(self) -> set[str]:
        if self.type == "checkbox":
            return {self.tag} if self.tag else set()
        return {option.value for option in self.options}


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
    TicketField(
        id=STEPS_ID,
        type="textarea",
        title="Steps to reproduce",
        description="What the customer did before the problem appeared",
        position=3,
    ),
    TicketField(
        id=SEATS_ID,
        type="integer",
        title="Seats affected",
        description="How many of the customer's seats are affected",
        position=4,
    ),
    TicketField(
        id=REFUND_ID,
        type="decimal",
        title="Refund amount",
        description="The amount to refund, in the customer's currency",
        position=5,
    ),
    TicketField(
        id=ESCALATED_ID,
        type="checkbox",
        title="Escalated to engineering",
        description="Engineering is looking into it",
        position=6,
        tag="escalated_engineering",
    ),
    TicketField(
        id=FOLLOW_UP_ID,
        type="date",
        title="Follow-up date",
        description="When to get back to the customer",
        position=7,
    ),
    TicketField(
        id=PLATFORMS_ID,
        type="multiselect",
        title="Affected platforms",
        description="Where the customer sees the problem",
        position=8,
        options=(
            Option(360000310011, "Web", "platform_web"),
            Option(360000310012, "iOS", "platform_ios"),
            Option(360000310013, "Android", "platform_android"),
        ),
    ),
    TicketField(
        id=CONTRACT_ID,
        type="regexp",
        title="Contract code",
        description="Two capital letters, a dash and four digits (AB-1234)",
        position=9,
        regexp="\\A[A-Z]{2}-[0-9]{4}\\z",
    ),
)
FIELDS_BY_ID = {field.id: field for field in TICKET_FIELDS}


def ticket_field_values(tags: list[str], stored: dict[str, Any] | None = None) -> list[dict]:
    """`custom_fields` / `fields` of a ticket: every field, in id order."""
    return [{"id": field.id, "value": field.value_for(tags, stored)} for field in TICKET_FIELDS]


# -- setting values ---------------------------------------------------------------------------
@dataclass
class CustomFieldWrite:
    """What `custom_fields: [{id, value}]` does to a ticket: its tags and stored values after,
    and the sentences refusing it (field detail name -> sentences)."""

    tags: list[str]
    stored: dict[str, Any]
    problems: list[tuple[str, str]]


def _python_pattern(ruby: str) -> re.Pattern[str]:
    """Zendesk's patterns are Ruby's: \\A and \\z anchor the whole value."""
    return re.compile(ruby.replace("\\A", "^").replace("\\z", "$"))


def _checked_value(field: TicketField, value: Any) -> tuple[Any, str | None]:
    """(the value to keep, or a sentence saying why the field cannot take it)."""
    title = field.title
    if value is None or value == "" or (value == [] and field.type == "multiselect"):
        return None, None
    if field.type == "checkbox":
        if isinstance(value, bool):
            return value, None
        return None, f"{title}: must be true or false"
    if field.type == "tagger":
        if isinstance(value, str) and value in field.option_tags():
            return value, None
        return None, f"{title}: {str(value)[:80]!r} is not one of its options"
    if field.type == "multiselect":
        values = value if isinstance(value, list) else [value]
        if all(isinstance(each, str) and each in field.option_tags() for each in values):
            return values, None
        return None, f"{title}: {str(value)[:80]!r} is not among its options"
    if isinstance(value, int | float) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str):
        return None, f"{title}: must be text"
    if len(value) > MAX_TEXT:
        return None, f"{title}: is too long (maximum is {MAX_TEXT} characters)"
    if field.type == "integer" and not INTEGER.fullmatch(value.strip()):
        return None, f"{title}: must be a whole number"
    if field.type == "decimal" and not DECIMAL.fullmatch(value.strip()):
        return None, f"{title}: must be a number"
    if field.type == "date":
        try:
            return dt.date.fromisoformat(value.strip()).isoformat(), None
        except ValueError:
            return None, f"{title}: must be a date like 2026-01-31"
    if field.type == "regexp" and not _python_pattern(field.regexp or "").fullmatch(value):
        return None, f"{title}: is invalid"
    return value.strip() if field.type in ("integer", "decimal") else value, None


def custom_fields_write(raw: Any, *, tags: list[str], stored: dict[str, Any]) -> CustomFieldWrite:
    """Apply `custom_fields: [{id, value}]` to a ticket's tags and stored values."""
    write = CustomFieldWrite(tags=list(tags), stored=dict(stored), problems=[])
    if not isinstance(raw, list) or not all(isinstance(entry, dict) for entry in raw):
        write.problems.append(("custom_fields", "Custom fields: must be a list of {id, value}"))
        return write
    for entry in raw:
        field_id = entry.get("id")
        field = FIELDS_BY_ID.get(field_id) if isinstance(field_id, int) else None
        if field is None and isinstance(field_id, str) and field_id.isdigit():
            field = FIELDS_BY_ID.get(int(field_id))
        if field is None:
            write.problems.append(("base", f"Field {str(field_id)[:40]}: is not a ticket field"))
            continue
        value, problem = _checked_value(field, entry.get("value"))
        if problem is not None:
            write.problems.append(("base", problem))
            continue
        _set(write, field, value)
    return write


def _set(write: CustomFieldWrite, field: TicketField, value: Any) -> None:
    if field.type not in TAG_TYPES:
        if value is None:
            write.stored.pop(str(field.id), None)
        else:
            write.stored[str(field.id)] = value
        return
    mine = field.option_tags()
    write.tags = [tag for tag in write.tags if tag not in mine]
    if field.type == "checkbox":
        chosen = [field.tag] if value and field.tag else []
    else:
        chosen = [] if value is None else ([value] if isinstance(value, str) else list(value))
    write.tags += [tag for tag in chosen if tag not in write.tags]


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
    field: TicketField,
    *,
    base_url: str,
    timestamp: str,
    labels: dict[str, str],
    required: bool = False,
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
        "required": required,
        "collapsed_for_agents": False,
        "regexp_for_validation": field.regexp,
        "title_in_portal": title,
        "raw_title_in_portal": title,
        "visible_in_portal": False,
        "editable_in_portal": False,
        "required_in_portal": False,
        "tag": field.tag,
        "created_at": timestamp,
        "updated_at": timestamp,
        "removable": True,
        "key": None,
        "agent_description": None,
    }
    if field.type in ("tagger", "multiselect"):
        body["custom_field_options"] = [_option_json(option, labels) for option in field.options]
    return body
