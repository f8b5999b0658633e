"""A clerk answers a request on the clerk pages (in-process over HTTP): search, save a request,
redact a reply, export, download. Every action is in the audit trail with who, when and the client
address, and in the ledger; the catalog holds no password, only argon2 hashes."""

from __future__ import annotations

import io
import json
import zipfile

from archiver.ledger.log import LogReader  # noqa: F401 - the ledger's one reader, for checking events below
from tests.clerk.conftest import ACCOUNTS, PASSWORD


def _reply_with_words(catalog) -> tuple[str, str, str]:
    """A reply in a thread, a word of its text, and the thread's department post."""
    row = catalog.db.execute(
        "SELECT r.record_id, r.text, r.thread_id FROM records r WHERE r.kind = 'reply' AND r.platform = 'bluesky'"
        " AND length(r.text) > 30 ORDER BY r.record_id LIMIT 1").fetchone()
    word = max(row["text"].split(), key=len).strip(".,!?;:\"'()")
    return row["record_id"], word, row["thread_id"]


def _ledger_events(catalog) -> list[dict]:
    return [json.loads(bytes(row[0])) for row in catalog.db.execute("SELECT entry FROM ledger ORDER BY idx")
            if b'"type":"' in bytes(row[0]) and b'"type":"capture"' not in bytes(row[0])]


def test_a_clerk_answers_a_request_and_every_action_is_audited_and_logged(clerk_archive, signed_in) -> None:
    with clerk_archive.catalog() as catalog:
        reply, word, thread = _reply_with_words(catalog)
        platform_account = catalog.db.execute("SELECT account FROM records WHERE record_id = ?", (thread,)).fetchone()[0]
    client, token = signed_in("clara")

    found = client.get("/search", query_string={"platform": "bluesky", "account": platform_account, "kind": "post"})
    assert found.status_code == 200 and 'id="total"' in found.get_data(as_text=True)
    # one thread, so the package (and its PDF) stays small
    saved = client.post("/requests/", data={"csrf_token": token, "number": "PRR-2026-001",
                                            "description": "A post and its replies", "received": "2026-01-02",
                                            "due": "2026-01-30", "records": thread})
    assert saved.status_code == 302 and saved.headers["Location"].endswith("/requests/PRR-2026-001")
    page = client.get("/requests/PRR-2026-001").get_data(as_text=True)
    assert reply in page  # whole threads: the reply under a department post is in scope

    redacted = client.post("/redactions/", data={"csrf_token": token, "record_id": reply, "scope": "text",
                                                 "target": word, "basis": clerk_archive.config.redaction_bases[0],
                                                 "back": "/requests/PRR-2026-001"})
    assert redacted.status_code == 302
    exported = client.post("/packages/", data={"csrf_token": token, "request": "PRR-2026-001"})
    assert exported.status_code == 302
    page = client.get("/requests/PRR-2026-001").get_data(as_text=True)
    name = page.split('class="package" href="/packages/')[1].split('"')[0]
    download = client.get(f"/packages/{name}")
    assert download.status_code == 200 and download.mimetype == "application/zip"
    with zipfile.ZipFile(io.BytesIO(download.data)) as package:
        records = next(n for n in package.namelist() if n.endswith("data/records.jsonl"))
        lines = [json.loads(line) for line in package.read(records).decode().splitlines()]
    shown = next(line for line in lines if line["record_id"] == reply)
    assert word.lower() not in json.dumps(shown).lower()

    with clerk_archive.catalog() as catalog:
        clerk_rows = catalog.audit_trail(actor="clara", action="clerk.")
        done = {entry.action for entry in clerk_rows}
        assert {"clerk.login", "clerk.request.save", "clerk.redaction.add", "clerk.package.export",
                "clerk.package.download"} <= done
        assert all(entry.details.get("client") == "127.0.0.1" for entry in clerk_rows)
        events = _ledger_events(catalog)
        assert catalog.unpublished_ledger()[1] == []  # published at once
    kinds = {event["type"] for event in events}
    assert {"request", "hold", "redaction", "package", "clerk"} <= kinds
    assert not any("127.0.0.1" in json.dumps(event) for event in events)  # the address stays private
    assert not any(word in json.dumps(event) for event in events if event["type"] != "capture")


def test_the_catalog_holds_no_password_only_argon2_hashes(clerk_archive, signed_in) -> None:
    signed_in("clara")  # a sign-in may rehash: still no password
    with clerk_archive.catalog() as catalog:
        hashes = {row.username: row.password_hash for row in catalog.users()}
    assert set(hashes) == set(ACCOUNTS)
    assert all(digest.startswith("$argon2id$") and PASSWORD not in digest for digest in hashes.values())
    assert len(set(hashes.values())) == len(hashes)  # salted: one password, different hashes
    for path in clerk_archive.config.catalog_path.parent.glob("catalog.sqlite*"):
        assert PASSWORD.encode() not in path.read_bytes(), path


def test_audit_trail_page_filters_by_who_and_what(clerk_archive, signed_in) -> None:
    client, token = signed_in("clara")
    client.post("/holds/", data={"csrf_token": token, "reason": "PRR-5", "platform": "mastodon"})
    auditor, _ = signed_in("audrey")

    def rows(**query) -> str:
        return auditor.get("/audit", query_string=query).get_data(as_text=True).split("<tbody>")[1]

    only = rows(actor="clara", action="clerk.hold")
    assert "clerk.hold.place" in only and "clerk.login" not in only and "audrey" not in only
    logins = rows(action="clerk.login")
    assert "audrey" in logins and "clara" in logins and "hold.place" not in logins
    assert "PRR-5" in rows(q="PRR-5") and "PRR-5" not in rows(q="PRR-6")
