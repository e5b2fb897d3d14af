"""How much memory an unauthenticated 256 MiB POST to the console costs the controller.

`python3 bench/console_post.py` starts one lab (console on) and sends the console, unsigned,
POSTs of 256 MiB of zeros in three ways: announced by Content-Length (the client stops at the
answer), announced and streamed on regardless of the answer, and chunked (no length announced).
The console must refuse each without reading it (413; 411 for chunked). The controller process's resident
memory is read from the host (/proc/PID/status of the controller's main process, which runs
the console): its peak (VmHWM) before and after, and VmRSS sampled every 20 ms.
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


def status_kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise KeyError(field)


def post_huge(port: int, mode: str) -> dict:
    """One unsigned 256 MiB POST; mode: announced (stop at the answer), stream-on (ignore the
    answer), chunked (no length). Returns the status, bytes sent and seconds."""
    sent, status = 0, None
    began = time.monotonic()
    length = "Transfer-Encoding: chunked" if mode == "chunked" else f"Content-Length: {BODY_BYTES}"
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(f"POST /config HTTP/1.1\r\nHost: console\r\nContent-Type: application/json\r\n"
                  f"{length}\r\n\r\n".encode())
        zeros = b"\0" * CHUNK
        piece = f"{CHUNK:x}\r\n".encode() + zeros + b"\r\n" if mode == "chunked" else zeros
        s.settimeout(0.001)
        while sent < BODY_BYTES and time.monotonic() - began < SEND_LIMIT_S:
            if status is None:
                try:
                    answer = s.recv(4096)
                    status = int(answer.split()[1]) if answer else 0
                    if mode == "announced":
                        break
                except (socket.timeout, BlockingIOError):
                    pass
                except (OSError, IndexError, ValueError):
                    break
            try:
                s.settimeout(10)
                s.sendall(piece)
                s.settimeout(0.001)
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
    return {"mode": mode, "status": status, "bytes_sent": sent, "seconds": round(time.monotonic() - began, 3)}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, default=Path("bench/results/console_post.json"))
    p.add_argument("--repeat", type=int, default=3, help="POSTs of each kind, one after the other")
    args = p.parse_args()
    work = Path(tempfile.mkdtemp(prefix="mtdlab-bench-"))
    (work / "s").mkdir()
    (work / "s" / "scenario.yaml").write_text(SCENARIO)
    lab = Lab(f"mtdbench-console-{int(time.time())}", work / "s" / "scenario.yaml", work / "run")
    try:
        progress(f"starting lab {lab.name}")
        lab.up(("target", "proxy", "controller"))
        lab.wait_for(lambda l: any(e["event"] == "console.started" for e in l.events()), "the console", 90)
        pid = lab.container("controller").attrs["State"]["Pid"]   # python3 -m controller.main, PID 1 inside
        samples: list[int] = []
        stop = threading.Event()

        def sample():
            while not stop.is_set():
                samples.append(status_kib(pid, "VmRSS"))
                stop.wait(0.02)

        before_rss = statistics.median(status_kib(pid, "VmRSS") for _ in range(5))
        before_hwm = status_kib(pid, "VmHWM")
        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        posts = []
        for mode in ("announced", "stream-on", "chunked"):
            for _ in range(args.repeat):
                posts.append(post_huge(lab.ports["console"], mode))
                progress(f"POST: {posts[-1]}")
        stop.wait(1.0)   # one more second of samples after the last POST
        stop.set()
        sampler.join()
        after_hwm = status_kib(pid, "VmHWM")
    finally:
        lab.down()
    result = {
        "what": "unauthenticated 256 MiB POSTs to the console; resident memory of the controller process",
        "posts": posts,
        "rss_before_mib": round(before_rss / 1024, 2),
        "rss_peak_sampled_mib": round(max(samples) / 1024, 2),
        "rss_growth_peak_sampled_mib": round((max(samples) - before_rss) / 1024, 2),
        "hwm_before_mib": round(before_hwm / 1024, 2),
        "hwm_after_mib": round(after_hwm / 1024, 2),
        "hwm_growth_mib": round((after_hwm - before_hwm) / 1024, 2),
        "samples": len(samples),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    return 0 if all(p["status"] == (411 if p["mode"] == "chunked" else 413) for p in posts) else 1


if __name__ == "__main__":
    sys.exit(main())
