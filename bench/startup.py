#!/usr/bin/env python3
"""Start-to-first-answer time and idle memory of `mpsv-idp serve`.

Starts the server (pinned with taskset to --core), polls GET /healthz over a fresh TCP
connection in a tight loop until it answers 200, and reports the time from just before exec
to that answer. Then reads VmRSS from /proc/PID/status right away and again after --idle
seconds without load, and stops the server with SIGTERM. Repeats --runs times.

The server's configuration comes from the environment (MPSV_IDP_*), as for run.sh.
Prints one line per run: `STARTUP run=N first_answer_ms=… rss_kb_first=… rss_kb_idle=…`.
"""

import argparse
import os
import signal
import socket
import subprocess
import sys
import time

REQUEST = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"


def healthz_ok(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2) as s:
            s.sendall(REQUEST)
            data = b""
            while b"\r\n" not in data:
                chunk = s.recv(4096)
                if not chunk:
                    break
                data += chunk
            return data.startswith(b"HTTP/1.1 200")
    except OSError:
        return False


def rss_kb(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--core", default="0")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--idle", type=float, default=2.0)
    ap.add_argument("--timeout", type=float, default=20.0)
    ap.add_argument("--log", default=os.devnull)
    args = ap.parse_args()

    with open(args.log, "ab") as log:
        for run in range(1, args.runs + 1):
            t0 = time.perf_counter()
            proc = subprocess.Popen(
                ["taskset", "-c", args.core, args.bin, "serve"],
                stdin=subprocess.DEVNULL, stdout=log, stderr=log,
            )
            try:
                deadline = t0 + args.timeout
                while not healthz_ok(args.port):
                    if proc.poll() is not None:
                        print(f"server exited with {proc.returncode}", file=sys.stderr)
                        return 1
                    if time.perf_counter() > deadline:
                        print("server did not answer in time", file=sys.stderr)
                        return 1
                    time.sleep(0.0005)
                first_ms = (time.perf_counter() - t0) * 1000
                rss_first = rss_kb(proc.pid)
                time.sleep(args.idle)
                rss_idle = rss_kb(proc.pid)
                print(
                    f"STARTUP run={run} first_answer_ms={first_ms:.1f} "
                    f"rss_kb_first={rss_first} rss_kb_idle={rss_idle}",
                    flush=True,
                )
            finally:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
