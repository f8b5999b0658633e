"""What a platform profile tells the simulator: its routes, ids, timestamps and answers.

`World` (world.py) is a platform-neutral department: posts, replies, authors, edits, hides,
deletions, media, time steps. Everything a platform does differently lives in its profile module
(`infra/simulator/<platform>.py`, ending in `PROFILE = Profile(...)`), listed once in
`infra/simulator/profiles.py`. `SimulatorApp` routes a request to the profile whose `prefix` starts
its path; `World` asks the profile for ids, timestamps and author labels.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from infra.simulator.wire import Reply

if TYPE_CHECKING:
    from infra.simulator.world import Node, World


@dataclass(frozen=True)
class Route:
    """One request to a platform, split once by the app."""

    method: str
    target: str  # path and query string as received
    path: str  # the path alone
    parts: list[str]  # unquoted path segments after the profile's prefix
    params: Mapping[str, str]  # the first value of each query parameter
    multi: Mapping[str, list[str]]  # every value of each query parameter
    headers: Mapping[str, str]
    base_url: str  # the server's own URL, for media and `next` links
    token: str  # the access token this server accepts


@dataclass(frozen=True)
class RecordFields:
    """The first record of a JSON answer, for the `missing_id` and `wrong_types` faults (faults.py):
    `obj` the record object as the answer holds it, and dotted paths in it (`record.text`) to its
    native id, its text and its time."""

    obj: dict[str, Any]
    id: str
    text: str
    time: str


@dataclass(frozen=True)
class Profile:
    """One simulated platform.

    `prefix`: every route of the platform starts with it (`/bluesky`). `api_path`: what follows the
    server URL in a source's `base_url` (`/facebook/v21.0`). `account`: the department's account id
    as a source names it. `token_required`: the API refuses calls without the server's token (answers
    then depend on a header, so they are not cached). `feed_has_replies`: the department's own replies
    appear in its feed. `hides_comments`: the department can hide residents' replies.

    `setup(world)` makes the platform's identities (the department's and each resident's) once; its
    result is `world.platform_state[name]`. `assign_ids(world, node, images)` gives a new node its
    native id and platform key and names its `images` media items. `timestamp(ms)` is the platform's
    own time format; `author_label(world, node)` the author as the ground truth names them;
    `account_state(world)` the platform's entry in `/_sim/state`. `handle(world, route)` answers a GET
    (token check included); `throttled(retry_after, target)` is its rate-limit answer;
    `unsupported_method(target)` its answer to anything but GET. `max_depth`: the deepest reply level
    the platform can express (2 where a reply can only answer a top-level comment, as on YouTube);
    the world never nests replies deeper there, so its ground truth is what the platform can state.
    `has_replies`: the platform carries replies at all (a news feed or a website does not): when
    False the world deals it none, its hostile texts are posts, and each step also deletes and edits
    one of its posts, so its few records still change. `lone_surrogates`: its wire format can carry a
    lone surrogate (JSON's `\\ud800` escape can; XML and HTML cannot), else the world gives it none.
    `first_record(doc)`: where a parsed JSON answer (feed page, thread, object) keeps its first record,
    or None; the platform's mirror of its spider's `iter_raw_objects`, so faults break a field the
    spider reads whatever the answer's shape. None for a platform that does not answer in JSON.
    """

    name: str
    prefix: str
    api_path: str
    account: str
    token_required: bool
    feed_has_replies: bool
    hides_comments: bool
    setup: Callable[[World], Any]
    assign_ids: Callable[[World, Node, int], None]
    timestamp: Callable[[int], str]
    author_label: Callable[[World, Node], str]
    account_state: Callable[[World], dict[str, Any]]
    handle: Callable[[World, Route], Reply]
    throttled: Callable[[int, str], Reply]
    unsupported_method: Callable[[str], Reply]
    max_depth: int = 5
    has_replies: bool = True
    lone_surrogates: bool = True
    first_record: Callable[[Any], RecordFields | None] | None = None
    # The API takes a token without requiring one, and answers more with it (Mastodon: a thread's
    # context past 60 replies); the demo gives such a source its token so it archives everything.
    token_accepted: bool = False

    def owns(self, path: str) -> bool:
        """Whether a request path is this platform's."""
        return path == self.prefix or path.startswith(self.prefix + "/")
