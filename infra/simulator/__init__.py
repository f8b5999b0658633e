"""The platform simulator: a generated police department served through real platform API shapes.

`start_simulator(seed=…, scale=…)` returns a running `SimulatorHandle`; `World(seed, scale)` is the
generated ground truth (`records()`, `hostile_records()`, `changes`). `PROFILES` (profiles.py) is
the one table of simulated platforms. See `docs/platform-api.md` for the shapes served and
`faults.py` for the broken-answer knob.
"""

from infra.simulator.bluesky import BLUESKY, BLUESKY_HANDLE
from infra.simulator.facebook import FACEBOOK, FACEBOOK_PAGE_ID
from infra.simulator.faults import FAULT_KINDS, Fault
from infra.simulator.profile import Profile
from infra.simulator.profiles import PROFILES
from infra.simulator.server import SimulatorHandle, start_simulator
from infra.simulator.text import DEPARTMENT_NAME
from infra.simulator.world import (
    HOSTILE_KINDS,
    HostileRecord,
    Ref,
    SimRecord,
    StepChanges,
    World,
)

__all__ = [
    "BLUESKY", "BLUESKY_HANDLE", "DEPARTMENT_NAME", "FACEBOOK", "FACEBOOK_PAGE_ID", "FAULT_KINDS",
    "HOSTILE_KINDS", "PROFILES", "Fault", "HostileRecord", "Profile", "Ref", "SimRecord", "SimulatorHandle", "StepChanges",
    "World", "start_simulator",
]
