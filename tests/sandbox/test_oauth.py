"""The sandbox's OAuth: authorization code + PKCE as Zendesk does it, over real HTTP.

The browser's part is driven with requests: GET the sign-in page, POST the form, POST the
consent, then read the redirect's Location without following it.
"""

from __future__ import annotations

import time
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from tests.sandboxoauth import (
    CLIENT_ID,
    CLIENT_SECRET,
    PASSWORD,
    REDIRECT_URI,
    TIMEOUT,
    authorization_code,
    authorize_params,
    bearer,
    decide,
    exchange,
    hidden_field,
    me,
    open_page,
    pkce_pair,
    refresh,
    sign_in,
    tokens_for,
)
from tests.sandboxserver import SandboxServer


@pytest.fixture
def agent_email(sandbox: SandboxServer) -> str:
    return sandbox.agent(role="agent", restricted=False, suspended=False)["email"]


@pytest.fixture
def lifetimes(sandbox: SandboxServer):
    """Shortened code/token lifetimes for one test, restored afterwards."""

    def set_lifetimes(**values: int) -> None:
        response = sandbox.control("POST", "oauth", json=values)
        assert response.status_code == 200, response.text

    yield set_lifetimes
    sandbox.control("POST", "oauth", json={})


# -- the whole flow ------------------------------------------------------------------------


def test_it_signs_an_agent_in_with_pkce_and_the_token_reads_the_api(sandbox, agent_email):
    tokens = tokens_for(sandbox, agent_email)

    assert tokens["token_type"] == "bearer"
    assert tokens["scope"] == "read write"
    assert tokens["expires_in"] > 0
    assert tokens["refresh_token"]
    assert tokens["refresh_token_expires_in"] > 0
    response = me(sandbox, tokens["access_token"])
    assert response.status_code == 200
    assert response.json()["user"]["email"] == agent_email


def test_it_shows_an_accessible_sign_in_page_naming_the_application(sandbox):
    page = open_page(sandbox, **authorize_params(code_challenge=pkce_pair()[1]))

    assert page.status_code == 200
    assert "text/html" in page.headers["Content-Type"]
    assert '<label for="email">' in page.text
    assert '<label for="password">' in page.text
    assert "Agent Inbox" in page.text


def test_it_accepts_any_port_for_a_wildcard_redirect_uri(sandbox):
    page = open_page(
        sandbox,
        **authorize_params(redirect_uri="http://localhost:40123/auth/callback", code_challenge="x"),
    )

    assert page.status_code == 200


def test_it_lets_end_users_sign_in_too_because_the_app_decides_who_may_use_it(sandbox):
    end_user = sandbox.info["end_users"][0]

    tokens = tokens_for(sandbox, end_user["email"], scope="read")

    assert me(sandbox, tokens["access_token"]).json()["user"]["role"] == "end-user"


def test_it_shows_the_page_again_with_a_message_for_a_wrong_password(sandbox, agent_email):
    response = sign_in(sandbox, agent_email, password="not-the-password", code_challenge="x")

    assert response.status_code == 401
    assert "text/html" in response.headers["Content-Type"]
    assert "email or password is not right" in response.text
    assert 'name="request_state"' in response.text


def test_it_redirects_with_access_denied_when_the_user_denies(sandbox, agent_email):
    consent = sign_in(sandbox, agent_email, code_challenge=pkce_pair()[1])

    query = decide(sandbox, consent.text, "deny")

    assert query["error"] == ["access_denied"]
    assert query["error_description"][0]
    assert query["state"] == ["state-123"]
    assert "code" not in query


@pytest.mark.parametrize(
    "params",
    [
        {"client_id": "no-such-app"},
        {"redirect_uri": "https://evil.example.com/auth/callback"},
        {"redirect_uri": "http://127.0.0.1:8765/elsewhere"},
        {"redirect_uri": ""},
    ],
)
def test_it_shows_an_error_page_and_never_redirects_to_an_unregistered_place(sandbox, params):
    response = open_page(sandbox, **authorize_params(code_challenge="x", **params))

    assert 400 <= response.status_code < 500
    assert "Location" not in response.headers
    assert "text/html" in response.headers["Content-Type"]


def test_it_refuses_a_tampered_sign_in_form(sandbox, agent_email):
    response = requests.post(
        f"{sandbox.base_url}/oauth/authorizations/new",
        data={"request_state": "forged", "email": agent_email, "password": PASSWORD},
        allow_redirects=False,
        timeout=TIMEOUT,
    )

    assert response.status_code == 400
    assert "Location" not in response.headers


# -- codes -----------------------------------------------------------------------------------


def test_a_code_works_only_once(sandbox, agent_email):
    verifier, challenge = pkce_pair()
    code = authorization_code(sandbox, agent_email, challenge=challenge)
    assert exchange(sandbox, code=code, code_verifier=verifier).status_code == 200

    again = exchange(sandbox, code=code, code_verifier=verifier)

    assert again.status_code == 400
    assert again.json()["error"] == "invalid_grant"


def test_an_expired_code_is_refused(sandbox, agent_email, lifetimes):
    lifetimes(code_ttl=1)
    verifier, challenge = pkce_pair()
    code = authorization_code(sandbox, agent_email, challenge=challenge)
    time.sleep(1.2)

    response = exchange(sandbox, code=code, code_verifier=verifier)

    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"


def test_a_wrong_verifier_is_refused_and_spends_the_code(sandbox, agent_email):
    verifier, challenge = pkce_pair()
    code = authorization_code(sandbox, agent_email, challenge=challenge)

    wrong = exchange(sandbox, code=code, code_verifier=pkce_pair()[0])
    right_after = exchange(sandbox, code=code, code_verifier=verifier)

    assert wrong.status_code == 400
    assert wrong.json()["error"] == "invalid_grant"
    assert right_after.status_code == 400


def test_a_missing_verifier_is_refused_when_a_challenge_was_sent(sandbox, agent_email):
    _, challenge = pkce_pair()
    code = authorization_code(sandbox, agent_email, challenge=challenge)

    response = exchange(sandbox, code=code)

    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"


def test_a_code_is_bound_to_its_redirect_uri(sandbox, agent_email):
    verifier, challenge = pkce_pair()
    code = authorization_code(sandbox, agent_email, challenge=challenge)

    response = exchange(
        sandbox,
        code=code,
        code_verifier=verifier,
        redirect_uri="http://127.0.0.1:9999/auth/callback",
    )

    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"


def test_a_code_is_bound_to_its_client(sandbox, agent_email):
    other = {
        "identifier": "other-app",
        "secret": "other-secret",
        "redirect_uris": [REDIRECT_URI],
    }
    assert sandbox.control("POST", "oauth/clients", json=other).status_code == 201
    verifier, challenge = pkce_pair()
    code = authorization_code(sandbox, agent_email, challenge=challenge)

    response = exchange(
        sandbox,
        code=code,
        code_verifier=verifier,
        client_id="other-app",
        client_secret="other-secret",
    )

    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"


def test_a_wrong_client_secret_is_invalid_client(sandbox, agent_email):
    verifier, challenge = pkce_pair()
    code = authorization_code(sandbox, agent_email, challenge=challenge)

    response = exchange(sandbox, code=code, code_verifier=verifier, client_secret="wrong")

    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ({"grant_type": "password", "username": "a", "password": "b"}, "unsupported_grant_type"),
        ({"grant_type": "implicit"}, "unsupported_grant_type"),
        ({"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET}, "invalid_request"),
        (
            {
                "grant_type": "authorization_code",
                "client_id": CLIENT_ID,
                "client_secret": CLIENT_SECRET,
            },
            "invalid_request",
        ),
    ],
)
def test_it_answers_token_errors_as_oauth_does(sandbox, body, error):
    response = requests.post(f"{sandbox.base_url}/oauth/tokens", json=body, timeout=TIMEOUT)

    assert response.status_code == 400
    assert response.json()["error"] == error
    assert response.json()["error_description"]


def test_malformed_json_at_the_token_endpoint_is_invalid_request(sandbox):
    response = requests.post(
        f"{sandbox.base_url}/oauth/tokens",
        data="{not json",
        headers={"Content-Type": "application/json"},
        timeout=TIMEOUT,
    )

    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"


def test_the_token_endpoint_accepts_a_form_encoded_body(sandbox, agent_email):
    verifier, challenge = pkce_pair()
    code = authorization_code(sandbox, agent_email, challenge=challenge)

    response = requests.post(
        f"{sandbox.base_url}/oauth/tokens",
        data={
            "grant_type": "authorization_code",
            "code": code,
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
            "redirect_uri": REDIRECT_URI,
            "code_verifier": verifier,
        },
        timeout=TIMEOUT,
    )

    assert response.status_code == 200
    assert response.json()["access_token"]


# -- refresh, revocation, scope, expiry --------------------------------------------------------


def test_refreshing_rotates_both_tokens(sandbox, agent_email):
    first = tokens_for(sandbox, agent_email)

    second = refresh(sandbox, first["refresh_token"])

    assert second.status_code == 200
    renewed = second.json()
    assert renewed["access_token"] != first["access_token"]
    assert renewed["refresh_token"] != first["refresh_token"]
    assert me(sandbox, renewed["access_token"]).status_code == 200
    assert me(sandbox, first["access_token"]).status_code == 401
    reused = refresh(sandbox, first["refresh_token"])
    assert reused.status_code == 400
    assert reused.json()["error"] == "invalid_grant"


def test_revoking_the_current_token_signs_it_out(sandbox, agent_email):
    tokens = tokens_for(sandbox, agent_email)
    url = f"{sandbox.base_url}/api/v2/oauth/tokens/current.json"

    revoked = requests.delete(url, headers=bearer(tokens["access_token"]), timeout=TIMEOUT)

    assert revoked.status_code == 204
    assert me(sandbox, tokens["access_token"]).status_code == 401
    assert refresh(sandbox, tokens["refresh_token"]).status_code == 400


def test_the_current_token_describes_its_scopes(sandbox, agent_email):
    tokens = tokens_for(sandbox, agent_email, scope="read")

    response = sandbox.get(
        "/api/v2/oauth/tokens/current.json", headers=bearer(tokens["access_token"])
    )

    assert response.status_code == 200
    assert response.json()["token"]["scopes"] == ["read"]


def test_a_read_only_token_may_read_but_not_write(sandbox, agent_email):
    tokens = tokens_for(sandbox, agent_email, scope="read")

    read = me(sandbox, tokens["access_token"])
    write = requests.put(
        f"{sandbox.base_url}/api/v2/tickets/1.json",
        json={"ticket": {"priority": "high"}},
        headers=bearer(tokens["access_token"]),
        timeout=TIMEOUT,
    )

    assert read.status_code == 200
    assert write.status_code == 403


def test_an_expired_access_token_gets_401_and_refreshing_renews_it(sandbox, agent_email, lifetimes):
    lifetimes(access_token_ttl=1)
    tokens = tokens_for(sandbox, agent_email)
    assert tokens["expires_in"] == 1
    time.sleep(1.2)

    expired = me(sandbox, tokens["access_token"])
    lifetimes(access_token_ttl=3600)
    renewed = refresh(sandbox, tokens["refresh_token"])

    assert expired.status_code == 401
    assert renewed.status_code == 200
    assert me(sandbox, renewed.json()["access_token"]).status_code == 200


def test_a_suspended_agent_gets_no_authorization_code(sandbox):
    suspended = sandbox.agent(suspended=True)
    _verifier, challenge = pkce_pair()

    response = sign_in(sandbox, suspended["email"], code_challenge=challenge)

    assert response.status_code == 403
    assert "suspended" in response.text
    assert "consent_state" not in response.text


def test_the_lifetimes_control_refuses_nonsense(sandbox):
    response = sandbox.control("POST", "oauth", json={"access_token_ttl": -5})

    assert response.status_code == 400
    assert sandbox.control("GET", "oauth").json()["code_ttl"] == 120


# -- as an attacker would try it -----------------------------------------------------------


def test_reusing_a_code_revokes_the_tokens_of_its_first_exchange(sandbox, agent_email):
    verifier, challenge = pkce_pair()
    code = authorization_code(sandbox, agent_email, challenge=challenge)
    first = exchange(sandbox, code=code, code_verifier=verifier).json()
    refreshed = refresh(sandbox, first["refresh_token"]).json()
    assert me(sandbox, refreshed["access_token"]).status_code == 200

    again = exchange(sandbox, code=code, code_verifier=verifier)

    assert again.json()["error"] == "invalid_grant"
    assert me(sandbox, refreshed["access_token"]).status_code == 401
    assert refresh(sandbox, refreshed["refresh_token"]).json()["error"] == "invalid_grant"


def test_reusing_one_code_leaves_the_tokens_of_other_codes_alone(sandbox, agent_email):
    kept = tokens_for(sandbox, agent_email)
    verifier, challenge = pkce_pair()
    code = authorization_code(sandbox, agent_email, challenge=challenge)
    exchange(sandbox, code=code, code_verifier=verifier)

    exchange(sandbox, code=code, code_verifier=verifier)

    assert me(sandbox, kept["access_token"]).status_code == 200


@pytest.mark.parametrize("state", ["  padded  ", "tab\there", "a b"])
def test_state_goes_back_exactly_as_sent(sandbox, agent_email, state):
    _verifier, challenge = pkce_pair()
    consent = sign_in(sandbox, agent_email, code_challenge=challenge, state=state)

    query = decide(sandbox, consent.text, "allow")

    assert query["state"] == [state]


def test_a_native_app_redirect_uri_with_a_custom_scheme_gets_its_redirect(sandbox, agent_email):
    native = {
        "identifier": "native-app",
        "secret": "native-secret",
        "redirect_uris": ["com.example.inbox:/oauth/callback"],
    }
    assert sandbox.control("POST", "oauth/clients", json=native).status_code == 201
    _verifier, challenge = pkce_pair()
    consent = sign_in(
        sandbox,
        agent_email,
        client_id="native-app",
        redirect_uri="com.example.inbox:/oauth/callback",
        code_challenge=challenge,
    )

    response = requests.post(
        f"{sandbox.base_url}/oauth/authorizations/new",
        data={"consent_state": hidden_field(consent.text, "consent_state"), "decision": "allow"},
        allow_redirects=False,
        timeout=TIMEOUT,
    )

    assert response.status_code == 302
    location = urlsplit(response.headers["Location"])
    assert (location.scheme, location.path) == ("com.example.inbox", "/oauth/callback")
    assert parse_qs(location.query)["code"]


@pytest.mark.parametrize(
    "client",
    [
        {"identifier": 12345, "secret": "s"},
        {"identifier": ["a"], "secret": "s"},
        {"identifier": "app", "secret": {"a": 1}},
        {"identifier": "app", "secret": "s", "name": 7},
        {"identifier": "app", "secret": "s", "redirect_uris": ["javascript:alert(1)//"]},
    ],
)
def test_registering_a_client_refuses_values_that_are_not_strings_or_safe(sandbox, client):
    response = sandbox.control("POST", "oauth/clients", json=client)

    assert response.status_code == 400
