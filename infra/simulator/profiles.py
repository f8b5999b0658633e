"""The one table of simulated platforms: adding one is a profile module `infra/simulator/<platform>.py`
ending in `PROFILE = Profile(...)` and one line here (see docs/adding-a-platform.md).

The order matters: the world deals its posts to the platforms in this order (post i goes to platform
i mod n), so adding or reordering a profile changes what every seed generates.
"""

from __future__ import annotations

from infra.simulator import bluesky, facebook, instagram, mastodon, rss, web, x, youtube
from infra.simulator.profile import Profile

PROFILES: dict[str, Profile] = {profile.name: profile for profile in (
    bluesky.PROFILE,
    facebook.PROFILE,
    instagram.PROFILE,
    x.PROFILE,
    youtube.PROFILE,
    web.PROFILE,
    rss.PROFILE,
    mastodon.PROFILE,
)}
