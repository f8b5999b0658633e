"""`python -m infra.simulator --seed 1 --scale 5000 --port 8900`: serve a world until interrupted."""

from __future__ import annotations

import argparse
import threading

from infra.simulator.server import start_simulator


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m infra.simulator", description=__doc__)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--scale", type=int, default=5000, help="about this many posts and replies")
    parser.add_argument("--port", type=int, default=8900, help="0 picks a free port")
    parser.add_argument("--token", default="sim-token", help="the access token platforms that need one accept")
    parser.add_argument("--rate-limit-every", type=int, default=None, help="rate-limit every Nth request")
    args = parser.parse_args(argv)
    handle = start_simulator(seed=args.seed, scale=args.scale, port=args.port, token=args.token,
                             rate_limit_every=args.rate_limit_every)
    print(f"simulator: {handle.base_url}  (seed {args.seed}, {len(handle.world.nodes)} records)")
    for name, profile in handle.world.profiles.items():
        token = f", token {args.token}" if profile.token_required else ""
        print(f"{name} base_url: {handle.api_base_url(name)}  (account {profile.account}{token})")
    print(f"control: GET {handle.base_url}/_sim/state, POST {handle.base_url}/_sim/advance", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        handle.stop()


if __name__ == "__main__":
    main()
