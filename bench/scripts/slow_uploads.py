"""Encoders that upload at their own pace: N HTTPS connections, each PUTting
segment after segment with Transfer-Encoding: chunked, each segment's bytes
spread over the segment's duration (as ffmpeg's HLS push writes a segment
while it encodes it), to one ingestd. What it shows: how much of the shard's
record memory an upload of unknown size holds while it lasts, seen as the
time from an upload's last byte to its 201 and the backpressure pauses.

    python3 bench/scripts/slow_uploads.py --ingestd build/server/ingestd \
        [--connections 300] [--segment_bytes 262144] [--segment_s 2] [--seconds 20] [--shard_memory 64MiB]

Prints one JSON line. Loopback only; every connection and the server are
stopped when it ends.
"""

import argparse
import asyncio
import hashlib
import json
import os
import shutil
import socket
import tempfile
import time
import urllib.request

from local_ingestd import LocalIngestd, open_https


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def percentile(values, p):
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, int(p / 100 * len(values)))]


async def encoder(index, port, token, args, deadline, results):
    try:
        reader, writer = await open_https(port)
    except OSError:
        results["connect_failures"] += 1
        return
    chunk = b"v" * 16384
    chunks = max(1, args.segment_bytes // len(chunk))
    pause = args.segment_s / chunks
    n = 0
    try:
        while time.monotonic() < deadline:
            head = (f"PUT /v1/cameras/slow-{index}/live{n}.ts HTTP/1.1\r\nHost: x\r\n"
                    f"Authorization: Bearer {token}\r\nTransfer-Encoding: chunked\r\n\r\n")
            writer.write(head.encode())
            for _ in range(chunks):
                writer.write(b"4000\r\n" + chunk + b"\r\n")
                await writer.drain()
                await asyncio.sleep(pause)
            writer.write(b"0\r\n\r\n")
            await writer.drain()
            sent = time.monotonic()
            status_line = await reader.readline()
            length = 0
            while True:
                line = await reader.readline()
                if line in (b"\r\n", b""):
                    break
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":")[1])
            await reader.readexactly(length)
            results["answer_wait_ms"].append((time.monotonic() - sent) * 1e3)
            status = status_line.split(b" ")[1] if b" " in status_line else b"?"
            results["statuses"][status.decode()] = results["statuses"].get(status.decode(), 0) + 1
            n += 1
    except (OSError, asyncio.IncompleteReadError, ValueError):
        results["broken"] += 1
    finally:
        writer.close()


async def run_encoders(port, token, args):
    results = {"answer_wait_ms": [], "statuses": {}, "broken": 0, "connect_failures": 0}
    deadline = time.monotonic() + args.seconds
    await asyncio.gather(*(encoder(i, port, token, args, deadline, results) for i in range(args.connections)))
    return results


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--ingestd", required=True)
    p.add_argument("--connections", type=int, default=300)
    p.add_argument("--segment_bytes", type=int, default=262144)
    p.add_argument("--segment_s", type=float, default=2.0)
    p.add_argument("--seconds", type=float, default=20.0)
    p.add_argument("--shard_memory", default="64MiB")
    args = p.parse_args()
    work = tempfile.mkdtemp(prefix="slow-uploads-")
    token = "slow-upload-token"
    digest = hashlib.sha256(token.encode()).hexdigest()
    with open(os.path.join(work, "encoders.txt"), "w") as f:
        f.writelines(f"token slow-{i} sha256:{digest}\n" for i in range(args.connections))
    https_port = free_port()
    argv = [args.ingestd, "--dev-certs", "--listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0",
            "--state-dir", os.path.join(work, "var"), "--shards", "1", "--max_connections", "10000",
            "--shard_memory_bytes", args.shard_memory,
            "--https_listen", f"127.0.0.1:{https_port}", "--encoder_credentials", os.path.join(work, "encoders.txt"),
            "--max_connections_per_source", str(args.connections + 100)]
    try:
        with LocalIngestd(argv, work) as server:
            results = asyncio.run(run_encoders(https_port, token, args))
            with urllib.request.urlopen(f"http://127.0.0.1:{server.admin_port}/metrics", timeout=5) as response:
                metrics = response.read().decode()
        pauses = sum(float(l.rpartition(" ")[2]) for l in metrics.splitlines()
                     if l.startswith("ingest_backpressure_pauses_total"))
        waits = results["answer_wait_ms"]
        print(json.dumps({"connections": args.connections, "segment_bytes": args.segment_bytes,
                          "segment_s": args.segment_s, "shard_memory": args.shard_memory,
                          "uploads_answered": len(waits), "statuses": results["statuses"],
                          "answer_wait_ms_p50": round(percentile(waits, 50), 1),
                          "answer_wait_ms_p99": round(percentile(waits, 99), 1),
                          "answer_wait_ms_max": round(max(waits) if waits else float("nan"), 1),
                          "backpressure_pauses": int(pauses), "broken_connections": results["broken"],
                          "load": open("/proc/loadavg").read().split()[:3]}))
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
