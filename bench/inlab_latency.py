"""Runs inside a lab container (passed to `python3 -c`): request latency through the proxy
and directly to the instance, interleaved so both see the same machine noise.

argv: proxy_ip proxy_port target_ip target_port count. Prints JSON {"proxied": [...], "direct": [...]} (ms).
"""
import http.client
import json
import sys
import time

proxy_ip, proxy_port, target_ip, target_port, count = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4]), int(sys.argv[5])


def one(host, port):
    t0 = time.perf_counter()
    conn = http.client.HTTPConnection(host, port, timeout=5)
    conn.request("GET", "/", headers={"Connection": "close"})
    resp = conn.getresponse()
    resp.read()
    conn.close()
    if resp.status != 200:
        raise SystemExit(f"{host}:{port} answered {resp.status}")
    return (time.perf_counter() - t0) * 1000


for _ in range(50):  # warm-up: first connections pay for imports and worker start
    one(proxy_ip, proxy_port), one(target_ip, target_port)
out = {"proxied": [], "direct": []}
for i in range(count):
    pair = [("proxied", proxy_ip, proxy_port), ("direct", target_ip, target_port)]
    for name, host, port in (pair if i % 2 == 0 else pair[::-1]):
        out[name].append(round(one(host, port), 4))
print(json.dumps(out))
