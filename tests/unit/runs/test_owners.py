"""Owner identities: personal mode is one owner; shared mode finds the signed-in user, a trusted proxy's
header, or an anonymous token from the cookie; nothing a visitor types into the URL is read."""

from __future__ import annotations

import pytest

from playground.errors import PlaygroundError
from playground.runs import owners

TOKEN = "A" * 43


@pytest.mark.parametrize(("value", "mode"), [("", "personal"), ("personal", "personal"), (" Shared ", "shared"),
                                             ("shraed", "shared"), ("public", "shared")])
def test_the_mode_comes_from_the_environment_and_a_typo_is_the_safe_side(value, mode):
    assert owners.mode_from_env({owners.MODE_ENV: value}) == mode
    assert bool(owners.mode_note({owners.MODE_ENV: value})) == (value.strip().lower() not in ("", "personal", "shared"))


def test_personal_mode_is_one_owner_whoever_asks():
    first = owners.identify(owners.PERSONAL, cookies={owners.COOKIE_NAME: TOKEN}, user={"is_logged_in": True, "sub": "x"})
    assert first.owner == owners.PERSONAL_OWNER and not first.shared
    assert owners.identify(owners.PERSONAL).owner == owners.PERSONAL_OWNER


def test_a_signed_in_user_is_their_own_owner_across_sessions():
    user = {"is_logged_in": True, "sub": "123", "iss": "https://accounts.example", "email": "a@example.com"}
    first = owners.identify(owners.SHARED, user=user, cookies={owners.COOKIE_NAME: TOKEN})
    again = owners.identify(owners.SHARED, user=dict(user))
    assert first.owner == again.owner and first.kind == "signed-in" and first.label == "a@example.com"
    other = owners.identify(owners.SHARED, user={**user, "sub": "124"})
    assert other.owner != first.owner
    other_issuer = owners.identify(owners.SHARED, user={**user, "iss": "https://evil.example"})
    assert other_issuer.owner != first.owner  # the same subject at another identity provider is someone else


def test_user_information_without_a_login_is_not_trusted():
    # What st.user holds without st.login (AppTest's default, or a provider's claims before sign-in).
    identity = owners.identify(owners.SHARED, user={"email": "boss@example.com"}, cookies={owners.COOKIE_NAME: TOKEN})
    assert identity.kind == "anonymous"
    assert identity.owner == owners.identify(owners.SHARED, cookies={owners.COOKIE_NAME: TOKEN}).owner


def test_a_proxy_header_counts_only_when_the_operator_names_it():
    headers = {"X-Forwarded-User": "alice"}
    assert owners.identify(owners.SHARED, headers=headers).kind == "anonymous"
    named = owners.identify(owners.SHARED, headers=headers, owner_header="x-forwarded-user")
    assert named.kind == "proxy" and named.label == "alice"
    assert named.owner == owners.identify(owners.SHARED, headers={"x-forwarded-user": "alice"},
                                          owner_header="X-Forwarded-User").owner
    assert owners.owner_header_from_env({owners.OWNER_HEADER_ENV: "X-Forwarded-User"}) == "X-Forwarded-User"
    assert owners.owner_header_from_env({owners.OWNER_HEADER_ENV: "bad header\r\n"}) is None


def test_an_anonymous_token_from_the_cookie_is_the_same_owner_after_a_reload():
    first = owners.identify(owners.SHARED)
    assert first.new_token and owners.TOKEN_PATTERN.match(first.token)
    reload = owners.identify(owners.SHARED, cookies={owners.COOKIE_NAME: first.token})
    assert reload.owner == first.owner and not reload.new_token
    assert owners.identify(owners.SHARED).owner != first.owner  # another browser is another owner
    assert first.token not in first.owner  # the store keeps a hash, never the token itself


@pytest.mark.parametrize("cookie", ["", "short", "A" * 44, "A" * 42 + "!", "local", "anon:" + "0" * 32])
def test_a_cookie_that_is_not_a_token_we_make_gives_a_new_owner(cookie):
    identity = owners.identify(owners.SHARED, cookies={owners.COOKIE_NAME: cookie})
    assert identity.new_token and identity.owner != owners.PERSONAL_OWNER


def test_a_session_keeps_its_token_even_if_the_cookie_changes():
    first = owners.identify(owners.SHARED)
    later = owners.identify(owners.SHARED, cookies={owners.COOKIE_NAME: TOKEN}, session_token=first.token)
    assert later.owner == first.owner


@pytest.mark.parametrize("bad", ["", "anon", "anon:zz", "user:" + "g" * 32, "LOCAL", None, 3, "local\n"])
def test_check_owner_accepts_only_ids_this_module_makes(bad):
    with pytest.raises(PlaygroundError, match="not an owner"):
        owners.check_owner(bad)
    assert owners.check_owner(owners.identify(owners.SHARED).owner)


def test_cookie_less_visitors_past_the_per_address_bound_share_one_owner():
    budget = owners.NewOwnerBudget(per_address=3, window_s=600.0)
    made = [owners.identify("shared", address="203.0.113.7", budget=budget) for _ in range(3)]
    assert all(i.new_token for i in made) and len({i.owner for i in made}) == 3  # three new owners, each with a cookie
    past = [owners.identify("shared", address="203.0.113.7", budget=budget) for _ in range(5)]
    assert len({i.owner for i in past}) == 1 and not any(i.token or i.new_token for i in past)  # one shared owner
    assert past[0].label == owners.SHARED_BY_ADDRESS_LABEL and owners.check_owner(past[0].owner)
    other = owners.identify("shared", address="198.51.100.1", budget=budget)  # another address is not held up
    assert other.new_token and other.owner != past[0].owner
    kept = owners.identify("shared", cookies={owners.COOKIE_NAME: made[0].token}, address="203.0.113.7", budget=budget)
    assert kept.owner == made[0].owner  # a visitor with a cookie keeps their own owner


def test_the_per_address_window_slides_and_forgets_the_oldest_addresses():
    budget = owners.NewOwnerBudget(per_address=1, window_s=10.0, max_addresses=2)
    assert budget.allow("a", now=0.0) and not budget.allow("a", now=5.0)
    assert budget.allow("a", now=10.0)  # the window moved on
    assert budget.allow("b", now=10.0) and budget.allow("c", now=10.0)
    assert list(budget.made) == ["b", "c"]  # "a" forgotten: bounded memory


def test_the_client_address_comes_from_the_named_proxy_header_only():
    headers = {"X-Real-IP": "203.0.113.7", "X-Forwarded-For": "10.9.9.9"}
    assert owners.client_address(headers, "127.0.0.1", {owners.ADDRESS_HEADER_ENV: "X-Real-IP"}) == "203.0.113.7"
    assert owners.client_address(headers, "127.0.0.1", {}) == "127.0.0.1"  # no header named: the peer
    assert owners.client_address({"X-Real-IP": "'; DROP"}, None, {owners.ADDRESS_HEADER_ENV: "X-Real-IP"}) is None
