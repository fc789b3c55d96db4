"""The sandbox's seeded account: a support team with three months of believable work.

`seed_account` wipes the database and builds everything from one `random.Random(seed)` so a
seed always gives the same people, tickets and conversations (dates are relative to `now`).
Rows are written with `bulk_create` in one transaction: 600 tickets seed in about 2 s, which
keeps `POST /_sandbox/reset` usable between tests.
"""

from __future__ import annotations

import datetime as dt
import json
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import transaction

from sandbox import photos
from sandbox.models import (
    Activity,
    Audit,
    Comment,
    CustomStatus,
    FieldLabel,
    Group,
    IdempotencyRecord,
    OAuthClient,
    OAuthGrant,
    OAuthToken,
    Organization,
    RecentView,
    RequiredField,
    Ticket,
    User,
)
from sandbox.uploads import seed_attachments
from sandbox.visibility import visible_tickets

# Zendesk-like large ids, one range per kind, so ids never collide and read like real ones.
USER_ID_BASE = 381_000_000_000
ORGANIZATION_ID_BASE = 372_000_000_000
GROUP_ID_BASE = 360_000_100_000
CUSTOM_STATUS_ID_BASE = 360_000_200_000
COMMENT_ID_BASE = 900_000_000_000
AUDIT_ID_BASE = 910_000_000_000
ACTIVITY_ID_BASE = 920_000_000_000

HISTORY_DAYS = 90
ACTIVITY_DAYS = 30
# Closed tickets untouched for this long are archived (Zendesk archives after 120 days; the
# sandbox's history is 90 days, so it archives earlier to have some).
ARCHIVE_AFTER_DAYS = 72
SYSTEM_NAME = "Zendesk"

FIRST_NAMES = [
    "Ana", "Tedd", "Priya", "Marcus", "Sofia", "Kenji", "Amara", "Lucas", "Ingrid", "Omar",
    "Chloe", "Diego", "Hana", "Jonas", "Leila", "Mateo", "Nadia", "Oscar", "Paula", "Quentin",
    "Rosa", "Samir", "Tara", "Umar", "Vera", "Wei", "Ximena", "Yusuf", "Zoe", "Bruno",
    "Clara", "Dmitri", "Elena", "Farid", "Greta", "Hugo", "Irene", "Jamal", "Kira", "Liam",
]  # fmt: skip
LAST_NAMES = [
    "Silva", "Okafor", "Nakamura", "Schmidt", "Rossi", "Kowalski", "Haddad", "Larsen", "Moreau",
    "Fischer", "Novak", "Costa", "Ibrahim", "Jensen", "Kim", "Lopez", "Mensah", "Nguyen",
    "Oliveira", "Petrov", "Quinn", "Reyes", "Sato", "Tanaka", "Ueda", "Varga", "Walsh", "Young",
    "Zhang", "Andersen", "Becker", "Cruz", "Duarte", "Evans", "Ferreira", "Garcia", "Horvat",
    "Ito", "Jovanovic", "Keller",
]  # fmt: skip
TIME_ZONES = [
    ("Pacific Time (US & Canada)", "America/Los_Angeles"),
    ("Eastern Time (US & Canada)", "America/New_York"),
    ("London", "Europe/London"),
    ("Berlin", "Europe/Berlin"),
    ("Moscow", "Europe/Moscow"),
    ("New Delhi", "Asia/Kolkata"),
    ("Tokyo", "Asia/Tokyo"),
    ("Sydney", "Australia/Sydney"),
    ("Brasilia", "America/Sao_Paulo"),
    ("UTC", "Etc/UTC"),
]
GROUP_NAMES = ["Support", "Billing"]
ORGANIZATIONS = [
    ("Northwind Traders", "northwind.example.com"),
    ("Globex Corporation", "globex.example.org"),
    ("Initech", "initech.example.net"),
    ("Umbrella Health", "umbrella.example.com"),
    ("Stark Logistics", "starklogistics.example.org"),
]
CUSTOM_STATUSES = [
    ("new", "New", "Ticket is awaiting assignment to an agent", True),
    ("open", "Open", "Staff is working on the ticket", True),
    ("open", "Waiting on engineering", "Escalated to the engineering team", False),
    ("open", "Investigating", "An agent is reproducing the problem", False),
    ("pending", "Pending", "Staff is waiting for the requester to reply", True),
    ("pending", "Awaiting customer reply", "We asked the customer for details", False),
    ("hold", "On-hold", "Staff is waiting for a third party", True),
    ("hold", "Waiting on vendor", "A vendor must act before we can", False),
    ("solved", "Solved", "The ticket has been solved", True),
]
END_USER_LABELS = {
    "new": "Open",
    "open": "Open",
    "pending": "Awaiting your reply",
    "hold": "Open",
    "solved": "Solved",
}

PRODUCTS = [
    "Billing portal", "Mobile app", "Web dashboard", "Reports", "API", "SSO login", "Invoices",
    "Data export", "Team inbox", "Calendar sync", "Slack integration", "Android app",
    "iOS app", "Checkout", "Password reset", "Webhooks",
]  # fmt: skip
PROBLEMS = [
    "not loading", "shows a blank page", "times out", "gives error 500 on save", "charged us twice",
    "is missing data", "is very slow", "sends duplicate emails", "keeps logging me out",
    "shows wrong totals", "is stuck on a spinner", "rejects a valid address",
]  # fmt: skip
SINCE = ["this morning", "yesterday", "the last update", "Monday", "last week's outage"]
TOPICS = ["pricing", "limits", "permissions", "renewal", "user roles", "data retention"]
TASKS = [
    "add a new admin", "change our billing email", "export last quarter's invoices",
    "reset two-factor authentication", "merge duplicate accounts", "enable SSO",
    "increase our seat count", "set up a webhook", "cancel an order", "update our VAT number",
]  # fmt: skip
SUBJECT_TEMPLATES = [
    "{product} {problem}",
    "{product} {problem} since {since}",
    "Urgent: {product} {problem}",
    "Question about {product} {topic}",
    "How do I {task} in {product}?",
    "Please {task}",
    "{product}: {topic} question",
    "Re: {product} {problem}",
]
OPENINGS = ["Hi there,", "Hello,", "Hi team,", "Good morning,", "Hey support,"]
CONTEXTS = [
    "It started right after we invited three new colleagues.",
    "We tried another browser and cleared the cache, same result.",
    "Our finance team needs this before the end of the month.",
    "This affects everyone in our office, about 40 people.",
    "I attached nothing yet, but I can send screenshots if that helps.",
    "It works on my phone but not on the laptop.",
]
CUSTOMER_REPLIES = [
    "Thanks for the quick answer. I tried that and it still happens.",
    "That worked, thank you!",
    "Here are the steps: log in, open the page, click save. Then the error appears.",
    "Any update on this? Our team is blocked.",
    "We are on the latest version as far as I can tell.",
    "Sorry for the delay, I was out of office. The problem is still there.",
]
AGENT_REPLIES = [
    "Thanks for reaching out. Could you tell me which browser and version you are using?",
    "I have reproduced the issue and passed it to our engineers. I will update you soon.",
    "A fix has been deployed. Could you try again and let me know?",
    "I have made the change on your account. It should take effect within a few minutes.",
    "Could you send us the exact time it happened, with your time zone?",
    "Thanks for your patience. This is now resolved; I will close the ticket in a few days.",
]
INTERNAL_NOTES = [
    "Internal: looks like the same bug as last week's incident. Linking for engineering.",
    "Internal: customer is on the enterprise plan, please prioritise.",
    "Internal: checked the logs, the request times out at the load balancer.",
    "Internal: refund approved by finance.",
]
TAGS_BY_WORD = {
    "Billing": "billing", "Invoices": "billing", "Checkout": "billing", "API": "api",
    "Webhooks": "api", "SSO": "sso", "Mobile": "mobile", "Android": "mobile", "iOS": "mobile",
}  # fmt: skip
STATUS_WEIGHTS_RECENT = {"new": 12, "open": 35, "pending": 16, "hold": 7, "solved": 22, "closed": 8}
STATUS_WEIGHTS_OLD = {"new": 1, "open": 4, "pending": 3, "hold": 2, "solved": 15, "closed": 75}
PRIORITY_WEIGHTS = {None: 8, "low": 20, "normal": 45, "high": 19, "urgent": 8}
TYPE_WEIGHTS = {None: 10, "question": 40, "incident": 25, "problem": 10, "task": 15}
CHANNEL_WEIGHTS = {"web": 40, "email": 40, "api": 10, "chat": 10}


def _pick(rng: random.Random, weights: dict[Any, int]) -> Any:
    return rng.choices(list(weights), weights=list(weights.values()))[0]


@dataclass
class _Build:
    """Rows gathered in memory before one bulk insert per table."""

    rng: random.Random
    now: dt.datetime
    users: list[User] = field(default_factory=list)
    tickets: list[Ticket] = field(default_factory=list)
    comments: list[Comment] = field(default_factory=list)
    audits: list[Audit] = field(default_factory=list)
    ccs: list[tuple[int, int]] = field(default_factory=list)
    follows: list[tuple[int, int]] = field(default_factory=list)
    memberships: list[tuple[int, int]] = field(default_factory=list)
    # (ticket, assigner or None, when) for the assignment activities.
    assignments: list[tuple[Ticket, User | None, dt.datetime]] = field(default_factory=list)
    priority_raises: list[tuple[Ticket, User | None, dt.datetime]] = field(default_factory=list)


def seed_account(*, seed: int, tickets: int, agents: int, now: dt.datetime) -> dict[str, int]:
    """Wipe the sandbox and seed the account; returns how many of each record it made."""
    now = now.astimezone(dt.UTC).replace(microsecond=0)
    build = _Build(rng=random.Random(seed), now=now)
    with transaction.atomic():
        _wipe()
        groups = _groups(now)
        organizations = _organizations(build)
        statuses = _custom_statuses(now)
        team = _agents(build, count=max(agents, 3), groups=groups)
        customers = _end_users(build, organizations)
        User.objects.bulk_create(build.users, batch_size=500)
        User.groups.through.objects.bulk_create(
            [User.groups.through(user_id=u, group_id=g) for u, g in build.memberships]
        )
        for number in range(1, tickets + 1):
            _ticket(build, number, team=team, customers=customers, groups=groups, statuses=statuses)
        _renumber_by_creation(build)
        Ticket.objects.bulk_create(build.tickets, batch_size=500)
        Ticket.email_ccs.through.objects.bulk_create(
            [Ticket.email_ccs.through(ticket_id=t, user_id=u) for t, u in build.ccs]
        )
        Ticket.followers.through.objects.bulk_create(
            [Ticket.followers.through(ticket_id=t, user_id=u) for t, u in build.follows]
        )
        Audit.objects.bulk_create(build.audits, batch_size=500)
        Comment.objects.bulk_create(build.comments, batch_size=500)
        seed_attachments(build.comments, seed=seed)
        views = _recent_views(build, team)
        activities = _activities(build, team)
        _oauth_client()
    return {
        "users": len(build.users),
        "tickets": len(build.tickets),
        "comments": len(build.comments),
        "recent_views": views,
        "activities": activities,
    }


def _seed_args_file() -> Path:
    """Beside the database: what the sandbox was last seeded with, for POST /_sandbox/reset."""
    return Path(f"{settings.DATABASES['default']['NAME']}.seed.json")


def remember_seed_args(*, seed: int, tickets: int, agents: int) -> None:
    _seed_args_file().write_text(json.dumps({"seed": seed, "tickets": tickets, "agents": agents}))


def remembered_seed_args() -> dict[str, int]:
    """The last seed's arguments, or the settings' defaults if it left no note."""
    try:
        return json.loads(_seed_args_file().read_text())
    except (OSError, ValueError):
        return {
            "seed": settings.SANDBOX_SEED,
            "tickets": settings.SANDBOX_TICKETS,
            "agents": settings.SANDBOX_AGENTS,
        }


def _wipe() -> None:
    for model in (
        Activity, RecentView, IdempotencyRecord, OAuthGrant, OAuthToken, OAuthClient, Audit,
        Comment, FieldLabel, RequiredField,
    ):  # fmt: skip
        model.objects.all().delete()
    Ticket.email_ccs.through.objects.all().delete()
    Ticket.followers.through.objects.all().delete()
    Ticket.objects.all().delete()
    User.groups.through.objects.all().delete()
    for model in (User, CustomStatus, Group, Organization):
        model.objects.all().delete()


def _groups(now: dt.datetime) -> list[Group]:
    created = now - dt.timedelta(days=400)
    return Group.objects.bulk_create(
        [
            Group(id=GROUP_ID_BASE + n, name=name, created_at=created, updated_at=created)
            for n, name in enumerate(GROUP_NAMES, start=1)
        ]
    )


def _organizations(build: _Build) -> list[Organization]:
    created = build.now - dt.timedelta(days=365)
    return Organization.objects.bulk_create(
        [
            Organization(
                id=ORGANIZATION_ID_BASE + n,
                name=name,
                domain_names=[domain],
                external_id=f"crm-org-{n:03d}",
                created_at=created + dt.timedelta(days=n),
                updated_at=created + dt.timedelta(days=n),
            )
            for n, (name, domain) in enumerate(ORGANIZATIONS, start=1)
        ]
    )


def _custom_statuses(now: dt.datetime) -> dict[str, list[CustomStatus]]:
    created = now - dt.timedelta(days=300)
    rows = CustomStatus.objects.bulk_create(
        [
            CustomStatus(
                id=CUSTOM_STATUS_ID_BASE + n,
                status_category=category,
                agent_label=label,
                end_user_label=END_USER_LABELS[category],
                description=description,
                end_user_description="",
                default=default,
                created_at=created,
                updated_at=created,
            )
            for n, (category, label, description, default) in enumerate(CUSTOM_STATUSES, 1)
        ]
    )
    by_category: dict[str, list[CustomStatus]] = {}
    for status in rows:
        by_category.setdefault(status.status_category, []).append(status)
    return by_category


def _unique_names(rng: random.Random, count: int, taken: set[str]) -> list[tuple[str, str]]:
    names: list[tuple[str, str]] = []
    while len(names) < count:
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        if f"{first} {last}" not in taken:
            taken.add(f"{first} {last}")
            names.append((first, last))
    return names


def _new_user(build: _Build, first: str, last: str, *, email: str, role: str, **extra) -> User:
    time_zone, iana = build.rng.choice(TIME_ZONES)
    created = build.now - dt.timedelta(days=build.rng.randint(120, 900))
    user = User(
        id=USER_ID_BASE + len(build.users) + 1,
        name=f"{first} {last}",
        email=email,
        role=role,
        time_zone=time_zone,
        iana_time_zone=iana,
        created_at=created,
        updated_at=created,
        **extra,
    )
    build.users.append(user)
    return user


@dataclass
class _Team:
    """The agents who work tickets (suspended ones excluded) and who is in which group."""

    active: list[User]
    by_group: dict[int, list[User]]
    restricted: User


def _agents(build: _Build, *, count: int, groups: list[Group]) -> _Team:
    """1 admin, count-2 agents, 1 restricted agent (SANDBOX_RESTRICTION), 1 suspended agent."""
    domain = f"{settings.SANDBOX_SUBDOMAIN}.example.com"
    taken: set[str] = {"Tedd Silva"}
    names = [("Tedd", "Silva"), *_unique_names(build.rng, count, taken)]
    active: list[User] = []
    by_group: dict[int, list[User]] = {group.id: [] for group in groups}
    for index, (first, last) in enumerate(names):
        role = "admin" if index == 0 else "agent"
        is_restricted = index == count - 1
        is_suspended = index == count
        if is_restricted:
            member_of = [groups[-1]]
        elif role == "admin":
            member_of = groups
        else:
            member_of = [groups[index % len(groups)]]
        agent = _new_user(
            build,
            first,
            last,
            email=f"{first}.{last}@{domain}".lower(),
            role=role,
            restricted_agent=is_restricted,
            ticket_restriction=settings.SANDBOX_RESTRICTION if is_restricted else None,
            suspended=is_suspended,
            default_group_id=member_of[0].id,
            last_login_at=build.now - dt.timedelta(hours=build.rng.randint(1, 72)),
            # Most agents have a photo (every fourth has none, as on a real team).
            photo_url=photos.photo_path(photos.photo_id_for(index)) if index % 4 != 3 else None,
        )
        build.memberships.extend((agent.id, group.id) for group in member_of)
        if is_suspended:
            continue
        active.append(agent)
        for group in member_of:
            by_group[group.id].append(agent)
    # The restricted agent is the last active one (see the loop above).
    return _Team(active=active, by_group=by_group, restricted=active[-1])


def _end_users(build: _Build, organizations: list[Organization]) -> list[User]:
    taken = {user.name for user in build.users}
    customers = []
    for index, (first, last) in enumerate(_unique_names(build.rng, 30, taken)):
        organization = organizations[index % len(organizations)] if index < 25 else None
        domain = organization.domain_names[0] if organization else "mail.example.net"
        customers.append(
            _new_user(
                build,
                first,
                last,
                email=f"{first}.{last}@{domain}".lower(),
                role="end-user",
                organization_id=organization.id if organization else None,
            )
        )
    return customers


def _subject(rng: random.Random) -> tuple[str, str]:
    product = rng.choice(PRODUCTS)
    subject = rng.choice(SUBJECT_TEMPLATES).format(
        product=product,
        problem=rng.choice(PROBLEMS),
        since=rng.choice(SINCE),
        topic=rng.choice(TOPICS),
        task=rng.choice(TASKS),
    )
    return subject, product


def _description(rng: random.Random, subject: str, requester: User) -> str:
    return (
        f"{rng.choice(OPENINGS)}\n\n{subject.removeprefix('Re: ')}. {rng.choice(CONTEXTS)}\n\n"
        f"Thanks,\n{requester.name.split()[0]}"
    )


def _ticket(
    build: _Build,
    number: int,
    *,
    team: _Team,
    customers: list[User],
    groups: list[Group],
    statuses: dict[str, list[CustomStatus]],
) -> None:
    rng, now = build.rng, build.now
    created = now - dt.timedelta(seconds=rng.randint(600, HISTORY_DAYS * 86400))
    age_days = (now - created).days
    status = _pick(rng, STATUS_WEIGHTS_OLD if age_days > 45 else STATUS_WEIGHTS_RECENT)
    requester = rng.choice(customers)
    group = rng.choice(groups)
    assignee = (
        None if status == "new" and rng.random() < 0.8 else rng.choice(team.by_group[group.id])
    )
    subject, product = _subject(rng)
    channel = _pick(rng, CHANNEL_WEIGHTS)
    ticket_type = _pick(rng, TYPE_WEIGHTS)
    category = "solved" if status == "closed" else status
    ticket = Ticket(
        id=number,
        external_id=f"crm-{10_000 + number}" if rng.random() < 0.1 else None,
        subject=subject,
        description=_description(rng, subject, requester),
        status=status,
        priority=_pick(rng, PRIORITY_WEIGHTS),
        type=ticket_type,
        requester=requester,
        submitter=requester,
        assignee=assignee,
        group=group,
        organization_id=requester.organization_id,
        tags=sorted({"support", product.split()[0].lower(), *_tags(product)}),
        custom_status=rng.choice(statuses[category]),
        via_channel=channel,
        created_at=created,
        updated_at=created,
    )
    if ticket_type == "task":
        ticket.due_at = (created + dt.timedelta(days=rng.randint(2, 14))).replace(
            hour=17, minute=0, second=0
        )
    _conversation(build, ticket)
    _people(build, ticket, team=team, customers=customers)
    if assignee is not None:
        assigner = None if rng.random() < 0.25 else rng.choice(team.active)
        build.assignments.append(
            (ticket, assigner, created + dt.timedelta(minutes=rng.randint(2, 90)))
        )
    if ticket.priority in ("high", "urgent") and rng.random() < 0.5:
        raiser = None if rng.random() < 0.3 else rng.choice(team.active)
        when = created + (ticket.updated_at - created) / 2
        build.priority_raises.append((ticket, raiser, when))
    ticket.archived = status == "closed" and (now - ticket.updated_at).days >= ARCHIVE_AFTER_DAYS
    build.tickets.append(ticket)


def _tags(product: str) -> list[str]:
    return [tag for word, tag in TAGS_BY_WORD.items() if word in product]


def _conversation(build: _Build, ticket: Ticket) -> None:
    """The description, then replies alternating customer and agent, some internal notes."""
    rng, now = build.rng, build.now
    author_pool = [ticket.assignee] if ticket.assignee else []
    moment = ticket.created_at
    _comment(build, ticket, ticket.requester, ticket.description, moment, public=True)
    if ticket.status == "new":
        return
    replies = rng.randint(1, 5)
    customer_turn = False
    for _ in range(replies):
        gap = dt.timedelta(minutes=rng.randint(15, 60 * 30))
        if moment + gap >= now:
            break
        moment += gap
        if customer_turn:
            _comment(
                build, ticket, ticket.requester, rng.choice(CUSTOMER_REPLIES), moment, public=True
            )
        elif author_pool and rng.random() < 0.2:
            _comment(
                build, ticket, author_pool[0], rng.choice(INTERNAL_NOTES), moment, public=False
            )
        elif author_pool:
            _comment(build, ticket, author_pool[0], rng.choice(AGENT_REPLIES), moment, public=True)
        customer_turn = not customer_turn
    ticket.updated_at = moment + dt.timedelta(seconds=rng.randint(5, 300))
    if ticket.status == "closed":
        ticket.updated_at = min(moment + dt.timedelta(days=4), now - dt.timedelta(minutes=1))
    ticket.updated_at = min(ticket.updated_at, now)


def _comment(
    build: _Build, ticket: Ticket, author: User, body: str, moment: dt.datetime, *, public: bool
) -> None:
    number = len(build.comments) + 1
    audit_id = AUDIT_ID_BASE + number
    events: list[dict[str, Any]] = [
        {
            "id": audit_id * 10,
            "type": "Comment",
            "author_id": author.id,
            "body": body,
            "public": public,
        }
    ]
    build.audits.append(
        Audit(
            id=audit_id,
            ticket=ticket,
            author=author,
            events=events,
            via_channel=ticket.via_channel,
            created_at=moment,
        )
    )
    build.comments.append(
        Comment(
            id=COMMENT_ID_BASE + number,
            ticket=ticket,
            author=author,
            body=body,
            public=public,
            via_channel=ticket.via_channel,
            audit_id=audit_id,
            created_at=moment,
        )
    )


def _people(build: _Build, ticket: Ticket, *, team: _Team, customers: list[User]) -> None:
    """CCs (colleagues of the requester, sometimes an agent) and following agents."""
    rng = build.rng
    if rng.random() < 0.2:
        colleagues = [
            c
            for c in customers
            if c.organization_id == ticket.organization_id and c is not ticket.requester
        ]
        for colleague in rng.sample(colleagues, k=min(len(colleagues), rng.randint(1, 2))):
            build.ccs.append((ticket.id, colleague.id))
    if rng.random() < 0.05:
        build.ccs.append((ticket.id, team.restricted.id))
    if rng.random() < 0.25:
        others = [a for a in team.active if a is not ticket.assignee]
        for follower in rng.sample(others, k=min(len(others), rng.randint(1, 2))):
            build.follows.append((ticket.id, follower.id))


def _renumber_by_creation(build: _Build) -> None:
    """Nice ids grow with creation time, as Zendesk's do; the rows refer to tickets by object."""
    old_to_new: dict[int, int] = {}
    for new_id, ticket in enumerate(sorted(build.tickets, key=lambda t: t.created_at), start=1):
        old_to_new[ticket.id] = new_id
    for ticket in build.tickets:
        ticket.id = old_to_new[ticket.id]
    build.tickets.sort(key=lambda t: t.id)
    build.ccs = [(old_to_new[t], u) for t, u in build.ccs]
    build.follows = [(old_to_new[t], u) for t, u in build.follows]
    for row in (*build.comments, *build.audits):
        row.ticket_id = row.ticket.id
    for audit in build.audits:
        audit.events[0]["id"] = audit.id * 10


def _recent_views(build: _Build, team: _Team) -> int:
    """Each agent opened 8-15 of the live tickets they may see in the last few days."""
    rng, now = build.rng, build.now
    live = [t for t in build.tickets if not t.archived]
    rows = []
    for agent in team.active:
        # The rows are in the database by now: the reads' own rule says what the agent sees.
        visible_ids = set(visible_tickets(agent).values_list("id", flat=True))
        visible = [t for t in live if t.id in visible_ids]
        for ticket in rng.sample(visible, k=min(len(visible), rng.randint(8, 15))):
            viewed = now - dt.timedelta(minutes=rng.randint(5, 5 * 24 * 60))
            rows.append(RecentView(user=agent, ticket_id=ticket.id, viewed_at=viewed))
    RecentView.objects.bulk_create(rows, batch_size=500)
    return len(rows)


def _excerpt(body: str, limit: int = 60) -> str:
    """The first sentence that says something (not the greeting), cut at a word near `limit`."""
    paragraphs = [p.strip() for p in body.split("\n\n") if p.strip() and p.strip() not in OPENINGS]
    sentence = " ".join(paragraphs[0].split()).split(". ")[0] if paragraphs else body
    if len(sentence) > limit:
        sentence = sentence[:limit].rsplit(" ", 1)[0]
    return sentence.rstrip(".,!?:;")


def _activities(build: _Build, team: _Team) -> int:
    """The last 30 days of what others did to each agent's tickets (never their own acts)."""
    since = build.now - dt.timedelta(days=ACTIVITY_DAYS)
    by_id = {t.id: t for t in build.tickets}
    rows: list[Activity] = []

    def add(
        user: User,
        actor: User | None,
        verb: str,
        title: str,
        obj: dict,
        ticket: Ticket,
        when: dt.datetime,
    ) -> None:
        if when < since or when > build.now or (actor is not None and actor.id == user.id):
            return
        target = {"ticket": {"id": ticket.id, "subject": ticket.subject}}
        rows.append(
            Activity(
                user=user,
                actor=actor,
                verb=verb,
                title=title,
                object=obj,
                target=target,
                created_at=when,
                updated_at=when,
            )
        )

    for ticket, assigner, when in build.assignments:
        actor_name = assigner.name if assigner else SYSTEM_NAME
        title = f"{actor_name} assigned ticket #{ticket.id} to you."
        obj = {"ticket": {"id": ticket.id, "subject": ticket.subject}}
        add(ticket.assignee, assigner, "tickets.assignment", title, obj, ticket, when)
    followers: dict[int, list[int]] = {}
    for ticket_id, user_id in build.follows:
        followers.setdefault(ticket_id, []).append(user_id)
    users = {u.id: u for u in build.users}
    for comment in build.comments:
        ticket = by_id[comment.ticket_id]
        watchers = [ticket.assignee] if ticket.assignee else []
        watchers += [users[u] for u in followers.get(ticket.id, [])]
        excerpt = _excerpt(comment.body)
        title = f"{comment.author.name} commented on ticket #{ticket.id}: {excerpt}."
        obj = {"comment": {"value": comment.body, "public": comment.public}}
        for watcher in watchers:
            if not watcher.suspended:
                add(
                    watcher,
                    comment.author,
                    "tickets.comment",
                    title,
                    obj,
                    ticket,
                    comment.created_at,
                )
    for ticket, raiser, when in build.priority_raises:
        if ticket.assignee is None:
            continue
        actor_name = raiser.name if raiser else SYSTEM_NAME
        title = f"{actor_name} increased the priority of ticket #{ticket.id} to {ticket.priority}."
        obj = {"ticket": {"id": ticket.id, "subject": ticket.subject, "priority": ticket.priority}}
        add(ticket.assignee, raiser, "tickets.priority_increase", title, obj, ticket, when)
    rows.sort(key=lambda a: (a.created_at, a.user_id, a.verb))
    for number, activity in enumerate(rows, start=1):
        activity.id = ACTIVITY_ID_BASE + number
    Activity.objects.bulk_create(rows, batch_size=500)
    return len(rows)


def _oauth_client() -> None:
    OAuthClient.objects.create(
        identifier=settings.SANDBOX_OAUTH_CLIENT_ID,
        secret=settings.SANDBOX_OAUTH_CLIENT_SECRET,
        name="Agent Inbox (demo)",
        redirect_uris=list(settings.SANDBOX_OAUTH_REDIRECT_URIS),
    )
