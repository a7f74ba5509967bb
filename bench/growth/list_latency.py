#!/usr/bin/env python3
"""list_latency.py API_URL CLIENTS REQUESTS PATH... - latency of GET API_URL/api/PATH.

For each PATH in turn, CLIENTS threads send REQUESTS requests in all (each
thread one at a time, on its own keep-alive connection), after one warm-up
request. Prints one JSON line per path:
  {"path": ..., "clients": N, "n": REQUESTS, "p50_ms": ..., "p95_ms": ...,
   "max_ms": ..., "source": <X-Triage-Source of the last answer>, "errors": K}
The api must run with TRIAGE_AUTH=off (the bench's api does). Standard
library only.
"""
import http.client
import json
import sys
import threading
import time
import urllib.parse


def one(conn, path):
    t0 = time.perf_counter()
    conn.request("GET", path)
    r = conn.getresponse()
    r.read()
    return (time.perf_counter() - t0) * 1000.0, r.status, r.getheader("X-Triage-Source", "")


def run(url, clients, total, path):
    u = urllib.parse.urlsplit(url)
    full = "/api/" + path
    times, errors, source = [], [0], [""]
    lock = threading.Lock()
    left = [total]

    def worker():
        conn = http.client.HTTPConnection(u.hostname, u.port, timeout=600)
        while True:
            with lock:
                if left[0] == 0:
                    break
                left[0] -= 1
            try:
                ms, status, src = one(conn, full)
            except Exception:
                conn.close()
                conn = http.client.HTTPConnection(u.hostname, u.port, timeout=600)
                with lock:
                    errors[0] += 1
                continue
            with lock:
                if status != 200:
                    errors[0] += 1
                times.append(ms)
                source[0] = src
        conn.close()

    warm = http.client.HTTPConnection(u.hostname, u.port, timeout=600)
    one(warm, full)
    warm.close()
    threads = [threading.Thread(target=worker) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    times.sort()

    def pct(p):
        return round(times[min(len(times) - 1, int(p * len(times)))], 1) if times else None

    return {"path": path, "clients": clients, "n": len(times), "p50_ms": pct(0.50),
            "p95_ms": pct(0.95), "max_ms": round(times[-1], 1) if times else None,
            "source": source[0], "errors": errors[0]}


def main():
    if len(sys.argv) < 5:
        sys.exit(__doc__)
    url, clients, total = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    for path in sys.argv[4:]:
        print(json.dumps(run(url, clients, total, path)), flush=True)


if __name__ == "__main__":
    main()
