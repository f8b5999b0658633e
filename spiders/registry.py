"""The one table of platforms: adding a platform is one module `spiders/<platform>.py` ending in
`SPEC = Platform(...)` and one line here (see docs/adding-a-platform.md).

Everything else (the archive runner's spider choice, the config checks in `archiver/cli/wiring.py`,
`extract.find_native`, the parametrized spider tests) reads this table.
"""

from __future__ import annotations

from spiders import bluesky, facebook, instagram, mastodon, rss, web, x, youtube
from spiders.platform import Platform

PLATFORMS: dict[str, Platform] = {spec.name: spec for spec in (
    bluesky.SPEC,
    facebook.SPEC,
    instagram.SPEC,
    x.SPEC,
    youtube.SPEC,
    web.SPEC,
    rss.SPEC,
    mastodon.SPEC,
)}


def platform(name: str) -> Platform:
    """The registered platform `name`; ValueError naming the registered ones otherwise."""
    try:
        return PLATFORMS[name]
    except KeyError:
        raise ValueError(f"no spider for platform {name!r} (registered: {', '.join(sorted(PLATFORMS))})") from None
