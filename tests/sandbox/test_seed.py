"""The seed: deterministic for a seed, sized by its arguments, and believable to a support team."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from tests.sandboxserver import ROOT

STATUSES = {"new", "open", "pending", "hold", "solved", "closed"}


def run_sandbox(db: Path, *args: str) -> None:
    env = {**os.environ, "SANDBOX_DB": str(db)}
    env.pop("DJANGO_SETTINGS_MODULE", None)
    subprocess.run(
        [sys.executable, "-m", "sandbox", *args], cwd=ROOT, env=env, check=True,
        stdout=subprocess.DEVNULL,
    )  # fmt: skip


@pytest.fixture(scope="module")
def empty_db(tmp_path_factory) -> Path:
    """A migrated, empty database to copy: migrating once keeps this module fast."""
    db = tmp_path_factory.mktemp("seed") / "empty.sqlite3"
    run_sandbox(db, "migrate", "--no-input")
    return db


def seeded(empty_db: Path, name: str, *args: str) -> sqlite3.Connection:
    db = empty_db.with_name(f"{name}.sqlite3")
    shutil.copy(empty_db, db)
    run_sandbox(db, "seed", *args)
    return sqlite3.connect(db)


def fingerprint(db: sqlite3.Connection) -> list[tuple]:
    """What a seed decides, minus the clock: people, tickets and conversations."""
    return [
        *db.execute("SELECT id, name, email, role FROM sandbox_user ORDER BY id"),
        *db.execute(
            "SELECT id, subject, status, priority, type, requester_id, assignee_id, group_id"
            " FROM sandbox_ticket ORDER BY id"
        ),
        *db.execute(
            "SELECT id, ticket_id, author_id, body, public FROM sandbox_comment ORDER BY id"
        ),
        *db.execute("SELECT id, user_id, actor_id, verb, title FROM sandbox_activity ORDER BY id"),
    ]


def test_the_same_seed_gives_the_same_account_and_another_seed_a_different_one(empty_db):
    first = fingerprint(seeded(empty_db, "a", "--seed", "7", "--tickets", "120"))
    second = fingerprint(seeded(empty_db, "b", "--seed", "7", "--tickets", "120"))
    other = fingerprint(seeded(empty_db, "c", "--seed", "8", "--tickets", "120"))
    assert first == second
    assert first != other


def test_it_seeds_as_many_agents_and_tickets_as_asked(empty_db):
    db = seeded(empty_db, "team", "--agents", "50", "--tickets", "200")
    active_agents = db.execute(
        "SELECT count(*) FROM sandbox_user WHERE role != 'end-user' AND NOT suspended"
    ).fetchone()[0]
    assert active_agents == 50
    assert db.execute("SELECT count(*) FROM sandbox_ticket").fetchone()[0] == 200
    assert db.execute("SELECT count(*) FROM sandbox_oauthclient").fetchone()[0] == 1


@pytest.fixture(scope="module")
def tickets(sandbox_session) -> list[dict]:
    """Every seeded ticket: the live ones listed, the archived ones shown by id."""
    sandbox_session.control("POST", "faults", json={})
    sandbox_session.reset()
    email = sandbox_session.admin_email
    live = sandbox_session.walk_cursor("tickets", email, "tickets")
    archived_ids = sorted(set(range(1, 601)) - {t["id"] for t in live})
    archived = sandbox_session.get_json(
        "tickets/show_many", email, ids=",".join(map(str, archived_ids))
    )["tickets"]
    return sorted(live + archived, key=lambda t: t["id"])


def test_tickets_span_every_status_priority_and_type(tickets):
    assert len(tickets) == 600
    assert {t["status"] for t in tickets} == STATUSES
    assert {t["priority"] for t in tickets} >= {"low", "normal", "high", "urgent"}
    assert {t["type"] for t in tickets} >= {"problem", "incident", "question", "task"}
    assert any(t["email_cc_ids"] for t in tickets)
    assert any(t["follower_ids"] for t in tickets)


def test_subjects_read_like_a_support_queue_and_rarely_repeat(tickets):
    subjects = [t["subject"] for t in tickets]
    assert len(set(subjects)) > 0.6 * len(subjects)
    assert not any("lorem" in (t["subject"] + t["description"]).lower() for t in tickets)


def test_tickets_spread_over_the_last_90_days(tickets):
    created = sorted(t["created_at"] for t in tickets)
    assert created[0][:7] != created[-1][:7]  # more than one month
    assert [t["created_at"] for t in tickets] == created  # nice ids grow with time


def test_conversations_mix_public_replies_and_internal_notes(sandbox, tickets):
    email = sandbox.admin_email
    worked = [t for t in tickets if t["status"] in ("open", "solved")][:15]
    comments = []
    for ticket in worked:
        comments += sandbox.get_json(f"tickets/{ticket['id']}/comments", email)["comments"]
    assert len(comments) > 2 * len(worked)
    assert any(not c["public"] for c in comments)
    assert len({c["author_id"] for c in comments}) > 3


def test_people_have_varied_time_zones_and_example_emails(sandbox, tickets):
    email = sandbox.admin_email
    ids = [a["id"] for a in sandbox.agents()] + [u["id"] for u in sandbox.info["end_users"]]
    users = sandbox.get_json("users/show_many", email, ids=",".join(map(str, ids)))["users"]
    assert len({u["iana_time_zone"] for u in users}) >= 3
    assert all(u["email"].split("@")[1].count("example.") == 1 for u in users)


def test_a_restricted_agent_recently_viewed_only_tickets_they_may_see(empty_db):
    """The seed asks the reads' visibility rule, so every restriction is honoured."""
    db = empty_db.with_name("assigned.sqlite3")
    shutil.copy(empty_db, db)
    env = {**os.environ, "SANDBOX_DB": str(db), "SANDBOX_RESTRICTION": "assigned"}
    env.pop("DJANGO_SETTINGS_MODULE", None)
    subprocess.run(
        [sys.executable, "-m", "sandbox", "seed"], cwd=ROOT, env=env, check=True,
        stdout=subprocess.DEVNULL,
    )  # fmt: skip
    connection = sqlite3.connect(db)
    (agent_id,) = connection.execute(
        "SELECT id FROM sandbox_user WHERE ticket_restriction = 'assigned'"
    ).fetchone()
    viewed = connection.execute(
        "SELECT t.id, t.assignee_id FROM sandbox_recentview v JOIN sandbox_ticket t"
        " ON t.id = v.ticket_id WHERE v.user_id = ?",
        (agent_id,),
    ).fetchall()
    ccd = "SELECT ticket_id FROM sandbox_ticket_email_ccs WHERE user_id = ?"
    followed = "SELECT ticket_id FROM sandbox_ticket_followers WHERE user_id = ?"
    watched = {
        row[0] for query in (ccd, followed) for row in connection.execute(query, (agent_id,))
    }

    assert len(viewed) >= 8
    assert all(assignee == agent_id or ticket in watched for ticket, assignee in viewed)
