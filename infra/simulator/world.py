"""A police department's social media, generated from a seed: one account on each profiled platform.

The department is platform-neutral: posts, replies, authors, edits, hides, deletions, media and
time steps. What differs per platform (ids, timestamps, how authors are named, whether its feed
carries replies, whether comments can be hidden) each platform's profile says
(`infra/simulator/profiles.py`); posts are dealt to the platforms in the table's order.

The world is a forest of threads: department posts at the roots, resident and department replies
nested below (at most `MAX_DEPTH` levels, or the profile's `max_depth`). Only structure is generated
up front (cheap even at 100,000 records); texts, CIDs and images are pure functions of (seed, record, version) made when
first asked for. `advance()` moves simulated time one week: it deletes, edits and hides a few
records and adds new posts and replies, all decided by a random generator seeded from (seed, step),
so the same seed and the same number of steps always give the same world.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import NamedTuple

from infra.simulator import ids, png, text
from infra.simulator.bluesky import BLUESKY, BLUESKY_HANDLE  # noqa: F401 - re-exported (bench, tests)
from infra.simulator.facebook import FACEBOOK, FACEBOOK_PAGE_ID  # noqa: F401 - re-exported
from infra.simulator.profiles import PROFILES
from infra.simulator.text import DEPARTMENT_NAME

PLATFORMS = tuple(PROFILES)
DEPARTMENT = -1  # author index of the department itself
MAX_DEPTH = 5  # deepest reply level
POST_SHARE = 0.135  # department posts as a share of all records
START_MS = 1_768_500_000_000  # simulated "now" at step 0: 2026-01-15T18:00:00Z
HISTORY_MS = 730 * 86_400_000  # the initial posts span two years before "now"
STEP_MS = 7 * 86_400_000  # one advance() = one week
HOSTILE_KINDS = ("xss", "huge", "lone_surrogate", "bidi")


class Ref(NamedTuple):
    """A record as the platform names it."""

    platform: str
    native_id: str


@dataclass(frozen=True)
class StepChanges:
    """What one step did (step 0 = the initial generation, everything `new`)."""

    step: int
    now: str
    new: tuple[Ref, ...]
    edited: tuple[Ref, ...]
    deleted: tuple[Ref, ...]  # includes replies deleted with their parent
    hidden: tuple[Ref, ...]


@dataclass(frozen=True)
class SimRecord:
    """One record as the world currently has it (the ground truth tests compare the archive with)."""

    platform: str
    native_id: str
    kind: str  # "post" | "reply"
    parent_id: str | None  # native id of the parent post/reply
    thread_id: str  # native id of the thread's root post
    depth: int  # 0 for posts
    author: str  # as the platform's profile names authors (Bluesky handle, Facebook display name)
    author_is_department: bool
    created_at: str  # the platform's own timestamp format (its profile's `timestamp`)
    text: str
    status: str  # "active" | "edited" | "hidden" | "deleted"
    version: int  # number of edits so far
    media: tuple[str, ...]  # image names, served at /media/<name>.png


@dataclass(frozen=True)
class HostileRecord:
    kind: str  # one of HOSTILE_KINDS
    platform: str
    native_id: str
    text: str


@dataclass(frozen=True)
class Resident:
    """A resident who replies; each profile derives its platform identity from `slug` and `number`."""

    name: str
    slug: str  # the name in lower case without spaces
    number: int


class Node:
    """One record's mutable state (internal; views read it, only `World` writes it)."""

    __slots__ = ("idx", "platform", "parent", "root", "depth", "author", "created_ms", "version",
                 "edited_ms", "deleted", "hidden", "images", "children", "native_id", "key",
                 "parent_version", "root_version", "open")

    def __init__(self, idx: int, platform: str, parent: Node | None, author: int, created_ms: int) -> None:
        self.idx = idx
        self.platform = platform
        self.parent = parent
        self.root: Node = parent.root if parent is not None else self
        self.depth = parent.depth + 1 if parent is not None else 0
        self.author = author
        self.created_ms = created_ms
        self.version = 0
        self.edited_ms = created_ms
        self.deleted = False
        self.hidden = False
        self.images: tuple[str, ...] = ()
        self.children: list[Node] = []
        self.open: list[Node] | None = [] if parent is None else None  # thread nodes that can take replies
        self.native_id = ""
        self.key = ""  # the platform's own short id (a Bluesky rkey, a Facebook object number)
        self.parent_version = 0  # the parent's version when this reply was made (its strong ref)
        self.root_version = 0

    @property
    def is_department(self) -> bool:
        return self.author == DEPARTMENT

    @property
    def status(self) -> str:
        if self.deleted:
            return "deleted"
        if self.hidden:
            return "hidden"
        return "edited" if self.version else "active"


class World:
    """A deterministic department: `World(seed, scale)` holds about `scale` posts and replies.

    `platforms` restricts it to some profiles (in table order). Posts are dealt to the platforms in
    turn, so a world of the first N profiles stays byte-for-byte the same when profiles are added
    after them: an archive made before a platform existed is served exactly as it was.
    """

    def __init__(self, seed: int, scale: int = 5000, platforms: tuple[str, ...] | None = None) -> None:
        unknown = sorted(set(platforms or ()) - set(PROFILES))
        if unknown:
            raise ValueError(f"no simulator profile for {', '.join(unknown)} (profiles: {', '.join(PROFILES)})")
        self.seed = seed
        self.scale = scale
        self.step = 0
        self.now_ms = START_MS
        self.profiles = {name: profile for name, profile in PROFILES.items()
                         if platforms is None or name in platforms}
        self.platforms = tuple(self.profiles)
        self.nodes: list[Node] = []
        self.changes: list[StepChanges] = []
        self._by_id: dict[str, dict[str, Node]] = {platform: {} for platform in self.platforms}
        self._hostile: list[tuple[str, Node]] = []
        self._hostile_text: dict[int, str] = {}
        self._protected: set[int] = set()
        self._texts: dict[int, tuple[int, str]] = {}
        self._cids: dict[tuple[int, int], str] = {}
        self._media: dict[str, bytes | None] = {}
        self._feeds: dict[str, tuple[int, list[Node], list[tuple[int, int]]]] = {}
        self.id_base = (seed % 9973) * 10**9  # keeps numeric ids of different seeds apart
        self.residents = self._make_residents(max(25, scale // 30))
        # each platform's identities (the department's and the residents'), made once
        self.platform_state: dict[str, object] = {name: p.setup(self) for name, p in self.profiles.items()}
        self._generate()

    # ----- generation -------------------------------------------------------------------------

    def _make_residents(self, count: int) -> list[Resident]:
        residents = []
        for number in range(count):
            name = text.person_name(ids.digest_int(self.seed, "resident", number))
            residents.append(Resident(name, name.lower().replace(" ", ""), number))
        return residents

    def _add(self, platform: str, parent: Node | None, author: int, created_ms: int, images: int = 0) -> Node:
        node = Node(len(self.nodes), platform, parent, author, created_ms)
        if parent is not None:  # the versions a reply's strong refs point at
            node.parent_version = parent.version
            node.root_version = node.root.version
        self.profiles[platform].assign_ids(self, node, images)
        for name in node.images:
            self._media[name] = None
        self.nodes.append(node)
        self._by_id[platform][node.native_id] = node
        if parent is not None:
            parent.children.append(node)
            if node.depth < min(MAX_DEPTH, self.profiles[platform].max_depth):
                node.root.open.append(node)  # type: ignore[union-attr]
        return node

    def _post(self, rng: random.Random, platform: str, low_ms: int, high_ms: int) -> Node:
        images = 0
        if rng.random() < 0.12:
            images = 1 if rng.random() < 0.7 else 2
        return self._add(platform, None, DEPARTMENT, low_ms + int(rng.random() * (high_ms - low_ms)), images)

    def _reply(self, rng: random.Random, post: Node, not_before_ms: int) -> Node:
        pool = post.open or []
        parent = post
        if pool and rng.random() < 0.45:
            parent = pool[int(rng.random() * len(pool))]
            if parent.deleted:
                parent = post
        author = DEPARTMENT if rng.random() < 0.07 else int(rng.random() * len(self.residents))
        start = max(parent.created_ms, not_before_ms)
        span = max(0, self.now_ms - start - 2000)
        return self._add(post.platform, parent, author, start + 1000 + int(span * rng.random() ** 3))

    def _generate(self) -> None:
        rng = random.Random(self.seed)
        total = max(self.scale, 20)
        # every platform gets a post (hostile replies need a thread on each), and the hostile records
        # count towards the scale (with two profiles: 4 posts, 8 hostile, as worlds always had)
        n_posts = max(4, len(self.platforms), round(total * POST_SHARE))
        n_replies = max(0, total - n_posts - sum(len(self.hostile_kinds(p)) for p in self.platforms))
        posts = [self._post(rng, self.platforms[i % len(self.platforms)], self.now_ms - HISTORY_MS,
                            self.now_ms - 3_600_000)
                 for i in range(n_posts)]
        weights = [rng.paretovariate(1.3) for _ in posts]
        posts_weights = [(p, w) for p, w in zip(posts, weights, strict=True) if self._repliable(p)]
        chosen = rng.choices([p for p, _ in posts_weights], [w for _, w in posts_weights], k=n_replies) \
            if posts_weights else []  # only platforms without replies: the posts are all there is
        for post in chosen:
            self._reply(rng, post, 0)
        self._add_hostile(rng, posts)
        self.changes.append(StepChanges(0, ids.rfc3339(self.now_ms), tuple(self._ref(n) for n in self.nodes),
                                        (), (), ()))

    def _add_hostile(self, rng: random.Random, posts: list[Node]) -> None:
        texts = {"xss": text.XSS, "huge": text.huge_text(), "lone_surrogate": text.LONE_SURROGATE,
                 "bidi": text.BIDI}
        for platform in self.platforms:
            roots = [p for p in posts if p.platform == platform]
            profile = self.profiles[platform]
            for kind in self.hostile_kinds(platform):
                if not profile.has_replies:  # a department post carries the hostile text
                    node = self._post(rng, platform, self.now_ms - HISTORY_MS, self.now_ms - 3_600_000)
                    self._hostile.append((kind, node))
                    self._hostile_text[node.idx] = texts[kind]
                    self._protected.add(node.idx)
                    continue
                node = self._reply(rng, roots[int(rng.random() * len(roots))], 0)
                if node.author == DEPARTMENT:
                    node.author = 0
                    del self._by_id[platform][node.native_id]  # an id may name its author (Bluesky)
                    self.profiles[platform].assign_ids(self, node, 0)
                    self._by_id[platform][node.native_id] = node
                self._hostile.append((kind, node))
                self._hostile_text[node.idx] = texts[kind]
                walker: Node | None = node
                while walker is not None:
                    self._protected.add(walker.idx)
                    walker = walker.parent

    def hostile_kinds(self, platform: str) -> tuple[str, ...]:
        """The hostile texts `platform` gets: all, but a lone surrogate only where its wire format can
        carry one."""
        return tuple(kind for kind in HOSTILE_KINDS
                     if kind != "lone_surrogate" or self.profiles[platform].lone_surrogates)

    # ----- time steps -------------------------------------------------------------------------

    def advance(self) -> StepChanges:
        """Move one week forward: deletions, edits, hidden comments, then new posts and replies."""
        self.step += 1
        rng = random.Random(f"sunshine-simulator:{self.seed}:{self.step}")
        previous_ms, self.now_ms = self.now_ms, self.now_ms + STEP_MS
        live = [n for n in self.nodes if not n.deleted]
        mutable = [n for n in live if n.idx not in self._protected]

        deleted: list[Node] = []
        for node in rng.sample(mutable, min(len(mutable), max(1, round(len(live) * 0.004)))):
            if node.deleted or (node.parent is None and rng.random() < 0.7):
                continue  # posts are deleted less often than replies
            stack = [node]
            while stack:
                current = stack.pop()
                if not current.deleted:
                    current.deleted = True
                    deleted.append(current)
                    stack.extend(current.children)

        mutable = [n for n in mutable if not n.deleted]
        edited = rng.sample(mutable, min(len(mutable), max(1, round(len(mutable) * 0.01))))
        for node in edited:
            node.version += 1
            node.edited_ms = previous_ms + 1000 + int(rng.random() * (STEP_MS - 2000))
        edited_ids = {n.idx for n in edited}
        comments = [n for n in mutable if self.profiles[n.platform].hides_comments and n.parent is not None
                    and not n.is_department and not n.hidden and n.idx not in edited_ids]
        hidden = rng.sample(comments, min(len(comments), max(1, round(len(comments) * 0.01))))
        for node in hidden:
            node.hidden = True
        self._change_postonly(mutable, deleted, edited, previous_ms)

        first_new = len(self.nodes)
        live_count = len(live) - len(deleted)
        n_new = max(2, round(live_count * rng.uniform(0.05, 0.10)))
        n_posts = max(2, round(n_new * POST_SHARE))
        new_posts = [self._post(rng, self.platforms[(i + self.step) % len(self.platforms)], previous_ms,
                                self.now_ms - 3_600_000)
                     for i in range(n_posts)]
        recent = sorted((n for n in live if n.parent is None and not n.deleted),
                        key=lambda n: n.created_ms)[-max(10, live_count // 60):]
        targets = [p for p in new_posts + recent if self._repliable(p)]
        weights = [3.0 if p.idx >= first_new else 1.0 for p in targets]
        for post in rng.choices(targets, weights, k=n_new - n_posts) if targets else []:
            self._reply(rng, post, previous_ms)

        change = StepChanges(self.step, ids.rfc3339(self.now_ms),
                             tuple(self._ref(n) for n in self.nodes[first_new:]),
                             tuple(self._ref(n) for n in edited), tuple(self._ref(n) for n in deleted),
                             tuple(self._ref(n) for n in hidden))
        self.changes.append(change)
        return change

    def _repliable(self, post: Node) -> bool:
        return self.profiles[post.platform].has_replies

    def _change_postonly(self, mutable: list[Node], deleted: list[Node], edited: list[Node],
                         previous_ms: int) -> None:
        """On each platform without replies, delete one post and edit another.

        Its share of the records is small, so the department-wide rates would seldom touch it; a
        random stream of its own leaves the other platforms' generation unchanged.
        """
        for name, profile in self.profiles.items():
            if profile.has_replies:
                continue
            rng = random.Random(f"sunshine-simulator:{self.seed}:{self.step}:{name}")
            done = {n.idx for n in edited}
            pool = [n for n in mutable if n.platform == name and not n.deleted and n.idx not in done]
            if len(pool) < 3:
                continue
            gone, changed = rng.sample(pool, 2)
            gone.deleted = True
            deleted.append(gone)
            changed.version += 1
            changed.edited_ms = previous_ms + 1000 + int(rng.random() * (STEP_MS - 2000))
            edited.append(changed)

    # ----- queries the views and tests use ----------------------------------------------------

    @staticmethod
    def _ref(node: Node) -> Ref:
        return Ref(node.platform, node.native_id)

    def node(self, platform: str, native_id: str) -> Node | None:
        """The node with that native id (deleted ones included), or None."""
        return self._by_id[platform].get(native_id)

    def text_of(self, node: Node) -> str:
        hostile = self._hostile_text.get(node.idx)
        if hostile is not None:
            return hostile
        cached = self._texts.get(node.idx)
        if cached is not None and cached[0] == node.version:
            return cached[1]
        value = text.make_text(ids.digest_int(self.seed, "text", node.idx), department=node.is_department,
                               reply=node.parent is not None, version=node.version)
        self._texts[node.idx] = (node.version, value)
        return value

    def cid(self, node: Node, version: int | None = None) -> str:
        """The record's CID now (or at `version`): an edit makes a new one."""
        key = (node.idx, node.version if version is None else version)
        value = self._cids.get(key)
        if value is None:
            value = self._cids[key] = ids.record_cid(self.seed, *key)
        return value

    def author_name(self, node: Node) -> str:
        return DEPARTMENT_NAME if node.is_department else self.residents[node.author].name

    def live_children(self, node: Node) -> list[Node]:
        """Direct replies not deleted, oldest first."""
        return sorted((c for c in node.children if not c.deleted), key=lambda c: (c.created_ms, c.idx))

    def live_descendants(self, node: Node) -> list[Node]:
        """Every reply under `node` not deleted, oldest first (Facebook's filter=stream)."""
        found: list[Node] = []
        stack = [c for c in node.children if not c.deleted]
        while stack:
            current = stack.pop()
            found.append(current)
            stack.extend(c for c in current.children if not c.deleted)
        found.sort(key=lambda c: (c.created_ms, c.idx))
        return found

    def feed(self, platform: str) -> tuple[list[Node], list[tuple[int, int]]]:
        """The department's live feed items newest first, and their ascending sort keys for bisect.

        A feed holds the department's posts, and its replies too where the profile says so (Bluesky).
        """
        cached = self._feeds.get(platform)
        if cached is not None and cached[0] == self.step:
            return cached[1], cached[2]
        with_replies = self.profiles[platform].feed_has_replies
        items = [n for n in self.nodes if n.platform == platform and n.is_department and not n.deleted
                 and (with_replies or n.parent is None)]
        items.sort(key=lambda n: (-n.created_ms, -n.idx))
        keys = [(-n.created_ms, -n.idx) for n in items]
        self._feeds[platform] = (self.step, items, keys)
        return items, keys

    def media_png(self, name: str) -> bytes | None:
        """The PNG bytes of a media item the world has, or None."""
        if name not in self._media:
            return None
        data = self._media[name]
        if data is None:
            data = self._media[name] = png.make_png(f"{self.seed}:{name}")
        return data

    def media_names(self) -> list[str]:
        return list(self._media)

    # ----- ground truth for tests and the demo ------------------------------------------------

    def to_record(self, node: Node) -> SimRecord:
        profile = self.profiles[node.platform]
        return SimRecord(
            platform=node.platform, native_id=node.native_id,
            kind="post" if node.parent is None else "reply",
            parent_id=node.parent.native_id if node.parent is not None else None,
            thread_id=node.root.native_id, depth=node.depth,
            author=profile.author_label(self, node), author_is_department=node.is_department,
            created_at=profile.timestamp(node.created_ms), text=self.text_of(node),
            status=node.status, version=node.version, media=node.images,
        )

    def records(self, include_deleted: bool = False) -> list[SimRecord]:
        """Every post and reply the world has now (deleted ones too if asked), in creation order."""
        return [self.to_record(n) for n in self.nodes if include_deleted or not n.deleted]

    def record(self, platform: str, native_id: str) -> SimRecord | None:
        node = self.node(platform, native_id)
        return self.to_record(node) if node is not None else None

    def hostile_records(self) -> list[HostileRecord]:
        """The hostile records (never edited or deleted): one of each of `hostile_kinds(p)` on each platform p."""
        return [HostileRecord(kind, node.platform, node.native_id, self._hostile_text[node.idx])
                for kind, node in self._hostile]

    def counts(self) -> dict[str, dict[str, int]]:
        counts: dict[str, dict[str, int]] = {}
        for platform in self.platforms:
            counts[platform] = {"posts": 0, "replies": 0, "deleted": 0, "hidden": 0, "edited": 0, "media": 0}
        for node in self.nodes:
            bucket = counts[node.platform]
            if node.deleted:
                bucket["deleted"] += 1
                continue
            bucket["posts" if node.parent is None else "replies"] += 1
            bucket["hidden"] += node.hidden
            bucket["edited"] += node.version > 0
            bucket["media"] += len(node.images)
        return counts

    def state(self) -> dict[str, object]:
        """The body of GET /_sim/state (without base URLs, which only the server knows)."""
        return {
            "step": self.step, "now": ids.rfc3339(self.now_ms), "seed": self.seed, "scale": self.scale,
            "accounts": {name: profile.account_state(self) for name, profile in self.profiles.items()},
            "counts": self.counts(),
        }
