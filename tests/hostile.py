"""Hostile ticket content, for every test that shows Zendesk's data in a page.

Anyone who can email a Zendesk account can choose a ticket's subject, their own name and the
text of a comment; agents and triggers choose tags. Each string below is something a page must
show as text (or, for an html_body, sanitize) without running it. A script that ran leaves a
trace: `MARKER` in a dialog, the console or the DOM (`window.__hostile_ran`, an element with
id `HOSTILE_ID`), which the browser tests look for.

    from tests.hostile import CORPUS, HTML_BODY, hostile_ticket

`PAYLOADS` grows CORPUS into the whole corpus the XSS sweep places everywhere through the
sandbox (`place_everywhere`), and `dom_problems` reads a page as a browser's parser would and
names every element or attribute that could run or load something content put there.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from html.parser import HTMLParser
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

# What `{{ }}` would give if a template engine ran it: the page must show the braces.
TEMPLATE_INJECTION = "{{ 7|add:7 }} {% now 'Y' %} {{request.session}} ${7*7} #{7*7} {{constructor.constructor('HOSTILE')()}}"
LONG = "hostile-long " + "W" * 10_000 + SCRIPT_TAG

# Everything a person can type where a page later shows it. Each would run `RUN`, load
# something, or swap content in if a page treated it as markup.
PAYLOADS = (
    *CORPUS,
    f"<img src=x onerror={RUN}>",
    f"<svg><script>{RUN}</script></svg>",
    f'<svg><a xlink:href="javascript:{RUN}"><text x="20" y="20">hostile svg link</text></a></svg>',
    f"<math><mtext><table><mglyph><style><img src=x onerror={RUN}>",
    f'<math href="javascript:{RUN}">hostile math</math>',
    f'<noscript><p title="</noscript><img src=x onerror={RUN}>">',
    f'<a href="JaVaScRiPt&colon;{RUN}">hostile entity link</a>',
    f'<a href=" &#14;  javascript:{RUN}">hostile spaced link</a>',
    '<a href="data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==">hostile data link</a>',
    f'"><img src=x onerror={RUN}>',
    f"'><img src=x onerror={RUN}>",
    f'" onmouseover="{RUN}" data-hostile="',
    f"' autofocus onfocus='{RUN}' x='",
    f"</textarea><script>{RUN}</script>",
    f"</title><script>{RUN}</script>",
    f"--><script>{RUN}</script><!--",
    f"</script><script>{RUN}</script>",
    f"';{RUN};//",
    f'<details open ontoggle="{RUN}">hostile details</details>',
    f'<input autofocus onfocus="{RUN}" value="hostile input">',
    f'<video><source onerror="{RUN}"></video>',
    f'<body onload="{RUN}">',
    f'<form action="javascript:{RUN}"><button>hostile form</button></form>',
    f'<object data="javascript:{RUN}"></object><embed src="javascript:{RUN}">',
    '<meta http-equiv="refresh" content="0;url=https://evil.example/hostile">',
    '<base href="https://evil.example/hostile/">',
    '<link rel="stylesheet" href="https://evil.example/hostile.css">',
    TEMPLATE_INJECTION,
    # htmx would act on any of these if they reached the DOM as markup.
    '<div hx-get="/hostile" hx-trigger="load" hx-target="body" hx-swap="outerHTML">hostile hx</div>',
    '<div data-hx-get="/hostile" data-hx-trigger="load">hostile data-hx</div>',
    f'<button hx-on:click="{RUN}" hx-on="click: {RUN}">hostile hx-on</button>',
    f'<div hx-vals=\'js:{{a: {RUN}}}\' hx-post="/hostile" hx-trigger="load">hostile hx-vals</div>',
    '<a hx-boost="true" hx-headers=\'{"X-Hostile": "1"}\' href="/hostile">hostile boost</a>',
    # CSS that loads or runs something.
    f"<style>body{{background:url('javascript:{RUN}')}} *{{color:red}}</style>",
    f'<div style="background-image:url(javascript:{RUN});width:expression({RUN})">hostile style</div>',
    "</style><img src=x onerror=alert('HOSTILE-RAN')>",
    # Unicode that turns text around or hides in it.
    "hostile \u202etxt.exe\u202c invoice \u200b<scr\u200bipt>\u200d\ufeff\u2028\u2029 end",
    "\u05e9\u05dc\u05d5\u05dd hostile \u202b<b>rtl</b>\u202c \U0001f600 & <3 \"quotes\" 'apos'",
    LONG,
    # Markdown-ish links: text, never links.
    f'[hostile click](javascript:{RUN}) ![x](x" onerror="{RUN}) <javascript:{RUN}>',
    "[hostile data](data:text/html,<script>alert('HOSTILE-RAN')</script>)",
    # A harmless link and formatting: what a sanitized html_body keeps.
    '<p>hostile <strong>bold</strong> <a href="https://example.com/help" target="_blank">help</a></p>',
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


# -- placing the corpus, and reading pages for what it could have done ------------------------
def place_everywhere(sandbox: Any, strings: tuple[str, ...] = PAYLOADS) -> dict[str, int]:
    """Put the strings in every place a person can write (POST /_sandbox/hostile): subjects,
    descriptions, comments (body and raw html_body), every user's name, groups, organizations,
    tags, custom fields, activity titles, file names. Returns how many rows took one."""
    answer = sandbox.control("POST", "hostile", json={"strings": list(strings)})
    assert answer.status_code == 200, answer.text[:500]
    sandbox.info = sandbox.control("GET", "").json()  # the agents' names changed too
    return answer.json()["placed"]


# Attributes whose value a browser loads or follows as a URL.
URL_ATTRIBUTES = frozenset(
    {
        "href", "src", "action", "formaction", "data", "poster", "background", "xlink:href",
        "cite", "srcset", "ping", "codebase", "manifest", "lowsrc", "dynsrc", "longdesc",
    }
)  # fmt: skip
SAFE_SCHEMES = frozenset({"http", "https", "mailto"})
# Elements that run, embed or restyle something, which no page of the app makes itself.
NEVER_ELEMENTS = frozenset(
    {
        "iframe", "frame", "frameset", "object", "embed", "applet", "svg", "math", "base",
        "style", "video", "audio", "source", "noscript", "portal", "template",
    }
)  # fmt: skip
# Attributes shown to people (or to the desktop notification) as text.
TEXT_ATTRIBUTES = frozenset(
    {"title", "aria-label", "alt", "value", "placeholder", "data-title", "data-body", "data-label"}
)
VOID_ELEMENTS = frozenset(
    {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "wbr"}
)
# Characters a browser drops or ignores before reading a URL's scheme.
_IGNORED_IN_SCHEME = re.compile(r"[\x00-\x20\x7f-\x9f\u200b-\u200f\u2028\u2029\ufeff]")
_SCHEME = re.compile(r"^([a-z][a-z0-9+.\-]*):")


def url_scheme(value: str) -> str | None:
    """The scheme a browser would read in `value` (entities are already decoded by the parser),
    or None for a relative URL."""
    found = _SCHEME.match(_IGNORED_IN_SCHEME.sub("", value).lower())
    return found.group(1) if found else None


@dataclass
class ParsedPage:
    """A page as Python's HTML parser reads it: every problem content could have caused, the
    text a person reads, and text attributes (titles, labels, values)."""

    problems: list[str] = field(default_factory=list)
    text: list[str] = field(default_factory=list)
    attribute_text: list[str] = field(default_factory=list)
    # Elements inside a sanitized html_body (`.comment-html`): (tag, {attribute: value}).
    sanitized: list[tuple[str, dict[str, str]]] = field(default_factory=list)

    def shows(self, payload: str) -> bool:
        """Whether `payload` appears whole, as text (in the page or in a text attribute)."""
        return payload in self.joined_text or any(payload in v for v in self.attribute_text)

    @property
    def joined_text(self) -> str:
        return "".join(self.text)


class _Reader(HTMLParser):
    def __init__(self, page: ParsedPage) -> None:
        super().__init__(convert_charrefs=True)
        self.page = page
        self.raw_text_depth = 0
        self.sanitized_depth = 0  # open elements inside a `.comment-html`

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        pairs = [(name.lower(), value or "") for name, value in attrs]
        self._check(tag, pairs)
        if tag in ("script", "style"):
            self.raw_text_depth += 1
        if self.sanitized_depth:
            self.page.sanitized.append((tag, dict(pairs)))
            if tag not in VOID_ELEMENTS:
                self.sanitized_depth += 1
        elif tag == "div" and "comment-html" in dict(pairs).get("class", "").split():
            self.sanitized_depth = 1

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        pairs = [(name.lower(), value or "") for name, value in attrs]
        self._check(tag, pairs)
        if self.sanitized_depth:
            self.page.sanitized.append((tag, dict(pairs)))

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style") and self.raw_text_depth:
            self.raw_text_depth -= 1
        if self.sanitized_depth and tag not in VOID_ELEMENTS:
            self.sanitized_depth -= 1

    def handle_data(self, data: str) -> None:
        if self.raw_text_depth:
            if data.strip():
                self.page.problems.append(f"inline script or style: {data[:80]!r}")
            return
        self.page.text.append(data)

    def handle_comment(self, data: str) -> None:
        if MARKER in data or "hostile" in data.lower():
            self.page.problems.append(f"content inside an HTML comment: {data[:80]!r}")

    def _check(self, tag: str, attrs: list[tuple[str, str]]) -> None:
        problem = self.page.problems.append
        named = dict(attrs)
        if tag in NEVER_ELEMENTS and not _app_icon(tag, named):
            problem(f"<{tag}> element")
        if tag == "script" and not (
            named.get("src", "").startswith("/static/") and "nonce" in named
        ):
            problem(f"<script> that is not the app's own: {attrs}")
        if tag == "meta" and "http-equiv" in named:
            problem(f"<meta http-equiv>: {attrs}")
        if tag == "link" and not named.get("href", "").startswith("/static/"):
            problem(f"<link> to elsewhere: {attrs}")
        if named.get("id") == HOSTILE_ID:
            problem(f"the injected element #{HOSTILE_ID}")
        for name, value in attrs:
            self._check_attribute(tag, name, value)

    def _check_attribute(self, tag: str, name: str, value: str) -> None:
        problem = self.page.problems.append
        if name in TEXT_ATTRIBUTES:
            self.page.attribute_text.append(value)
        if name.startswith("on"):
            problem(f"<{tag} {name}=...>: an event handler")
        elif name in URL_ATTRIBUTES and url_scheme(value) not in (None, *SAFE_SCHEMES):
            problem(f"<{tag} {name}={value[:60]!r}>: a {url_scheme(value)}: URL")
        elif tag == "img" and name == "src" and not value.startswith(("/", "http://", "https://")):
            problem(f"<img src={value[:60]!r}>: an image content put there")
        elif name.startswith("data-hx-") or name.startswith("hx-on"):
            problem(f"<{tag} {name}=...>: htmx markup no template writes")
        elif name.startswith("hx-") and (MARKER in value or "hostile" in value.lower()):
            problem(f"<{tag} {name}={value[:60]!r}>: htmx acting on content")
        elif name in ("hx-vals", "hx-vars", "hx-headers") and "js:" in value.replace(" ", ""):
            problem(f"<{tag} {name}=...>: htmx evaluating script")
        elif name == "style" and ("url(" in value or "expression" in value):
            problem(f"<{tag} style={value[:60]!r}>: a style that loads or runs")
        elif name in ("data-hostile", "x"):
            problem(f"<{tag} {name}>: an attribute content broke out into")


def _app_icon(tag: str, named: dict[str, str]) -> bool:
    """The app's own inline icons: decorative svgs, hidden from assistive technology."""
    return tag == "svg" and named.get("aria-hidden") == "true" and named.get("focusable") == "false"


def parse_page(html: str) -> ParsedPage:
    """Read `html` as a browser's parser would (entities decoded, raw-text elements kept
    whole) and note every element or attribute that content could have made dangerous."""
    page = ParsedPage()
    reader = _Reader(page)
    reader.feed(html)
    reader.close()
    return page
