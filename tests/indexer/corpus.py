"""A fixed, deterministic corpus for the search contract suite.

About 150 records: filler posts and reply threads across platforms, accounts, kinds, statuses and the
twelve months of 2024, written only with words no contract query uses, plus a few "marker" records
whose ids the queries expect by name (`m-…`), and hostile texts. Every record has its own
`created_at`, so newest-first orders are total.
"""

from __future__ import annotations

from dataclasses import replace

from archiver.model import KINDS, STATUSES, RecordDoc

FILLER_WORDS = ["weather", "sunny", "update", "schedule", "road", "closure", "parade", "notice", "community", "picnic", "volunteer", "thanks", "reminder", "holiday", "lost", "dog", "found", "cat", "traffic", "detour", "lights", "harbor", "museum", "library", "garden"]
PLATFORM_ACCOUNTS = {
    "bluesky": ("springfieldpd.bsky.social",),
    "facebook": ("123456789", "987654321"),
    "x": ("SpringfieldPD",),
    "mastodon": ("spd@police.social",),
    "youtube": ("UCspd",),
}
ONE_MEGABYTE_TEXT = "filler " * 80_000 + "zinnia in the middle " + "filler " * 70_000 + "end"
HOSTILE_TEXTS = {
    "m-hostile-surrogate": "lone \ud800 surrogate \udfff marigold",
    "m-hostile-rtl": "\u202eright to left override\u202c tulip \u200f\u2066isolate\u2069",
    "m-hostile-script": "<script>alert('x')</script> lavender <img src=x onerror=alert(1)> &amp;",
    "m-hostile-nul": "nul\x00byte peony \ue000fake marker\ue001",
    "m-hostile-big": ONE_MEGABYTE_TEXT,
}
MARKERS = {  # record id -> text; the query expectations below rely on exactly these words
    "m-arrest-1": "Officers arrested a suspect after a brief chase downtown.",
    "m-arrest-2": "Two arrests were made at the county fair.",
    "m-arrest-3": "Arrest warrant issued for the burglary suspect.",
    "m-cafe-1": "Coffee with a cop at the Café Luna this Saturday.",
    "m-cafe-2": "The cafe on Main Street reported a break-in.",
    "m-council-1": "City council tonight.",
    "m-council-2": "The council of the city voted on the agenda for the meeting in the city hall.",
    "m-council-long": (
        "Minutes and video from every session are posted online after review by the clerk and the "
        "records office, including the city council session notes, attendance, public comment, "
        "presentations, budget tables, correspondence, and the schedule of upcoming sessions for "
        "residents who could not attend in person or watch the broadcast."
    ),
    "m-bike-1": "Stolen bicycle recovered near the park.",
    "m-bike-2": "Bicycle safety class for kids.",
    "m-burglary": "Burglaries are down this quarter.",
    "m-fireworks": "Fireworks are illegal without a permit.",
    "m-author": "Thanks for the update",  # its author is the match: "Wendell Quixote"
    "m-visitor-post": "Visitor post on the department page about ravens.",
    **HOSTILE_TEXTS,
}


def _stamp(n: int) -> str:
    """A distinct created_at for record n, spread over 2024 (month = n % 12)."""
    month = 1 + n % 12
    day = 1 + (n // 12) % 28  # distinct per month for n < 336
    return f"2024-{month:02d}-{day:02d}T{(n * 5) % 24:02d}:{n % 60:02d}:{(n * 13) % 60:02d}Z"


def _record(n: int, record_id: str, text: str, *, kind: str, parent_id: str | None, thread_id: str,
            author: str, by_department: bool) -> RecordDoc:
    platforms = list(PLATFORM_ACCOUNTS)
    platform = platforms[n % len(platforms)]
    accounts = PLATFORM_ACCOUNTS[platform]
    return RecordDoc(
        record_id=record_id, platform=platform, account=accounts[n % len(accounts)], kind=kind,
        native_id=str(n), url=f"https://{platform}.example/{record_id}", author=author,
        author_is_department=by_department, created_at=_stamp(n), text=text, parent_id=parent_id,
        thread_id=thread_id, status=STATUSES[n % len(STATUSES)], sha256=f"{n:064x}", ledger_index=n,
        media=({"url": f"https://cdn.example/{n}.jpg", "sha256": f"{n + 1:064x}", "mime": "image/jpeg"},)
        if kind == "media" else (),
        versions=tuple(
            {"record_id": record_id, "version": v, "captured_at": f"2025-01-{v:02d}T00:00:00Z",
             "status": "active" if v == 1 else "edited", "content_sha256": f"{n * 10 + v:064x}",
             "warc_ref": {"key": f"warc/{n}.warc.gz", "offset": 100 * v, "length": 99}, "ledger_index": n * 3 + v}
            for v in range(1, 2 + n % 2)
        ),
    )


def filler_text(n: int) -> str:
    words = [FILLER_WORDS[(n * 7 + i * 3) % len(FILLER_WORDS)] for i in range(5 + n % 9)]
    return " ".join(words).capitalize() + "."


def build_corpus() -> list[RecordDoc]:
    """The corpus: 20 threads of a post and 3-5 replies/media, then the markers (some as replies)."""
    docs: list[RecordDoc] = []
    n = 0
    for thread in range(20):
        n += 1
        post_id = f"t{thread:02d}-post"
        docs.append(_record(n, post_id, filler_text(n), kind="post", parent_id=None, thread_id=post_id,
                            author="Springfield PD", by_department=True))
        parent = post_id
        for reply in range(3 + thread % 3):
            n += 1
            kind = "media" if reply == 2 and thread % 4 == 0 else "reply"
            reply_id = f"t{thread:02d}-r{reply}"
            docs.append(_record(n, reply_id, filler_text(n), kind=kind, parent_id=parent, thread_id=post_id,
                                author=f"Resident {n % 7}", by_department=False))
            parent = reply_id if reply % 2 == 0 else post_id
    for index, (record_id, text) in enumerate(MARKERS.items()):
        n += 1
        as_reply = index % 3 == 1 and record_id != "m-visitor-post"
        thread_id = f"t{index % 20:02d}-post" if as_reply else record_id
        author = "Wendell Quixote" if record_id == "m-author" else "Springfield PD"
        docs.append(_record(
            n, record_id, text, kind="reply" if as_reply or record_id == "m-author" else "post",
            parent_id=thread_id if as_reply else None, thread_id=thread_id, author=author,
            by_department=record_id not in ("m-visitor-post", "m-author"),
        ))
    for extra in range(60):  # more filler posts so facets and pages have some depth
        n += 1
        record_id = f"f{extra:02d}"
        docs.append(_record(n, record_id, filler_text(n), kind=KINDS[extra % 2 * 2], parent_id=None,
                            thread_id=record_id, author="Springfield PD", by_department=True))
    assert len({doc.record_id for doc in docs}) == len(docs)
    assert len({doc.created_at for doc in docs}) == len(docs)
    return docs


def edited(doc: RecordDoc, text: str) -> RecordDoc:
    """`doc` as a later capture saw it: new text, status edited, one more version."""
    version = {**doc.versions[-1], "version": len(doc.versions) + 1, "status": "edited"}
    return replace(doc, text=text, status="edited", versions=(*doc.versions, version))
