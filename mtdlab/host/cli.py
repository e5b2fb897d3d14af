"""mtdlab: the host-side command line.

  mtdlab run SCENARIO      run a scenario in its own lab; the folder ends with summary.json and report.html
  mtdlab report RUN_DIR    make summary.json and report.html again from a run folder's raw data
  mtdlab sweep SWEEP       run a grid of scenarios (resumable); the folder ends with sweep.json and sweep.html
  mtdlab rerun RUN_DIR     run a finished run's scenario again and say whether its figures fall in the old intervals
  mtdlab compare DIR...    one page with several runs' figures side by side
  mtdlab validate FILE...  check scenario files without starting anything (exit 2 naming file:line if not)
  mtdlab coverage          simulate many runs (no Docker): how often each reported 95% interval covers the truth
  mtdlab check RUN_DIR     judge a run: hops per service, attacker sweeps against the truth
                           log, the legitimate client's failures (JSON; exit 1 if anything fails)
  mtdlab load URL          a legitimate client on a loopback URL, at a steady rate
  mtdlab client ...        reach a keyed service directly (seed 001), computing its port
  mtdlab console ...       the lab's management console: map, hop, config (signed requests)
  mtdlab down [LAB]        remove a lab's containers, networks and volume (default: the demo)
"""
from __future__ import annotations

import argparse
import ipaddress
import json
import os
import socket
import sys
from pathlib import Path
from urllib.parse import urlsplit

from mtdlab.contract.events import read_events
from mtdlab.host import engines
from mtdlab.contract.clientlog import read_load, summarize
from mtdlab.inlab.legit import run_load
from mtdlab.analysis.sweeps import judge_sweeps, sweep_summary
from mtdlab.analysis.truth import read_truth


def check(run_dir: Path, min_hops: int) -> tuple[dict, bool]:
    truth = read_truth(run_dir / "truth.jsonl")
    result: dict = {"run_dir": str(run_dir),
                    "window_s": round(truth.end - truth.start, 1),
                    "hops": {s: truth.hops.get(s, 0) for s in truth.services()}}
    ok = all(n >= min_hops for n in result["hops"].values())
    obs = run_dir / "attacker" / "observations.jsonl"
    if obs.exists():
        sweeps = [e for e in read_events(obs) if e["event"] == "sweep.done"]
        result["sweeps"] = sweep_summary(judge_sweeps(truth, sweeps))
        ok = ok and result["sweeps"]["unexplained"] == 0 and result["sweeps"]["sweeps"] > 0
    legit = run_dir / "legit.jsonl"
    if legit.exists():
        result["legit"] = summarize(read_load(legit))
        ok = ok and result["legit"]["failures"] == 0
    result["ok"] = ok
    return result, ok


def loopback_url(url: str) -> str:
    host = urlsplit(url).hostname or ""
    try:
        addresses = {info[4][0] for info in socket.getaddrinfo(host, None)}
    except OSError as exc:
        raise SystemExit(f"mtdlab load: cannot resolve {host!r}: {exc}")
    if not all(ipaddress.ip_address(a).is_loopback for a in addresses):
        raise SystemExit(f"mtdlab load: refusing {url}: the legitimate client only talks to loopback (the lab's proxy)")
    return url


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="mtdlab", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("check", help="judge a run folder against its truth log")
    p.add_argument("run_dir", type=Path)
    p.add_argument("--min-hops", type=int, default=0, help="fail if a service hopped fewer times")
    p = sub.add_parser("load", help="legitimate client at a steady rate, a new connection each")
    p.add_argument("url")
    p.add_argument("--rate", type=float, default=20.0, help="requests per second (default 20)")
    p.add_argument("--duration", type=float, default=60.0, help="seconds (default 60)")
    p.add_argument("--out", type=Path, required=True, help="JSON-lines file for every request")
    p = sub.add_parser("run", help="run a scenario in an isolated lab and report on it")
    p.add_argument("scenario", type=Path)
    p.add_argument("--duration", type=float, help="seconds (default: the scenario's duration_s, else 300)")
    p.add_argument("--out", type=Path, help="run folder (default runs/NAME-TIMESTAMP)")
    p.add_argument("--watch", action="store_true", help="serve the live view of the run while it runs")
    p.add_argument("--watch-port", type=int, default=8090, help="its port on 127.0.0.1 (default 8090, else a free one)")
    engines.add_arguments(p)
    p = sub.add_parser("sweep", help="run every point of a sweep file (again: goes on where it stopped)")
    p.add_argument("sweep_file", type=Path)
    p.add_argument("--out", type=Path, help="sweep folder (default runs/sweep-NAME)")
    p.add_argument("--report", action="store_true", help="only remake the finished runs' reports, sweep.json and sweep.html")
    engines.add_arguments(p)
    p = sub.add_parser("rerun", help="run a run folder's scenario again, then compare the figures with the old intervals")
    p.add_argument("run_dir", type=Path)
    p.add_argument("--out", type=Path, help="the new run folder (default RUN_DIR-rerun-TIMESTAMP)")
    p = sub.add_parser("watch", help="the live view of a run folder: a finished run replayed, or --live")
    p.add_argument("run_dir", type=Path)
    p.add_argument("--speed", type=float, default=1.0, help="replay at this many times real time (default 1)")
    p.add_argument("--live", action="store_true", help="follow the logs as they grow (a run still going)")
    p.add_argument("--port", type=int, default=8090, help="port (default 8090, else a free one)")
    p.add_argument("--bind", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p = sub.add_parser("class", help="a classroom: one lab per team (up, status, heal, down, shell TEAM, submit TEAM, grade)")
    p.add_argument("action", choices=("up", "status", "heal", "down", "shell", "submit", "grade"))
    p.add_argument("class_file", type=Path)
    p.add_argument("team", nargs="?", help="shell and submit: the team")
    p.add_argument("--out", type=Path, help="the class folder (default runs/class-NAME)")
    p.add_argument("--exercise", help="submit: the exercise (exercises/)")
    p.add_argument("--answer", help="submit: the answer (a flag, ...)")
    p.add_argument("--once", action="store_true", help="grade: what waits now, then stop")
    engines.add_arguments(p)
    p = sub.add_parser("report", help="rebuild summary.json and report.html from a run folder")
    p.add_argument("run_dir", type=Path)
    p = sub.add_parser("compare", help="several runs' figures side by side (HTML); with two runs, whether the "
                                        "second's figures fall inside the first's 95%% intervals (JSON)")
    p.add_argument("run_dirs", type=Path, nargs="+")
    p.add_argument("--out", type=Path, help="the HTML page (needed unless exactly two runs are compared)")
    p = sub.add_parser("client", help="reach a keyed service directly: compute its port from the key and the clock")
    p.add_argument("scenario", type=Path)
    p.add_argument("service")
    p.add_argument("host", help="the target's address on the lab network")
    p.add_argument("--key-file", type=Path, required=True, help="hex key (a run folder's keyed.key)")
    p.add_argument("--skew", type=float, default=0.0, help="pretend the clock is off by this many seconds")
    p = sub.add_parser("console", help="drive a lab's management console (signed requests)")
    p.add_argument("--url", default="http://127.0.0.1:7070", help="the console (default: the demo's)")
    p.add_argument("--key-file", type=Path, default=Path("runs/demo/console.key"))
    csub = p.add_subparsers(dest="action", required=True)
    csub.add_parser("map", help="current port of every service")
    c = csub.add_parser("hop", help="hop a service now")
    c.add_argument("service")
    c = csub.add_parser("config", help="change a service's policy from its next hop on")
    c.add_argument("service")
    c.add_argument("--interval", help='an interval law as JSON, e.g. \'{"law": "exponential", "mean_s": 3}\'')
    c.add_argument("--pause", dest="paused", action="store_const", const=True)
    c.add_argument("--resume", dest="paused", action="store_const", const=False)
    p = sub.add_parser("validate", help="check scenario files without starting anything (exit 0 if all valid, 2 if not)")
    p.add_argument("files", type=Path, nargs="+")
    p = sub.add_parser("coverage", help="simulate many runs (no Docker) and count how often each 95%% interval "
                                         "covers the model's truth")
    p.add_argument("--sims", type=int, default=1000, help="simulated 300 s runs per law and sweep ratio (default 1000)")
    p.add_argument("--out", type=Path, default=Path("runs/coverage.json"), help="JSON table (default runs/coverage.json)")
    p = sub.add_parser("down", help="remove a lab completely")
    p.add_argument("lab", nargs="?", default="mtdlab")
    args = parser.parse_args(argv)

    if args.command == "check":
        if not (Path(args.run_dir) / "truth.jsonl").is_file():
            print(f"mtdlab check: {args.run_dir} is not a run folder (it has no truth.jsonl)", file=sys.stderr)
            return 2
        result, ok = check(args.run_dir, args.min_hops)
        print(json.dumps(result, indent=2))
        return 0 if ok else 1
    if args.command == "load":
        def progress(i, total, records):
            failed = sum(not r["ok"] for r in records)
            print(f"load: {i}/{total} sent, {len(records)} answered, {failed} failed", file=sys.stderr, flush=True)
        from mtdlab.contract.limits import LimitError
        try:
            result = run_load(loopback_url(args.url), args.rate, args.duration, args.out, progress=progress)
        except LimitError as exc:
            print(exc, file=sys.stderr)
            return 2
        print(json.dumps(result, indent=2))
        return 0 if result["failures"] == 0 else 1
    if args.command in ("run", "report"):
        from mtdlab.host.lab import LabError
        from mtdlab.contract.limits import LIMITS
        if args.command == "run" and args.duration is not None and LIMITS["duration_s"].check(args.duration):
            print(f"mtdlab run: --duration: {LIMITS['duration_s'].check(args.duration)}", file=sys.stderr)
            return 2
        from mtdlab.reporting.report import write_report
        from mtdlab.host.run import Interrupted, run_scenario
        from mtdlab.contract.scenario import ScenarioError
        try:
            folder = run_scenario(args.scenario, args.duration, args.out, watch_port=args.watch_port if args.watch else None,
                                  engine=args.engine, reserve=engines.reservation(args.lab_cpus, args.lab_memory_mib)) \
                if args.command == "run" else args.run_dir
            summary = write_report(folder) if args.command == "report" else json.loads((folder / "summary.json").read_text())
        except ScenarioError as exc:
            print(f"mtdlab: invalid scenario: {exc}", file=sys.stderr)
            return 2
        except LabError as exc:
            print(f"mtdlab: {exc}", file=sys.stderr)
            return 1
        except (KeyboardInterrupt, Interrupted):   # Ctrl-C, or SIGTERM (run_scenario tore the lab down)
            print("mtdlab: interrupted; the lab was removed", file=sys.stderr)
            return 130
        print(json.dumps({k: summary[k] for k in ("scenario", "duration_s", "hops", "legit", "decay", "sweeps",
                                                   "act_after_delay", "service_id_accuracy")}, indent=2))
        # A part failed while the run went on (run_scenario has said which): the run is incomplete.
        return 1 if args.command == "run" and summary.get("problems") else 0
    if args.command in ("sweep", "rerun"):
        from mtdlab.host import research
        return research.sweep(args) if args.command == "sweep" else research.rerun(args)
    if args.command == "watch":
        from mtdlab.host.watch import watch
        return watch(args.run_dir, args.speed, args.live, args.bind, args.port,
                     say=lambda m: print(m, file=sys.stderr, flush=True))
    if args.command == "class":
        from mtdlab.contract.scenario import ScenarioError
        from mtdlab.host import classroom
        from mtdlab.host.lab import LabError
        say = lambda m: print(m, file=sys.stderr, flush=True)  # noqa: E731
        try:
            if args.action == "up":
                print(classroom.class_up(args.class_file, args.out, say, engine=args.engine,
                                         reserve=engines.reservation(args.lab_cpus, args.lab_memory_mib)))
            elif args.action in ("shell", "submit") and not args.team:
                raise LabError(f"`mtdlab class {args.action}` needs a team: mtdlab class {args.action} CLASS.yaml TEAM")
            elif args.action == "shell":
                argv = classroom.workstation_shell(args.class_file, args.team)
                os.execvp(argv[0], argv)
            elif args.action == "submit":
                if not args.exercise or args.answer is None:
                    raise LabError("`mtdlab class submit` needs --exercise NAME and --answer TEXT")
                verdict = classroom.submit(args.class_file, args.team, args.exercise, args.answer, args.out)
                print(json.dumps(verdict))
                return 0 if verdict.get("reason") == "accepted" else 3
            elif args.action == "grade":
                from mtdlab.host.grader import grade
                print(json.dumps({"graded": grade(args.class_file, args.out, args.once, say)}))
            elif args.action == "heal":
                print(json.dumps({"healed": classroom.class_heal(args.class_file, args.out, say)}))
            elif args.action == "status":
                rows = classroom.class_status(args.class_file)
                print(json.dumps(rows, indent=2))
                return 0 if all(r["healthy"] for r in rows) else 1
            else:
                print(json.dumps({"removed": classroom.class_down(args.class_file, say)}))
        except ScenarioError as exc:
            print(f"mtdlab class: invalid input: {exc}", file=sys.stderr)
            return 2
        except LabError as exc:
            print(f"mtdlab class: {exc}", file=sys.stderr)
            return 1
        except KeyboardInterrupt:
            print("mtdlab class: interrupted; every team lab was removed", file=sys.stderr)
            return 130
        return 0
    if args.command == "compare":
        from mtdlab.reporting.compare import write_index
        from mtdlab.research.manifest import compare_runs
        missing = [str(d) for d in args.run_dirs if not (d / "summary.json").is_file()]
        if missing:
            print(f"mtdlab compare: not finished run folders (no summary.json): {', '.join(missing)}", file=sys.stderr)
            return 2
        if args.out:
            write_index(args.run_dirs, args.out)
            print(args.out, file=sys.stderr if len(args.run_dirs) == 2 else sys.stdout)
        if len(args.run_dirs) == 2:
            verdict = compare_runs(*args.run_dirs)
            print(json.dumps(verdict, indent=2))
            return 0 if verdict["all_inside"] else 1
        if not args.out:
            print("mtdlab compare: --out PAGE.html is needed for more than two runs", file=sys.stderr)
            return 2
        return 0
    if args.command == "client":
        import time
        from mtdlab.inlab.direct import fetch, schedule_for
        from mtdlab.contract import keys
        from mtdlab.experiments import load_scenario
        from mtdlab.contract.scope import OutOfScope, resolve_in_scope
        try:
            resolve_in_scope(args.host)
        except OutOfScope as exc:
            raise SystemExit(f"mtdlab client: refusing {args.host}: {exc}")
        try:
            key = keys.from_file(keys.KEYED, args.key_file)
        except keys.KeyError_ as exc:
            raise SystemExit(f"mtdlab client: {exc}")
        ks = schedule_for(load_scenario(args.scenario), args.service, key)
        port = ks.port_at(time.time() + args.skew)
        result = fetch(args.host, port, args.service)
        print(json.dumps({"port": port, **result}))
        return 0 if result["ok"] else 1
    if args.command == "console":
        from mtdlab.contract import keys
        from mtdlab.contract.console_client import call
        if args.action == "map":
            method, path, body = "GET", "/map", None
        elif args.action == "hop":
            method, path, body = "POST", "/hop", {"service": args.service}
        else:
            body = {"service": args.service}
            if args.interval:
                body["interval"] = json.loads(args.interval)
            if args.paused is not None:
                body["paused"] = args.paused
            method, path = "POST", "/config"
        try:
            key = keys.from_file(keys.CONSOLE, args.key_file)
        except keys.KeyError_ as exc:
            raise SystemExit(f"mtdlab console: {exc}")
        status, answer = call(args.url, key, method, path, body)
        print(json.dumps(answer, indent=2))
        return 0 if status == 200 else 1
    if args.command == "validate":
        from mtdlab.experiments import ScenarioError, load_scenario
        bad = 0
        for path in args.files:
            try:
                scenario = load_scenario(path)
                print(f"{path}: ok (scenario {scenario.name}, {len(scenario.services)} services)")
            except ScenarioError as exc:
                print(exc, file=sys.stderr)
                bad += 1
        return 2 if bad else 0
    if args.command == "coverage":
        from mtdlab.reporting.coverage import main as coverage_main
        if args.sims < 1:
            print("mtdlab coverage: --sims must be at least 1", file=sys.stderr)
            return 2
        return coverage_main(args.sims, args.out)
    if args.command == "down":
        from mtdlab.host.lab import remove_lab
        print(json.dumps({"lab": args.lab, "removed": remove_lab(args.lab)}))
        return 0
    return 2


if __name__ == "__main__":
    sys.exit(main())
