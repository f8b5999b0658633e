"""The clerk app's doors: sign-in, sessions, CSRF, roles, headers, and that the public portal has none
of its routes."""

from __future__ import annotations

import re

import pytest

from archiver.users import MAX_FAILURES
from tests.clerk.conftest import PASSWORD, csrf_token, sign_in

GET_PAGES = ["/", "/search?q=police", "/requests/", "/requests/new", "/holds/", "/redactions/", "/packages/",
             "/retention/", "/audit"]
POSTS = ["/requests/", "/holds/", "/redactions/", "/packages/", "/retention/dry-run", "/holds/hold-x/release",
         "/requests/PRR-1/close", "/redactions/red-x/remove", "/retention/disp-x/approve", "/logout"]


@pytest.mark.parametrize("path", GET_PAGES)
def test_every_page_sends_anyone_not_signed_in_to_the_sign_in_page(clerk_archive, path) -> None:
    response = clerk_archive.app.test_client().get(path)
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login")
    assert "records" not in response.get_data(as_text=True).lower() or "login" in response.get_data(as_text=True)


@pytest.mark.parametrize("path", POSTS)
def test_every_post_is_refused_to_anyone_not_signed_in(clerk_archive, path) -> None:
    client = clerk_archive.app.test_client()
    token = csrf_token(client.get("/login").get_data(as_text=True))
    response = client.post(path, data={"csrf_token": token, "reason": "x", "q": "police"})
    assert response.status_code == 401


def test_a_post_without_a_valid_csrf_token_is_refused_and_changes_nothing(clerk_archive, signed_in) -> None:
    client, token = signed_in("clara")
    with clerk_archive.catalog() as catalog:
        before = len(catalog.holds(include_released=True))
    for data in ({}, {"csrf_token": "forged"}, {"csrf_token": token[:-4] + "AAAA"}):
        response = client.post("/holds/", data={**data, "reason": "PRR-9", "q": "police"})
        assert response.status_code == 400
        assert "CSRF" in response.get_data(as_text=True)
    with clerk_archive.catalog() as catalog:
        assert len(catalog.holds(include_released=True)) == before
    # the same form with the page's token goes through: the refusal was the token
    response = client.post("/holds/", data={"csrf_token": token, "reason": "PRR-9", "platform": "bluesky"})
    assert response.status_code == 302
    with clerk_archive.catalog() as catalog:
        assert len(catalog.holds(include_released=True)) == before + 1


def test_sign_in_with_a_wrong_password_is_refused_without_saying_why(clerk_archive) -> None:
    client = clerk_archive.app.test_client()
    wrong = sign_in(client, "clara", "not the password at all")
    unknown = sign_in(client, "nobody", PASSWORD)
    assert wrong.status_code == unknown.status_code == 401
    message = re.search(r'role="alert">([^<]+)<', wrong.get_data(as_text=True)).group(1)
    assert message == re.search(r'role="alert">([^<]+)<', unknown.get_data(as_text=True)).group(1)
    assert client.get("/").status_code == 302  # still not signed in


def test_lockout_after_repeated_failures_even_for_the_right_password(clerk_archive) -> None:
    client = clerk_archive.app.test_client()
    for _ in range(MAX_FAILURES):
        assert sign_in(client, "clara", "a wrong password!").status_code == 401
    assert sign_in(client, "clara", PASSWORD).status_code == 401  # locked
    with clerk_archive.catalog() as catalog:
        row = catalog.user("clara")
        assert row.failed_logins == MAX_FAILURES and row.locked_until is not None
        reasons = [entry.details["reason"] for entry in catalog.audit_trail(actor="clara", action="clerk.login-refused")]
    assert reasons[0].startswith("account locked until")
    assert reasons.count("wrong password") == MAX_FAILURES


def test_the_session_cookie_is_httponly_samesite_strict_and_secure_when_configured(archived, tmp_path) -> None:
    import shutil

    from archiver.config import load_config
    from clerk import create_clerk_app

    data_dir = tmp_path / "a"
    shutil.copytree(archived, data_dir)
    text = (data_dir / "sunshine.toml").read_text().replace("secure_cookies = false", "secure_cookies = true")
    (data_dir / "sunshine.toml").write_text(text)
    app = create_clerk_app(load_config(data_dir / "sunshine.toml"))
    client = app.test_client()
    response = sign_in(client, "clara")
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Secure" in cookie
    assert PASSWORD not in cookie


def test_pages_carry_a_strict_csp_and_are_never_cached(signed_in) -> None:
    client, _ = signed_in("clara")
    for path in ("/login", "/", "/search?q=police", "/audit"):
        response = client.get(path)
        assert "script-src 'self'" in response.headers["Content-Security-Policy"]
        assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
        assert response.headers["Cache-Control"] == "no-store"
        assert response.headers["X-Frame-Options"] == "DENY"


def test_an_auditor_reads_everything_but_cannot_place_a_hold(clerk_archive, signed_in) -> None:
    client, token = signed_in("audrey")
    for path in GET_PAGES:
        assert client.get(path).status_code == 200, path
    response = client.post("/holds/", data={"csrf_token": token, "reason": "PRR-9", "platform": "bluesky"})
    assert response.status_code == 403
    assert client.post("/retention/dry-run", data={"csrf_token": token}).status_code == 403
    with clerk_archive.catalog() as catalog:
        assert catalog.holds(include_released=True) == []


def test_only_a_records_manager_approves_a_disposition_run(clerk_archive, signed_in) -> None:
    clerk, token = signed_in("clara")
    response = clerk.post("/retention/dry-run", data={"csrf_token": token})
    assert response.status_code == 302
    approval_id = response.headers["Location"].rsplit("/", 1)[1]
    assert clerk.post(f"/retention/{approval_id}/approve", data={"csrf_token": token}).status_code == 403
    manager, token = signed_in("manny")
    assert manager.post(f"/retention/{approval_id}/approve", data={"csrf_token": token}).status_code == 302
    with clerk_archive.catalog() as catalog:
        assert catalog.approval(approval_id).status == "approved"


def test_a_password_reset_or_disable_ends_open_sessions(clerk_archive, signed_in) -> None:
    from archiver.users import reset_password, set_disabled

    client, _ = signed_in("clara")
    assert client.get("/").status_code == 200
    with clerk_archive.catalog() as catalog:
        reset_password(catalog, "clara", "another long password", "admin")
    assert client.get("/").status_code == 302
    client, _ = signed_in("manny")
    with clerk_archive.catalog() as catalog:
        set_disabled(catalog, "manny", True, "admin")
    assert client.get("/").status_code == 302
    assert sign_in(clerk_archive.app.test_client(), "manny").status_code == 401


def test_sign_in_redirects_only_within_the_site(clerk_archive) -> None:
    client = clerk_archive.app.test_client()
    token = csrf_token(client.get("/login").get_data(as_text=True))
    for target, expected in (("/holds/", "/holds/"), ("//evil.example/x", "/"), ("https://evil.example/", "/")):
        client = clerk_archive.app.test_client()
        token = csrf_token(client.get("/login").get_data(as_text=True))
        response = client.post("/login", data={"username": "clara", "password": PASSWORD, "csrf_token": token,
                                               "next": target})
        assert response.headers["Location"] == expected


def test_the_public_portal_serves_no_clerk_route(clerk_archive) -> None:
    from portal import create_app

    portal = create_app(clerk_archive.config).test_client()
    for path in ["/login", *GET_PAGES[2:]]:
        assert portal.get(path).status_code == 404, path
    # the home page, search and static files exist on both, each its own (the portal's are public)
    shared = {"/static/<path:filename>", "/", "/search"}
    clerk_rules = {rule.rule for rule in clerk_archive.app.url_map.iter_rules()} - shared
    portal_rules = {rule.rule for rule in create_app(clerk_archive.config).url_map.iter_rules()}
    assert not clerk_rules & portal_rules
