"""Finding a requester by name or email: users/search and users/autocomplete over HTTP."""

from __future__ import annotations

import pytest

from tests.sandboxserver import API, SandboxServer, assert_bad_request


@pytest.fixture(scope="module")
def _seeded(sandbox_session):
    sandbox_session.reset()


@pytest.fixture
def pristine(_seeded, sandbox):
    return sandbox


def customer(sandbox: SandboxServer) -> dict:
    return sandbox.info["end_users"][0]


def search(sandbox: SandboxServer, **params) -> dict:
    return sandbox.get_json("users/search", sandbox.admin_email, **params)


def autocomplete(sandbox: SandboxServer, **params) -> dict:
    return sandbox.get_json("users/autocomplete", sandbox.admin_email, **params)


def test_search_finds_a_customer_by_part_of_their_name(pristine):
    person = customer(pristine)
    last_name = person["name"].split()[-1]

    body = search(pristine, query=last_name.lower())

    found = {u["id"]: u for u in body["users"]}
    assert person["id"] in found
    assert all(last_name.lower() in (u["name"] + u["email"]).lower() for u in body["users"])
    assert found[person["id"]]["email"] == person["email"]
    assert body["count"] == len(body["users"])
    assert body["next_page"] is None
    assert body["previous_page"] is None


def test_search_finds_exactly_one_customer_by_email(pristine):
    person = customer(pristine)

    body = search(pristine, query=person["email"].upper())

    assert [u["id"] for u in body["users"]] == [person["id"]]


def test_every_word_of_a_query_must_match(pristine):
    person = customer(pristine)
    first, last = person["name"].split()[0], person["name"].split()[-1]

    both = search(pristine, query=f"{first} {last}")
    phrase = search(pristine, query=f'"{person["name"]}"')
    nonsense = search(pristine, query=f"{first} zzqxv")

    assert person["id"] in {u["id"] for u in both["users"]}
    assert person["id"] in {u["id"] for u in phrase["users"]}
    assert nonsense["users"] == []
    assert nonsense["count"] == 0


def test_search_narrows_by_property(pristine):
    agents = search(pristine, query="role:agent")
    by_email = search(pristine, query=f"email:{customer(pristine)['email']}")

    assert agents["users"]
    assert {u["role"] for u in agents["users"]} == {"agent"}
    assert [u["id"] for u in by_email["users"]] == [customer(pristine)["id"]]


def test_search_pages_by_offset(pristine):
    first = search(pristine, query="role:end-user", per_page=5)
    second = pristine.get(first["next_page"], as_email=pristine.admin_email).json()

    assert len(first["users"]) == 5
    assert first["count"] > 5
    assert "per_page=5" in first["next_page"]
    assert "page=2" in first["next_page"]
    assert not {u["id"] for u in first["users"]} & {u["id"] for u in second["users"]}


def test_search_by_an_unknown_external_id_finds_nobody(pristine):
    body = search(pristine, external_id="crm-nobody-0000")

    assert body["users"] == []
    assert body["count"] == 0


def test_autocomplete_finds_names_starting_with_any_word(pristine):
    person = customer(pristine)
    first, last = person["name"].split()[0], person["name"].split()[-1]

    by_first = autocomplete(pristine, name=first[:2])
    by_last = autocomplete(pristine, name=last[:3].upper())

    assert person["id"] in {u["id"] for u in by_first["users"]}
    assert person["id"] in {u["id"] for u in by_last["users"]}
    for user in by_first["users"]:
        assert any(word.lower().startswith(first[:2].lower()) for word in user["name"].split())


def test_autocomplete_does_not_match_the_middle_of_a_word(pristine):
    person = customer(pristine)
    middle = person["name"].split()[0][1:3]

    body = autocomplete(pristine, name=middle)

    assert all(
        any(word.lower().startswith(middle.lower()) for word in user["name"].split())
        for user in body["users"]
    )


def test_autocomplete_pages_by_offset(pristine):
    person = customer(pristine)
    body = autocomplete(pristine, name=person["name"][:2], per_page=1)

    assert len(body["users"]) == 1
    assert body["count"] >= 1


@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("users/search", {}),
        ("users/search", {"query": "   "}),
        ("users/search", {"query": "x" * 1001}),
        ("users/search", {"query": "role:wizard"}),
        ("users/search", {"query": "\x00"}),
        ("users/autocomplete", {"name": "an\x00"}),
        ("users/search", {"query": "ana", "page[size]": 10}),
        ("users/search", {"query": "ana", "page": 101, "per_page": 100}),
        ("users/search", {"query": "ana", "per_page": "lots"}),
        ("users/autocomplete", {}),
        ("users/autocomplete", {"name": "a"}),
        ("users/autocomplete", {"name": " a "}),
        ("users/autocomplete", {"name": "a" * 201}),
    ],
)
def test_bad_input_is_a_400_in_zendesks_shape(pristine, path, params):
    response = pristine.get(f"{API}/{path}", as_email=pristine.admin_email, params=params)

    assert_bad_request(response)


def test_end_users_may_not_search_users(pristine):
    end_user = customer(pristine)["email"]

    for path in ("users/search?query=ana", "users/autocomplete?name=an"):
        assert pristine.get(f"{API}/{path}", as_email=end_user).status_code == 403
