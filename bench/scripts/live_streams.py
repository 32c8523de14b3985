"""Live encoders on chunked POST streams: N HTTPS connections, each POSTing
an MPEG-TS stream (one file ffmpeg encoded from its test pattern, the same
for all) at real-time pace for the file's length, as `ffmpeg -re -f mpegts
-method POST` does, to one ingestd. What it shows: how much record memory a
live stream holds while its piece fills (ingest_segment_memory_bytes), and
whether the streams' bytes reach the spool at their pace within the shard's
memory budget, or wait for memory (backpressure pauses; the bytes sent but
not yet spooled, in seconds of all streams' bytes, sampled every 0.5 s: a
piece is spooled when it is cut, so half a piece's length is the least).
A sender hardly notices a server that stops reading: its bytes wait in the
kernel's socket buffers.

    python3 bench/scripts/live_streams.py --ingestd build/server/ingestd \\
        [--streams 200] [--seconds 20] [--bitrate 160k] [--shard_memory 64MiB] [--stream_segment_ms 4000] \\
        [--cameras 100 --camera_sim build/bench/camera-sim]

With --cameras, as many native cameras (camera-sim, mutual TLS, 64 KiB
segments at 512 kbit/s) record on the same shard meanwhile: what the streams'
booked memory does to them (their ACK(spooled) latency).

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
import subprocess
import tempfile
import time
import urllib.request

from local_ingestd import LocalIngestd, open_https

CHUNK_S = 0.1  # a chunk every 100 ms, as an encoder flushes its muxer


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def encode(path, seconds, bitrate):
    subprocess.run(["ffmpeg", "-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi", "-i",
                    "testsrc2=size=640x360:rate=25", "-t", str(seconds), "-c:v", "libx264", "-b:v", bitrate,
                    "-g", "50", "-pix_fmt", "yuv420p", "-f", "mpegts", path], check=True, timeout=300)
    with open(path, "rb") as f:
        return f.read()


async def encoder(index, port, token, stream, seconds, results):
    try:
        reader, writer = await open_https(port)
    except OSError:
        results["connect_failures"] += 1
        return
    per_chunk = max(188, int(len(stream) * CHUNK_S / seconds) // 188 * 188)
    try:
        writer.write((f"POST /v1/cameras/live-{index}/stream HTTP/1.1\r\nHost: x\r\n"
                      f"Authorization: Bearer {token}\r\nTransfer-Encoding: chunked\r\n\r\n").encode())
        start = time.monotonic()
        worst_lag = 0.0
        for n, at in enumerate(range(0, len(stream), per_chunk)):
            due = start + n * CHUNK_S
            now = time.monotonic()
            if now < due:
                await asyncio.sleep(due - now)
            worst_lag = max(worst_lag, time.monotonic() - due)
            chunk = stream[at:at + per_chunk]
            writer.write(b"%x\r\n" % len(chunk) + chunk + b"\r\n")
            await writer.drain()
            results["bytes_sent"] += len(chunk)
        writer.write(b"0\r\n\r\n")
        await writer.drain()
        sent = time.monotonic()
        status_line = await asyncio.wait_for(reader.readline(), 60)
        results["answer_wait_ms"].append((time.monotonic() - sent) * 1e3)
        results["lag_s"].append(worst_lag)
        status = status_line.split(b" ")[1].decode() if b" " in status_line else "?"
        results["statuses"][status] = results["statuses"].get(status, 0) + 1
    except (OSError, asyncio.IncompleteReadError, asyncio.TimeoutError, ValueError):
        results["broken"] += 1
    finally:
        writer.close()


def metric(text, name):
    return sum(float(l.rpartition(" ")[2]) for l in text.splitlines() if l.startswith(name + " ") or
               l.startswith(name + "{"))


async def sample_memory(admin_port, results, stop):
    while not stop.is_set():
        try:
            text = await asyncio.to_thread(
                lambda: urllib.request.urlopen(f"http://127.0.0.1:{admin_port}/metrics", timeout=5).read().decode())
            results["memory_samples"].append(metric(text, "ingest_segment_memory_bytes"))
            results["unspooled_bytes"].append(results["bytes_sent"] - metric(text, "ingest_payload_bytes_accepted_total"))
            results["rss_samples"].append(metric(text, "process_resident_memory_bytes"))
        except OSError:
            pass
        try:
            await asyncio.wait_for(stop.wait(), 0.5)
        except asyncio.TimeoutError:
            pass


async def run(port, admin_port, token, stream, args):
    results = {"answer_wait_ms": [], "lag_s": [], "statuses": {}, "broken": 0, "connect_failures": 0,
               "memory_samples": [], "rss_samples": [], "bytes_sent": 0, "unspooled_bytes": []}
    stop = asyncio.Event()
    sampler = asyncio.create_task(sample_memory(admin_port, results, stop))
    await asyncio.gather(*(encoder(i, port, token, stream, args.seconds, results) for i in range(args.streams)))
    stop.set()
    await sampler
    return results


def percentile(values, p):
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, int(p / 100 * len(values)))]


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--ingestd", required=True)
    p.add_argument("--streams", type=int, default=200)
    p.add_argument("--seconds", type=int, default=20)
    p.add_argument("--bitrate", default="160k", help="the encoded file's video bitrate (ffmpeg -b:v)")
    p.add_argument("--shard_memory", default="64MiB")
    p.add_argument("--stream_segment_ms", type=int, default=0, help="0: the server's default")
    p.add_argument("--cameras", type=int, default=0, help="native cameras beside the streams (camera-sim)")
    p.add_argument("--camera_sim", default="", help="camera-sim binary, for --cameras")
    args = p.parse_args()
    work = tempfile.mkdtemp(prefix="live-streams-")
    try:
        stream = encode(os.path.join(work, "pattern.ts"), args.seconds, args.bitrate)
        token = "live-stream-token"
        digest = hashlib.sha256(token.encode()).hexdigest()
        with open(os.path.join(work, "encoders.txt"), "w") as f:
            f.writelines(f"token live-{i} sha256:{digest}\n" for i in range(args.streams))
        https_port, camera_port = free_port(), free_port()
        flags = [args.ingestd, "--dev-certs", "--listen", f"127.0.0.1:{camera_port}", "--admin-listen", "127.0.0.1:0",
                 "--state-dir", os.path.join(work, "var"), "--shards", "1", "--max_connections", "10000",
                 "--shard_memory_bytes", args.shard_memory, "--https_listen", f"127.0.0.1:{https_port}",
                 "--encoder_credentials", os.path.join(work, "encoders.txt"),
                 "--max_connections_per_source", str(args.streams + 100), "--idle_timeout_ms", "120000"]
        if args.stream_segment_ms:
            flags += ["--stream_segment_ms", str(args.stream_segment_ms)]
        with LocalIngestd(flags, work) as server:
            admin_port = server.admin_port
            sim = None
            if args.cameras:
                certs = os.path.join(work, "var", "dev-certs")
                subprocess.run([args.ingestd, "certs", "--out", certs, "--cameras", str(args.cameras)], check=True,
                               capture_output=True, timeout=300)
                sim = subprocess.Popen([args.camera_sim, "--target", f"127.0.0.1:{camera_port}", "--certs_dir", certs,
                                        "--cameras", str(args.cameras), "--segment_bytes", "65536", "--segment_ms",
                                        "1024", "--duration_s", str(args.seconds), "--quiet", "--json"],
                                       stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
            started = time.monotonic()
            results = asyncio.run(run(https_port, admin_port, token, stream, args)) if args.streams else None
            cameras = json.loads(sim.communicate(timeout=args.seconds + 120)[0]) if sim else None
            wall = time.monotonic() - started
            with urllib.request.urlopen(f"http://127.0.0.1:{admin_port}/metrics", timeout=5) as response:
                metrics = response.read().decode()
            if results is None:  # cameras alone: a baseline
                results = {"answer_wait_ms": [], "lag_s": [], "statuses": {}, "broken": 0, "connect_failures": 0,
                           "memory_samples": [], "rss_samples": [], "unspooled_bytes": []}
            memory = results["memory_samples"]
            rate = max(1, len(stream) / args.seconds * args.streams)
            # The spooled-bytes counter counts the cameras' bytes too: only without them.
            unspooled_s = [] if args.cameras else [b / rate for b in results["unspooled_bytes"]]
            print(json.dumps({
                "streams": args.streams, "seconds": args.seconds, "bitrate": args.bitrate,
                "stream_kib_per_s": round(len(stream) / args.seconds / 1024, 1),
                "shard_memory": args.shard_memory, "statuses": results["statuses"],
                "broken": results["broken"], "connect_failures": results["connect_failures"],
                "segments_stored": int(metric(metrics, "ingest_segments_accepted_total")),
                "backpressure_pauses": int(metric(metrics, "ingest_backpressure_pauses_total")),
                "unspooled_s_p50": round(percentile(unspooled_s, 50), 2),
                "unspooled_s_max": round(max(unspooled_s) if unspooled_s else float("nan"), 2),
                "sender_lag_s_p50": round(percentile(results["lag_s"], 50), 2),
                "sender_lag_s_max": round(max(results["lag_s"]) if results["lag_s"] else float("nan"), 2),
                "segment_memory_mib_median": round(percentile(memory, 50) / 2**20, 1),
                "segment_memory_mib_peak": round(max(memory) / 2**20 if memory else float("nan"), 1),
                "rss_mib_peak": round(max(results["rss_samples"]) / 2**20 if results["rss_samples"] else 0, 1),
                "answer_wait_ms_p50": round(percentile(results["answer_wait_ms"], 50), 1),
                "cameras": cameras and {"cameras": cameras["cameras"], "segments_acked": cameras["segments_acked"],
                                        "all_acked": cameras["all_acked"],
                                        "ack_spooled_ms": {k: round(cameras["ack_spooled_ms"][k], 1)
                                                           for k in ("p50", "p99", "max")}},
                "wall_s": round(wall, 1), "load": open("/proc/loadavg").read().split()[:3]}))
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
