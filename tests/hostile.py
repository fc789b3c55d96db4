"""Hostile ticket content, for every test that shows Zendesk's data in a page.

Anyone who can email a Zendesk account can choose a ticket's subject, their own name and the
text of a comment; agents and triggers choose tags. Each string below is something a page must
show as text (or, for an html_body, sanitize) without running it. A script that ran leaves a
trace: `MARKER` in a dialog, the console or the DOM (`window.__hostile_ran`, an element with
id `HOSTILE_ID`), which the browser tests look for.

    from tests.hostile import CORPUS, HTML_BODY, hostile_ticket
"""

from __future__ import annotations

from typing import Any

import requests

MARKER = "HOSTILE-RAN"
HOSTILE_ID = "hostile-injected"
RUN = f"console.log('{MARKER}');window.__hostile_ran=1;alert('{MARKER}')"

SCRIPT_TAG = f"<script>{RUN}</script>"
EVENT_ATTRIBUTE = f'<img src="x" onerror="{RUN}">'
SVG_ONLOAD = f'<svg onload="{RUN}"></svg>'
JAVASCRIPT_LINK = f'<a href="javascript:{RUN}">click me</a>'
INJECTED_ELEMENT = f'<div id="{HOSTILE_ID}">injected</div>'
BREAKOUT = f'"><script>{RUN}</script><input value="'
IFRAME = f'<iframe src="javascript:{RUN}"></iframe>'

# Each as it could be a subject, a name, a tag or a comment's text.
CORPUS = (
    SCRIPT_TAG,
    EVENT_ATTRIBUTE,
    SVG_ONLOAD,
    JAVASCRIPT_LINK,
    INJECTED_ELEMENT,
    BREAKOUT,
    IFRAME,
)

# An html_body with all of them at once (Zendesk's html_body is HTML made from what people
# sent: a comment's body is taken as Markdown/HTML when it is written through the API).
HTML_BODY = (
    "<p>Hello, <strong>please</strong> look.</p>"
    + "".join(CORPUS)
    + f'<p style="background:url(javascript:{RUN})" onclick="{RUN}">styled</p>'
    + f'<form action="javascript:{RUN}"><button>go</button></form>'
)

# Tags are words: the hostile ones are what a tag can carry.
HOSTILE_TAG = "<script>alert(1)</script>"


def hostile_ticket(sandbox: Any, *, agent_email: str, requester_email: str) -> int:
    """A ticket whose subject, requester name, tag and comments are hostile, made through the
    sandbox's API as Zendesk would get it; returns its id."""
    headers = sandbox.basic_auth(agent_email)
    body = {
        "ticket": {
            "subject": SCRIPT_TAG + " " + EVENT_ATTRIBUTE,
            "comment": {"html_body": HTML_BODY, "public": True},
            "requester": {"email": requester_email, "name": BREAKOUT + SVG_ONLOAD},
            "tags": [HOSTILE_TAG, "hostile"],
            "priority": "normal",
        }
    }
    created = requests.post(
        f"{sandbox.base_url}/api/v2/tickets", json=body, headers=headers, timeout=30
    )
    assert created.status_code == 201, created.text[:500]
    ticket_id = created.json()["ticket"]["id"]
    for text in CORPUS:
        answer = requests.put(
            f"{sandbox.base_url}/api/v2/tickets/{ticket_id}",
            json={"ticket": {"comment": {"body": text, "public": False}}},
            headers=headers,
            timeout=30,
        )
        assert answer.status_code == 200, answer.text[:500]
    return ticket_id
