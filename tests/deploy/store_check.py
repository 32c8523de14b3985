"""Checks the object store against what camera-sim says its cameras
recorded and had acknowledged: each camera's segments are all there, once,
byte-exact (SHA-256 of the payloads in seq order), and `ingestctl verify`
finds no problem.

    problems = check_store(ingestctl, store_dir, "dev", sim_report["per_camera"])
    counts = store_counts(ingestctl, store_dir, "dev")   # objects, segments, bytes
    problems, figures = check_bucket(ingestctl, s3, "recordings", "zone-a", mirror, "dev", sim_report)
"""

import concurrent.futures
import hashlib
import json
import subprocess

EVERYTHING = ("0", "9999999999999999")  # --from/--to in unix microseconds


def verify_store(ingestctl, store_dir, zone):
    out = subprocess.run([ingestctl, f"--store_dir={store_dir}", f"--zone={zone}", "verify", "--json"],
                         capture_output=True, text=True, timeout=120)
    if out.returncode not in (0, 1) or not out.stdout.strip():
        return [f"ingestctl verify failed (exit {out.returncode}): {out.stderr.strip()}"]
    report = json.loads(out.stdout)
    return [f"verify: {p['key']}: {p['problem']}" for p in report["problems"]]


def store_counts(ingestctl, store_dir, zone):
    """`ingestctl verify`'s counts (objects, segments, bytes) of a dir:
    store; {} if it printed none."""
    out = subprocess.run([ingestctl, f"--store_dir={store_dir}", f"--zone={zone}", "verify", "--json"],
                         capture_output=True, text=True, timeout=120)
    try:
        return json.loads(out.stdout)
    except ValueError:
        return {}


def _check_camera(ingestctl, store_dir, zone, camera):
    cid = camera["id"]
    out = subprocess.run(
        [ingestctl, f"--store_dir={store_dir}", f"--zone={zone}", "export", f"--camera={cid}",
         f"--from={EVERYTHING[0]}", f"--to={EVERYTHING[1]}", "--out=-", "--json"],
        capture_output=True, timeout=120)
    if camera["segments"] == 0:
        return [] if out.returncode != 0 else [f"{cid}: recorded nothing but the store has segments"]
    if out.returncode != 0:
        return [f"{cid}: export failed (exit {out.returncode}): {out.stderr.decode(errors='replace').strip()}"]
    summaries = [l for l in out.stderr.decode(errors="replace").splitlines() if l.startswith('{"camera"')]
    if not summaries:
        return [f"{cid}: export printed no summary"]
    stats = json.loads(summaries[-1])
    problems = []
    if camera["acked_spooled"] != camera["segments"]:
        problems.append(f"{cid}: only {camera['acked_spooled']} of {camera['segments']} segments acknowledged")
    if stats["segments"] != camera["segments"] or stats["first_seq"] != 1 or \
            stats["last_seq"] != camera["segments"]:
        problems.append(f"{cid}: store holds seq {stats['first_seq']}..{stats['last_seq']} "
                        f"({stats['segments']} segments), camera recorded 1..{camera['segments']}")
    if stats["duplicates_skipped"] or stats["conflicting_copies"]:
        problems.append(f"{cid}: stored more than once: {stats['duplicates_skipped']} duplicates, "
                        f"{stats['conflicting_copies']} conflicting copies")
    if hashlib.sha256(out.stdout).hexdigest() != camera["sha256"]:
        problems.append(f"{cid}: stored bytes differ from the recorded ones (SHA-256)")
    return problems


def check_store(ingestctl, store_dir, zone, cameras, workers=2):
    problems = verify_store(ingestctl, store_dir, zone)
    with concurrent.futures.ThreadPoolExecutor(max_workers=workers) as pool:
        for result in pool.map(lambda c: _check_camera(ingestctl, store_dir, zone, c), cameras):
            problems.extend(result)
    return problems


def check_bucket(ingestctl, s3, bucket, prefix, mirror, zone, sim_report):
    """The end of an S3 test: camera-sim's report (everything acknowledged,
    no protocol error), then the bucket copied into `mirror` by the AWS CLI
    straight from the gateway `s3` (s3_gateway.RadosGateway) and checked by
    check_store. Returns (problems, figures)."""
    problems = []
    if not sim_report["all_acked"]:
        problems.append("camera-sim: not every recorded segment was acknowledged")
    if sim_report["protocol_errors"]:
        problems.append(f"camera-sim: {sim_report['protocol_errors']} protocol errors (see camera-sim.log)")
    s3.mirror(bucket, prefix, mirror)
    problems.extend(check_store(ingestctl, mirror, zone, sim_report["per_camera"]))
    stored = store_counts(ingestctl, mirror, zone)
    figures = {
        "segments_acked": sim_report["segments_acked"],
        "segments_in_store": stored.get("segments"),
        "batch_objects": stored.get("batch_objects"),
        "camera_reconnects": sim_report["reconnects"],
        "camera_connect_failures": sim_report["connect_failures"],
        "longest_gap_ms": round(sim_report["longest_gap_ms"], 1),
    }
    return problems, figures
