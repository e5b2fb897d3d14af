"""How much memory an unauthenticated 256 MiB POST to the console costs the controller.

`python3 bench/console_post.py` starts one lab (console on), samples the controller
container's memory (cgroup usage, from the engine's stats) every 0.1 s, and sends a POST that
announces and then streams 256 MiB of zeros to the console, unsigned. The console must answer
413 before reading the body, and the controller's memory must not grow by more than a few MiB.
Writes JSON (default bench/results/console_post.json) and prints it.
"""
from __future__ import annotations

import argparse
import json
import socket
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from mtdlab.host.lab import Lab  # noqa: E402

SCENARIO = """
name: bench-console
seed: 7
target:
  services:
    - {name: web, kind: web, hop: {interval: {law: never}, pool: {ranges: ["20000-29999"]}}}
"""
BODY_BYTES = 256 * 1024 ** 2
CHUNK = 1024 ** 2
SEND_LIMIT_S = 60.0   # the whole send, however slowly the console reads (it should not read at all)
MiB = 1024 ** 2


def progress(msg: str) -> None:
    print(f"bench: {msg}", file=sys.stderr, flush=True)


def memory(container) -> int:
    stats = container.stats(stream=False)["memory_stats"]
    # cgroup v2 reports page cache in "file"; what the processes hold is usage minus that.
    return stats["usage"] - stats.get("stats", {}).get("file", 0)


def post_huge(port: int) -> dict:
    """Announce BODY_BYTES, send until the console answers or closes; (status, bytes sent)."""
    sent, status = 0, None
    began = time.monotonic()
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(f"POST /services/web/pause HTTP/1.1\r\nHost: console\r\nContent-Type: application/json\r\n"
                  f"Content-Length: {BODY_BYTES}\r\n\r\n".encode())
        s.settimeout(0.05)
        zeros = b"\0" * CHUNK
        while sent < BODY_BYTES and time.monotonic() - began < SEND_LIMIT_S:
            try:
                answer = s.recv(4096)
                if answer:
                    status = int(answer.split()[1])
                break
            except socket.timeout:
                pass
            try:
                s.sendall(zeros)
                sent += CHUNK
            except OSError:
                break
        if status is None:
            s.settimeout(10)
            try:
                answer = s.recv(4096)
                status = int(answer.split()[1]) if answer else None
            except (OSError, IndexError, ValueError):
                pass
    return {"status": status, "bytes_sent": sent, "seconds": round(time.monotonic() - began, 3)}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, default=Path("bench/results/console_post.json"))
    p.add_argument("--repeat", type=int, default=3, help="POSTs, one after the other")
    args = p.parse_args()
    work = Path(tempfile.mkdtemp(prefix="mtdlab-bench-"))
    (work / "s").mkdir()
    (work / "s" / "scenario.yaml").write_text(SCENARIO)
    lab = Lab(f"mtdbench-console-{int(time.time())}", work / "s" / "scenario.yaml", work / "run")
    try:
        progress(f"starting lab {lab.name}")
        lab.up(("target", "proxy", "controller"))
        lab.wait_for(lambda l: any(e["event"] == "console.started" for e in l.events()), "the console", 90)
        controller = lab.container("controller")
        samples: list[int] = []
        stop = threading.Event()

        def sample():
            while not stop.is_set():
                samples.append(memory(controller))
                stop.wait(0.1)

        baseline = [memory(controller) for _ in range(5)]
        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        posts = []
        for i in range(args.repeat):
            posts.append(post_huge(lab.ports["console"]))
            progress(f"POST {i + 1}: {posts[-1]}")
        time.sleep(1.0)   # one more second of samples after the last POST
        stop.set()
        sampler.join()
    finally:
        lab.down()
    before = statistics.median(baseline)
    result = {
        "what": "unauthenticated POST announcing 256 MiB to the console",
        "posts": posts,
        "controller_memory_before_mib": round(before / MiB, 2),
        "controller_memory_peak_mib": round(max(samples) / MiB, 2),
        "growth_peak_mib": round((max(samples) - before) / MiB, 2),
        "samples": len(samples),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    return 0 if all(p["status"] == 413 for p in posts) else 1


if __name__ == "__main__":
    sys.exit(main())
