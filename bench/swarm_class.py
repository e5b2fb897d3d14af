"""make bench-swarm: the same 5-team class on the local engine and on a one-node Swarm, side by side
(bench/results/swarm_class.json).

Each engine gets bench/class_scale.py's step: `mtdlab class up` of the class (the demo lab at seed
003's 30 s pace, each team with its workstation and the demo's legitimate users; one scoreboard), a settling
minute, a measured window, then `class down`. Side by side: hop latency (decided -> users on the
new port: p50/p95 over every team), legitimate requests and failures, class containers' CPU and
memory, time to start. The swarm is this engine's own if it is in one, else a one-node swarm made
for the bench and left afterwards.
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.class_scale import step  # noqa: E402
from mtdlab.host.swarm import one_node_swarm  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--teams", type=int, default=5, help="teams in the class (default 5)")
    # The 30 s pace: the largest class this machine held locally is 5 teams at it (class_scale.json),
    # so latency compares the engines, not two ways of queueing on saturated cores.
    ap.add_argument("--scenario", default="bench/scenarios/demo-30s.yaml",
                    help="every team's scenario (default the demo lab hopping every 30 s)")
    ap.add_argument("--window", type=float, default=120.0, help="measured seconds per engine (default 120)")
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "swarm_class.json")
    args = ap.parse_args()
    say = lambda m: print(m, file=sys.stderr, flush=True)  # noqa: E731
    result = {"teams": args.teams, "scenario": args.scenario, "window_s": args.window, "engines": {}}
    with tempfile.TemporaryDirectory(prefix="mtdlab-bench-swarm-") as tmp, one_node_swarm(say):
        for engine in ("local", "swarm"):
            say(f"bench-swarm: {args.teams} teams on the {engine} engine")
            (Path(tmp) / engine).mkdir()
            result["engines"][engine] = step(args.teams, (ROOT / args.scenario).resolve(), args.window,
                                             Path(tmp) / engine, say, engine=engine)
            say(f"bench-swarm: {json.dumps(result['engines'][engine])}")
            args.out.parent.mkdir(parents=True, exist_ok=True)
            args.out.write_text(json.dumps(result, indent=2) + "\n")   # kept if the next engine fails
    local, swarm = result["engines"]["local"], result["engines"]["swarm"]
    if "error" not in local and "error" not in swarm:
        result["swarm_over_local"] = {
            f"hop_new_port_live_{q}": round(swarm["hop_new_port_live_s"][q] / local["hop_new_port_live_s"][q], 2)
            for q in ("p50", "p95") if local["hop_new_port_live_s"][q]}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
