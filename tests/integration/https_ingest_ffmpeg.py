"""HTTPS ingest end to end with the real encoder (Debian's ffmpeg): a test
pattern (lavfi testsrc, x264) pushed to ingestd every way docs/https-ingest.md
promises, then read back with `ingestctl export` and checked with ffprobe.

- HLS over PUT, keep-alive, behind a signed URL, with ffmpeg deleting old
  segments: the export is byte-exact against the HLS segments the same
  ffmpeg wrote locally through -f tee, and is H.264 in MPEG-TS of the
  pattern's duration.
- fMP4 HLS (init.mp4 and .m4s segments) over PUT, in real time: the export
  is ffmpeg's init followed by its segments, byte-exact against the local
  copy, and plays as H.264 in MP4 of the pattern's duration; the playlists
  are kept in the camera's ~m3u8 stream.
- MPEG-TS over one chunked POST, behind a signed URL: byte-exact against
  the local copy tee wrote, cut by the server into segments of 2 s of
  stream time at keyframes (the stream is far too small to be cut by size).
- HLS with a bearer token (-headers), and MPEG-TS with a client certificate
  (mutual TLS, camera id from the certificate): stored and playable.
- Refusals: no credentials 401, a token of another camera 403, GET 405,
  each counted in /metrics.

Exit 77 (skipped) without ffmpeg/ffprobe.
"""

import hashlib
import hmac
import json
import os
import shutil
import ssl
import http.client
import subprocess
import sys
import time
import urllib.request

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "../faults"))
import fault_run  # noqa: E402
import rolling_replacement  # noqa: E402

TOKEN = "encoder-token-for-cam-token"
KEY_HEX = "6b" * 32
SECONDS = 6
STREAM_SEGMENT_S = 2


def ffmpeg(args, timeout=120, realtime=False):
    cmd = ["ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "error"] + (["-re"] if realtime else []) + ["-f", "lavfi",
           "-i", f"testsrc=size=320x240:rate=25:duration={SECONDS}", "-c:v", "libx264", "-g", "25",
           "-pix_fmt", "yuv420p"] + args
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    if out.returncode != 0:
        raise AssertionError(f"ffmpeg exited {out.returncode}: {out.stderr.strip()[-2000:]}")
    return out.stderr


def signed_path(camera, expires):
    signature = hmac.new(bytes.fromhex(KEY_HEX), f"{camera}\n{expires}".encode(), hashlib.sha256).hexdigest()
    return f"/v1/signed/{expires}/k1.{signature}/cameras/{camera}"


def export(args, store_dir, camera, path):
    out = subprocess.run([args.ingestctl, f"--store_dir={store_dir}", f"--zone={fault_run.ZONE}", "export",
                          f"--camera={camera}", "--from=0", "--to=9999999999999999", f"--out={path}", "--json"],
                         capture_output=True, text=True, timeout=120)
    summaries = [l for l in out.stderr.splitlines() if l.startswith('{"camera"')]
    if out.returncode != 0 or not summaries:
        raise AssertionError(f"export of {camera} failed ({out.returncode}): {out.stderr.strip()}")
    return json.loads(summaries[-1])


def probe(path):
    out = subprocess.run(["ffprobe", "-v", "error", "-show_entries", "format=duration,format_name:stream=codec_name",
                          "-of", "json", path], capture_output=True, text=True, timeout=60)
    if out.returncode != 0:
        return None, None, out.stderr.strip()
    info = json.loads(out.stdout)
    codecs = [s.get("codec_name") for s in info.get("streams", [])]
    return info.get("format", {}).get("format_name"), codecs, float(info.get("format", {}).get("duration", 0))


def check_playable(problems, camera, path, exact_duration=True, container="mpegts"):
    fmt, codecs, duration = probe(path)
    if fmt is None or container not in fmt.split(",") or codecs != ["h264"]:
        problems.append(f"{camera}: export is {fmt} {codecs}, not H.264 in {container} ({duration})")
        return
    if exact_duration and abs(duration - SECONDS) > 0.25:
        problems.append(f"{camera}: export lasts {duration:.2f} s, the pattern {SECONDS} s")


def check_uploads_kept(problems, figures, camera, exported, parts):
    """`exported` must be the first k of ffmpeg's local `parts`, byte for byte,
    with k at least all but the last: ffmpeg 5.1 pushing HLS over persistent
    PUTs may send only the head of a last upload and close (counted as
    truncated, never stored or answered)."""
    kept = 0
    at = 0
    while kept < len(parts) and exported[at:at + len(parts[kept])] == parts[kept]:
        at += len(parts[kept])
        kept += 1
    figures[camera.replace("-", "_")]["uploads_kept"] = f"{kept}/{len(parts)}"
    if at != len(exported):
        problems.append(f"{camera}: the export ({len(exported)} bytes) is not a run of ffmpeg's local uploads "
                        f"(the first {kept} of {len(parts)} match, {at} bytes)")
    elif kept < len(parts) - 1:
        problems.append(f"{camera}: {kept} of ffmpeg's {len(parts)} uploads are in the export")


def request(port, method, path, body=b"", headers=None):
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    conn = http.client.HTTPSConnection("127.0.0.1", port, context=context, timeout=10)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        return response.status, response.read().decode(errors="replace")
    finally:
        conn.close()


def main():
    p = fault_run.new_parser(__doc__)
    fault_run.add_common_args(p, cameras=2, segment_ms=1000, segment_bytes=16384)
    args = fault_run.parse_args(p)
    if shutil.which("ffmpeg") is None or shutil.which("ffprobe") is None:
        fault_run.say("ffmpeg/ffprobe not installed: skipped")
        return fault_run.SKIPPED
    failures = []
    figures = {}
    with fault_run.Workspace("https-ingest-", args) as ws:
        creds = os.path.join(ws.work, "encoders.txt")
        with open(creds, "w") as f:
            f.write(f"token cam-token sha256:{hashlib.sha256(TOKEN.encode()).hexdigest()}\nkey k1 {KEY_HEX}\n")
        (https_port,) = rolling_replacement.free_ports(1)
        # The POSTed stream (about 20 KiB a second, far below the 1 MiB
        # a piece would need by size) is cut by stream time, at a keyframe
        # every STREAM_SEGMENT_S.
        server = ws.ingestd(server={"https_listen": json.dumps(f"127.0.0.1:{https_port}")},
                            tls={"encoder_credentials_file": json.dumps(creds)},
                            protocol={"stream_segment_ms": STREAM_SEGMENT_S * 1000})
        server.start()
        server.wait_ready()
        base = f"https://127.0.0.1:{https_port}"
        expires = int(time.time()) + 3600

        # HLS over PUT behind a signed URL; a local copy of every segment.
        local_hls = os.path.join(ws.work, "hls")
        os.makedirs(local_hls)
        hls_options = "hls_time=1:hls_start_number_source=epoch"
        ffmpeg(["-map", "0:v", "-f", "tee",
                f"[f=hls:{hls_options}:hls_list_size=3:hls_flags=delete_segments:method=PUT:http_persistent=1]"
                f"{base}{signed_path('cam-hls', expires)}/live.m3u8|"
                f"[f=hls:{hls_options}]{local_hls}/live.m3u8"], realtime=True)
        # fMP4 HLS behind a signed URL. HLS pushes run in real time (-re), as
        # a live encoder does: run ahead of the clock, ffmpeg 5.1 ends without
        # sending its last two uploads, whatever the server (docs/https-ingest.md,
        # "What encoders send").
        local_fmp4 = os.path.join(ws.work, "fmp4")
        os.makedirs(local_fmp4)
        fmp4_options = f"{hls_options}:hls_segment_type=fmp4"
        ffmpeg(["-map", "0:v", "-f", "tee",
                f"[f=hls:{fmp4_options}:method=PUT:http_persistent=1]"
                f"{base}{signed_path('cam-fmp4', expires)}/live.m3u8|"
                f"[f=hls:{fmp4_options}]{local_fmp4}/live.m3u8"], realtime=True)
        # One chunked POST of MPEG-TS behind a signed URL; the local copy beside it.
        local_ts = os.path.join(ws.work, "post.ts")
        ffmpeg(["-map", "0:v", "-f", "tee",
                f"[f=mpegts:method=POST]{base}{signed_path('cam-post', expires)}/stream|[f=mpegts]{local_ts}"])
        # A bearer token, and a client certificate.
        ffmpeg(["-f", "hls", "-hls_time", "1", "-hls_start_number_source", "epoch", "-method", "PUT",
                "-http_persistent", "1", "-headers", f"Authorization: Bearer {TOKEN}\r\n",
                f"{base}/v1/cameras/cam-token/live.m3u8"], realtime=True)
        cert = os.path.join(ws.certs, "cameras", "cam-000001.pem")
        ffmpeg(["-f", "mpegts", "-method", "POST", "-cert_file", cert, "-key_file", cert,
                f"{base}/v1/cameras/cam-000001/stream"])

        # Refusals, each with its status.
        for (method, path, headers, want) in [
                ("PUT", "/v1/cameras/cam-token/live1.ts", {}, 401),
                ("PUT", "/v1/cameras/cam-hls/live1.ts", {"Authorization": f"Bearer {TOKEN}"}, 403),
                ("GET", "/v1/cameras/cam-token/live1.ts", {}, 405)]:
            status, text = request(https_port, method, path, b"x" * 100 if method == "PUT" else b"", headers)
            if status != want:
                failures.append(f"{method} {path}: {status} {text.strip()!r}, wanted {want}")
        with urllib.request.urlopen(f"http://127.0.0.1:{server.admin_port}/metrics", timeout=5) as response:
            metrics = response.read().decode(errors="replace").splitlines()

        def outcome(name):
            return sum(int(float(line.rpartition(" ")[2])) for line in metrics
                       if line.startswith("ingest_https_requests_total{") and f'outcome="{name}"' in line)

        figures["https_requests"] = {name: outcome(name) for name in (
            "segment_stored", "playlist", "delete_ignored", "unauthorized", "method_not_allowed", "truncated",
            "bad_request")}
        if outcome("unauthorized") != 2 or outcome("method_not_allowed") != 1:
            failures.append(f"refusals not counted as such: {figures['https_requests']}")
        if outcome("delete_ignored") == 0:
            failures.append("ffmpeg's DELETEs of old segments were not seen")
        # Each HLS push may lose its last request or two to ffmpeg (see
        # check_uploads_kept); nothing else may be cut or refused.
        if outcome("truncated") > 6 or outcome("bad_request"):
            failures.append(f"ffmpeg's uploads were not all whole: {figures['https_requests']}")

        code = server.flush_and_stop()
        if code != 0:
            failures.append(f"ingestd exited {code} on SIGTERM")

        hls_export = os.path.join(ws.work, "cam-hls.ts")
        stats = export(args, ws.store_dir, "cam-hls", hls_export)
        names = sorted((n for n in os.listdir(local_hls) if n.endswith(".ts")), key=lambda n: int(n[4:-3]))
        figures["cam_hls"] = {"segments": stats["segments"]}
        check_uploads_kept(failures, figures, "cam-hls", open(hls_export, "rb").read(),
                           [open(os.path.join(local_hls, n), "rb").read() for n in names])
        check_playable(failures, "cam-hls", hls_export, exact_duration=stats["segments"] == len(names))

        fmp4_export = os.path.join(ws.work, "cam-fmp4.mp4")
        stats = export(args, ws.store_dir, "cam-fmp4", fmp4_export)
        names = sorted((n for n in os.listdir(local_fmp4) if n.endswith(".m4s")), key=lambda n: int(n[4:-4]))
        figures["cam_fmp4"] = {"segments": stats["segments"], "init_segments": stats["init_segments"]}
        if stats["init_segments"] != 1:
            failures.append(f"cam-fmp4: {stats['init_segments']} initialization segments exported, not 1")
        check_uploads_kept(failures, figures, "cam-fmp4", open(fmp4_export, "rb").read(),
                           [open(os.path.join(local_fmp4, n), "rb").read() for n in ["init.mp4"] + names])
        check_playable(failures, "cam-fmp4", fmp4_export, container="mp4",
                       exact_duration=stats["segments"] == len(names))
        playlists_export = os.path.join(ws.work, "cam-fmp4-playlists.m3u8")
        stats = export(args, ws.store_dir, "cam-fmp4~m3u8", playlists_export)
        playlists = open(playlists_export, "rb").read().decode(errors="replace")
        figures["cam_fmp4"]["playlists_kept"] = stats["segments"]
        if stats["segments"] < 3 or '#EXT-X-MAP:URI="init.mp4"' not in playlists or names[0] not in playlists:
            failures.append(f"cam-fmp4: {stats['segments']} playlists kept, not ffmpeg's: {playlists[:300]!r}")

        post_export = os.path.join(ws.work, "cam-post.ts")
        stats = export(args, ws.store_dir, "cam-post", post_export)
        figures["cam_post"] = {"segments": stats["segments"]}
        if stats["segments"] != SECONDS // STREAM_SEGMENT_S:
            failures.append(f"cam-post: the stream was stored as {stats['segments']} segment(s), not "
                            f"{SECONDS // STREAM_SEGMENT_S} of {STREAM_SEGMENT_S} s")
        if open(post_export, "rb").read() != open(local_ts, "rb").read():
            failures.append(f"cam-post: the export ({os.path.getsize(post_export)} bytes) differs from the local "
                            f"copy ({os.path.getsize(local_ts)} bytes)")
        check_playable(failures, "cam-post", post_export)

        for camera in ("cam-token", "cam-000001"):
            path = os.path.join(ws.work, f"{camera}.ts")
            stats = export(args, ws.store_dir, camera, path)
            figures[camera.replace("-", "_")] = {"segments": stats["segments"]}
            # cam-token is an HLS push: its last segment may be lost to ffmpeg.
            check_playable(failures, camera, path, exact_duration=camera != "cam-token")
        return fault_run.finish(figures, failures, ws)


if __name__ == "__main__":
    sys.exit(main())
