#!/usr/bin/env python3
"""Writes the seed corpora of the fuzz targets in tests/fuzz/ (except those
whose seeds are kept by hand): real, valid inputs in each format, plus a few
edge cases. Deterministic, so running it again changes nothing.

    tests/fuzz/make_corpus.py            # rewrite tests/fuzz/corpus/<target>/

The binary formats are spelled out here from their specifications:
proto/README.md (frames), server/spool/spool_record.h (spool records) and
server/batch/batch_journal.h (journal records). Each seed of a valid input is
meant to parse; the fuzz targets' checks then hold for it too.
"""

import os
import shutil
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
CORPUS = os.path.join(HERE, "corpus")


def crc32c(data, crc=0):
    crc ^= 0xFFFFFFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 if crc & 1 else 0)
    return crc ^ 0xFFFFFFFF


# Seeds stay small; the largest real one is deploy/ingestd.example.toml
# (9,262 bytes on 2026-12-03), which grows with every option.
MAX_SEED_BYTES = 16384


def write_corpus(target, seeds):
    seeds = {name: data.encode() if isinstance(data, str) else data for name, data in seeds.items()}
    # Checked before the folder is emptied: a seed over the limit used to
    # leave the target with no corpus at all.
    for name, data in seeds.items():
        assert len(data) <= MAX_SEED_BYTES, (target, name, len(data))
    folder = os.path.join(CORPUS, target)
    shutil.rmtree(folder, ignore_errors=True)
    os.makedirs(folder)
    for name, data in seeds.items():
        with open(os.path.join(folder, name), "wb") as out:
            out.write(data)


# --- camera protocol v1 (proto/README.md): big-endian, u32 length of type + body.

def frame(frame_type, body):
    return struct.pack(">IB", 1 + len(body), frame_type) + body


def string16(text):
    data = text.encode()
    return struct.pack(">H", len(data)) + data


def hello(camera, firmware="4.2.0", last_durable=0, version=1):
    return frame(0x01, struct.pack(">H", version) + string16(camera) + string16(firmware) +
                 struct.pack(">Q", last_durable))


def welcome(server="ingest-1", session=7, max_segment=4 << 20, window=8 << 20, keepalive=15000, durable=0):
    return frame(0x02, struct.pack(">HQ", 1, session) + string16(server) +
                 struct.pack(">IIIQ", max_segment, window, keepalive, durable))


def segment(seq, payload, start_us=1_790_000_000_000_000, duration_us=2_000_000, flags=1):
    return frame(0x05, struct.pack(">QqIB", seq, start_us, duration_us, flags) + payload)


def ack(seq, level=1):
    return frame(0x06, struct.pack(">QB", seq, level))


def ping(nonce):
    return frame(0x07, struct.pack(">Q", nonce))


def pong(nonce):
    return frame(0x08, struct.pack(">Q", nonce))


def reject(code, reason):
    return frame(0x03, struct.pack(">H", code) + string16(reason))


def redirect(endpoint, zone):
    return frame(0x04, string16(endpoint) + string16(zone))


def goaway(reason, after_ms, message):
    return frame(0x09, struct.pack(">HI", reason, after_ms) + string16(message))


def error(code, message):
    return frame(0x0A, struct.pack(">H", code) + string16(message))


def decoder_input(stream, limit=2, use_feed=False, refusals=0, chunks=b""):
    """The frame_decoder target's input: a config byte, the chunk sizes, the stream."""
    config = limit | (8 if use_feed else 0) | (refusals << 4)
    return bytes([config, len(chunks)]) + chunks + stream


def frame_decoder_seeds():
    payload = bytes(range(256)) * 4
    camera = (hello("cam-000042", last_durable=41) + segment(42, payload[:700]) +
              segment(43, payload[:300], flags=0) + ping(1) + pong(2) + ack(43))
    server = (welcome(durable=41) + ack(42, 1) + ack(42, 2) + ping(9) +
              goaway(1, 5000, "draining: reconnect elsewhere") + error(5, "window exceeded"))
    refusals = reject(5, "unknown camera") + redirect("apne1-c.cameras.example.com:7443", "apne1-c")
    return {
        "camera_stream_whole": decoder_input(camera, limit=3),
        "camera_stream_small_chunks": decoder_input(camera, limit=3, chunks=bytes([0, 4, 20, 1])),
        "camera_stream_feed_backpressure": decoder_input(camera, limit=2, use_feed=True, refusals=2,
                                                         chunks=bytes([6, 63])),
        "server_stream": decoder_input(server, limit=0, chunks=bytes([2])),
        "reject_redirect": decoder_input(refusals, limit=0, use_feed=True),
        "empty_segment": decoder_input(segment(1, b"") + segment(2, b"x"), limit=1, refusals=1),
        # Edge cases: what a conforming decoder must refuse, each with its code.
        "edge_zero_length": decoder_input(b"\0\0\0\0\x07"),
        "edge_unknown_type": decoder_input(frame(0x0B, b"")),
        "edge_control_too_large": decoder_input(struct.pack(">IB", 5000, 0x01)),
        "edge_segment_over_limit": decoder_input(segment(1, b"y" * 100), limit=1),
        "edge_segment_refused": decoder_input(segment(1, b"z"), limit=0),
        "edge_bad_camera_id": decoder_input(hello(".hidden")),
        "edge_trailing_bytes": decoder_input(frame(0x07, struct.pack(">Q", 1) + b"!")),
        "edge_truncated": decoder_input(camera[:-3], limit=3),
    }


# --- the admin listener: what a client sends on one connection.

def admin_input(request, loopback=True, drain=True, token=False, loopback_may_drain=True, live=True, ready=True,
                header_limit=2):
    config = ((1 if loopback else 0) | (2 if drain else 0) | (4 if token else 0) |
              (8 if loopback_may_drain else 0) | (32 if live else 0) | (64 if ready else 0))
    return bytes([config, header_limit]) + request.encode()


def admin_http_seeds():
    get = "GET {} HTTP/1.1\r\nHost: 127.0.0.1:9090\r\nUser-Agent: curl/7.88.1\r\nAccept: */*\r\n\r\n"
    return {
        "readyz": admin_input(get.format("/readyz")),
        "readyz_not_ready": admin_input(get.format("/readyz"), ready=False),
        "healthz_http10": admin_input("GET /healthz HTTP/1.0\r\n\r\n", live=False),
        "metrics_prometheus": admin_input(
            "GET /metrics HTTP/1.1\r\nHost: 10.20.0.7:9090\r\nUser-Agent: Prometheus/2.42.0\r\n"
            "Accept: application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5\r\n"
            "Accept-Encoding: gzip\r\nX-Prometheus-Scrape-Timeout-Seconds: 10\r\n\r\n", loopback=False),
        "status_head": admin_input("HEAD /status HTTP/1.1\r\nHost: x\r\n\r\n"),
        "keep_alive_pipeline": admin_input(get.format("/healthz") + get.format("/readyz?verbose=1") +
                                           "GET /status HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"),
        "drain_post_loopback": admin_input(
            "POST /admin/drain HTTP/1.1\r\nHost: 127.0.0.1:9090\r\nContent-Length: 0\r\n\r\n"),
        "drain_post_fast_token": admin_input(
            "POST /admin/drain?fast=1 HTTP/1.1\r\nHost: 10.20.0.7:9090\r\nAuthorization: Bearer fuzz-token\r\n"
            "Content-Length: 0\r\n\r\n", loopback=False, token=True),
        "drain_get": admin_input("GET /admin/drain HTTP/1.1\r\nHost: x\r\n\r\n"),
        "drain_put_405": admin_input("PUT /admin/drain HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}"),
        "post_body_405": admin_input("POST /readyz HTTP/1.1\r\nHost: x\r\nContent-Length: 11\r\n\r\nhello world"),
        "chunked_body": admin_input("GET /healthz HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                                    "5\r\nhello\r\n0\r\n\r\n"),
        # Edge cases.
        "edge_garbage": admin_input("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03 not http\r\n\r\n"),
        "edge_headers_too_large": admin_input("GET /readyz HTTP/1.1\r\nX-Pad: " + "a" * 300 + "\r\n\r\n",
                                              header_limit=0),
        "edge_unknown_path": admin_input(get.format("/../../etc/passwd")),
        "edge_truncated": admin_input("GET /readyz HTTP/1.1\r\nHost: x\r\n"),
        "edge_bad_token": admin_input("POST /admin/drain HTTP/1.1\r\nAuthorization: Bearer fuzz-tokeX\r\n\r\n",
                                      loopback=False, token=True),
    }


# --- the configuration and the zone map: the examples we ship, and small variants.

def read(path):
    with open(os.path.join(ROOT, path), "rb") as source:
        return source.read()


def config_seeds():
    return {
        "ingestd_example": read("deploy/ingestd.example.toml"),
        "minimal_dev": "[tls]\ndev_certs = true\n",
        "s3_assume_role": (
            "[server]\nid = \"ingest-apne1-a-7\"\nzone = \"apne1-a\"\nlisten = \"[::]:7443\"\n"
            "admin_listen = \"0.0.0.0:9090\"\nshards = 2\nzone_map = \"/etc/ingestd/zones.toml\"\n"
            "zone_subnet_check = \"refuse\"\n\n[tls]\ncert_file = \"/etc/ingestd/server.pem\"\n"
            "key_file = \"/etc/ingestd/server.key\"\ncamera_ca_file = \"/etc/ingestd/cameras-ca.pem\"\n\n"
            "[spool]\nfile_bytes = \"64MiB\"\nmax_bytes = \"200GiB\"\ncommit_bytes = 1048576\n\n"
            "[store]\nurl = \"s3://recordings-apne1/zones/apne1-a\"\nregion = \"ap-northeast-1\"\n"
            "role_arn = \"arn:aws:iam::123456789012:role/ingest-writer\"\nexternal_id = \"ext-1\"\n\n"
            "[drain]\nannounce_delay_ms = 20000\ntoken_file = \"/etc/ingestd/drain.token\"\n\n"
            "[log]\nlevel = \"warn\"\nconnection_errors_per_second = 2.5\n"),
        # Edge cases: each refused with file, line and key.
        "edge_unknown_key": "[spool]\ncomit_interval_ms = 5\n",
        "edge_wrong_type": "[protocol]\nmax_segment_bytes = true\n",
        "edge_bad_size": "[spool]\nmax_bytes = \"8 GB\"\n",
        "edge_out_of_range": "[server]\nshards = 100000\n",
        "edge_not_toml": "[server\nid = \n",
        "edge_cross_key": "[protocol]\nack_window_bytes = \"1MiB\"\nmax_segment_bytes = \"4MiB\"\n",
    }


def zone_map_seeds():
    one_zone = (
        "[[zone]]\nid = \"dev\"\nsubnets = [\"127.0.0.0/8\", \"::1/128\"]\nendpoint = \"127.0.0.1:7443\"\n"
        "capacity_per_server = 2000\n[zone.store]\nbucket = \"recordings\"\nregion = \"us-east-1\"\n")
    pinned = (
        "[map]\ndefault = \"none\"\n\n"
        "[[zone]]\nid = \"euw1-a\"\nsubnets = [\"10.1.0.0/16\"]\nendpoint = \"[2001:db8::1]:7443\"\n"
        "capacity_per_server = 1500\nhash = false\n[zone.store]\nbucket = \"rec-euw1\"\nregion = \"eu-west-1\"\n"
        "endpoint = \"http://127.0.0.1:7480\"\n[zone.cameras]\nids = [\"cam-1\", \"cam-2\"]\n"
        "ranges = [[\"cam-100\", \"cam-199\"], [\"cam-300\", \"cam-399\"]]\nprefixes = [\"acme-\"]\n\n"
        "[[zone]]\nid = \"euw1-b\"\nsubnets = [\"10.2.0.0/16\", \"2001:db8:2::/48\"]\n"
        "endpoint = \"euw1-b.example.com:443\"\ncapacity_per_server = 1500\nweight = 3\n"
        "[zone.store]\nbucket = \"rec-euw1\"\nprefix = \"b\"\nregion = \"eu-west-1\"\n"
        "[zone.cameras]\nprefixes = [\"acme-eu-\", \"zeta\"]\n")
    return {
        "zones_example": read("deploy/zones.example.toml"),
        "one_zone": one_zone,
        "pinned_two_zones": pinned,
        # Edge cases: each refused with file, line and field.
        "edge_overlapping_subnets": one_zone + one_zone.replace("\"dev\"", "\"dev2\"").replace(
            "127.0.0.0/8\", \"::1/128", "127.1.0.0/16"),
        "edge_id_pinned_twice": pinned.replace("prefixes = [\"acme-eu-\", \"zeta\"]", "ids = [\"cam-150\"]"),
        "edge_host_bits": one_zone.replace("127.0.0.0/8", "127.0.0.1/8"),
        "edge_no_zones": "[map]\ndefault = \"hash\"\n",
        "edge_bad_endpoint": one_zone.replace("127.0.0.1:7443", "127.0.0.1:99999"),
    }


# --- spool files (server/spool/spool_record.h): little-endian records.

def spool_record(camera, seq, payload, start_us=1_790_000_000_000_000, duration_us=2_000_000, flags=1,
                 padded=False):
    camera = camera.encode()
    size = 40 + len(camera) + len(payload)
    pad = -size % 4096 if padded else 0  # SPR2: zeros up to the next 4 KiB, as an O_DIRECT writer leaves it
    fixed = struct.pack("<IIQqIBBHI", 0x32525053 if padded else 0x31525053, len(payload), seq, start_us,
                        duration_us, flags, len(camera), pad, crc32c(payload))
    return fixed + struct.pack("<I", crc32c(fixed + camera)) + camera + payload + bytes(pad)


def spool_recovery_seeds():
    payload = bytes(range(256)) * 2
    records = (spool_record("cam-000042", 1, payload[:300]) + spool_record("cam-000043", 7, payload[:64]) +
               spool_record("cam-000042", 2, payload[:500], flags=0) + spool_record("c", 3, b""))
    big = spool_record("cam-big", 9, bytes(i * 7 % 251 for i in range(2500)))
    torn = bytearray(records)
    torn[-1] ^= 0xFF
    return {
        # The first byte picks the second pass's read buffer (bits 0-1: 168, 200, 4 KiB, 1 MiB) and
        # whether the target rewrites the CRCs to match (bit 2).
        "four_records": b"\x02" + records,
        "four_records_crcs_rewritten": b"\x06" + records,
        "four_records_small_buffer": b"\x00" + records,
        "payload_larger_than_buffer": b"\x01" + big,
        "edge_torn_tail": b"\x02" + records + spool_record("cam-000042", 3, payload[:100])[:70],
        "edge_bad_payload_crc": b"\x00" + bytes(torn),
        "edge_bad_magic": b"\x02" + b"SPR0" + records[4:],
        "edge_empty": b"\x02",
        "edge_zeros": b"\x01" + bytes(96),
        "padded_between_unpadded": b"\x02" + spool_record("cam-000042", 1, payload[:300]) +
        spool_record("cam-000042", 4, payload[:300], padded=True) + spool_record("cam-000043", 8, payload[:64]),
        "edge_padded_torn_in_padding": b"\x06" + spool_record("cam-000042", 4, payload[:300], padded=True)[:2000],
    }


# --- the batch journal (server/batch/batch_journal.h): framed little-endian records.

def journal_record(body):
    return struct.pack("<III", 0x31524A42, len(body), crc32c(body)) + body


def s8(text):
    data = text.encode()
    return struct.pack("<B", len(data)) + data


def s16(text):
    data = text.encode()
    return struct.pack("<H", len(data)) + data


def intent(key, entries):
    body = b"\x01" + s16(key) + struct.pack("<I", len(entries))
    for camera, seq, offset, length in entries:
        body += s8(camera) + struct.pack("<QqIBQII", seq, 1_790_000_000_000_000 + seq * 2_000_000, 2_000_000, 1,
                                         offset, length, crc32c(struct.pack("<Q", seq)))
    return journal_record(body)


def commit(key):
    return journal_record(b"\x02" + s16(key))


def indexed(camera, seq):
    return journal_record(b"\x03" + s8(camera) + struct.pack("<Q", seq))


def high(camera, seq):
    return journal_record(b"\x04" + s8(camera) + struct.pack("<Q", seq))


def batch_journal_seeds():
    key1 = "apne1-a/batches/3f/2026-11-22/10/9c1d2e3f4a5b6c7d-000000000001.cbt"
    key2 = "apne1-a/batches/a0/2026-11-22/10/9c1d2e3f4a5b6c7d-000000000002.cbt"
    key3 = "apne1-a/batches/11/2026-11-22/11/9c1d2e3f4a5b6c7d-000000000003.cbt"
    life = (high("cam-000040", 17) + intent(key1, [("cam-000042", 1, 0, 700), ("cam-000043", 7, 700, 64)]) +
            commit(key1) + intent(key2, [("cam-000042", 2, 0, 500), ("cam-000042", 3, 500, 10)]) +
            commit(key2) + indexed("cam-000042", 2) + intent(key3, [("cam-000043", 8, 0, 1000)]))
    # The first byte: one file or two (bit 0), CRCs rewritten to match (bit 1); the second: where two
    # files split.
    return {
        "sealer_lifecycle": b"\x00\x00" + life,
        "sealer_lifecycle_crcs_rewritten": b"\x02\x00" + life,
        "two_files_rotation": b"\x01\x80" + life,
        "intent_redone": b"\x00\x00" + intent(key3, [("cam-1", 5, 0, 9)]) + intent(key3, [("cam-1", 5, 0, 9),
                                                                                       ("cam-2", 1, 9, 4)]),
        "edge_torn_tail": b"\x00\x00" + life + intent(key1, [("cam-9", 1, 0, 1)])[:-5],
        "edge_bad_crc": b"\x00\x00" + life[:30] + b"\xff" + life[31:],
        "edge_unknown_type": b"\x00\x00" + journal_record(b"\x09payload") + life,
        "edge_empty_key": b"\x00\x00" + commit(""),
        "edge_count_too_large": b"\x00\x00" + journal_record(b"\x01" + s16("k") + struct.pack("<I", 0xFFFFFFFF)),
    }


# --- S3 replies (XML).

S3_NS = 'xmlns="http://s3.amazonaws.com/doc/2006-03-01/"'


def s3_xml_seeds():
    return {
        "list_page": (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            f"<ListBucketResult {S3_NS}><Name>recordings</Name><Prefix>apne1-a/index/cam-000042/</Prefix>"
            "<KeyCount>2</KeyCount><MaxKeys>1000</MaxKeys><IsTruncated>true</IsTruncated>"
            "<NextContinuationToken>1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=</NextContinuationToken>"
            "<Contents><Key>apne1-a/index/cam-000042/2026-11-22/10/00000000000000000001-00000000000000000042-"
            "9c1d2e3f4a5b6c7d.cix</Key><LastModified>2026-11-22T10:00:00.000Z</LastModified>"
            "<ETag>&quot;9b2cf535f27731c974343645a3985328&quot;</ETag><Size>1234</Size>"
            "<StorageClass>STANDARD</StorageClass></Contents>"
            "<Contents><Key><![CDATA[apne1-a/a&b<c>]]></Key><ETag>\"abc-3\"</ETag><Size>0</Size>"
            "<Owner><ID>x</ID><DisplayName>y</DisplayName></Owner></Contents>"
            "<CommonPrefixes><Prefix>apne1-a/index/cam-000043/</Prefix></CommonPrefixes>"
            "<!-- a comment --></ListBucketResult>\n"),
        "list_last_page": f"<ListBucketResult {S3_NS}><IsTruncated>false</IsTruncated></ListBucketResult>",
        "initiate_multipart": (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            f"<InitiateMultipartUploadResult {S3_NS}><Bucket>recordings</Bucket>"
            "<Key>apne1-a/batches/3f/2026-11-22/10/9c1d2e3f4a5b6c7d-000000000001.cbt</Key>"
            "<UploadId>VXBsb2FkIElEIGZvciA2aWWpbmcncyBteS1tb3ZpZS5tMnRzIHVwbG9hZA</UploadId>"
            "</InitiateMultipartUploadResult>"),
        "complete_multipart": (
            f"<CompleteMultipartUploadResult {S3_NS}><Location>https://recordings.s3.amazonaws.com/k</Location>"
            "<Bucket>recordings</Bucket><Key>k</Key><ETag>\"3858f62230ac3c915f300c664312c11f-9\"</ETag>"
            "</CompleteMultipartUploadResult>"),
        "complete_multipart_error_200": (
            "<Error><Code>InternalError</Code><Message>We encountered an internal error. Please try again."
            "</Message><RequestId>656c76696e6727732072657175657374</RequestId></Error>"),
        "error_no_such_bucket": (
            '<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>NoSuchBucket</Code>'
            "<Message>The specified bucket does not exist</Message><BucketName>recordings</BucketName>"
            "<RequestId>4442587FB7D0A2F9</RequestId><HostId>h&#x41;&#65;</HostId></Error>"),
        "complete_request_body": (
            f"<CompleteMultipartUpload {S3_NS}><Part><PartNumber>1</PartNumber><ETag>&quot;a54357aff0632cce46d942af"
            "68356b38&quot;</ETag></Part><Part><PartNumber>2</PartNumber><ETag>&quot;0c78aef83f66abc1fa1e8477f296d"
            "394&quot;</ETag></Part></CompleteMultipartUpload>"),
        # Edge cases.
        "edge_doctype": '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]><Error>&a;</Error>',
        "edge_mismatched_end": "<ListBucketResult><Contents><Key>k</Contents></ListBucketResult>",
        "edge_bad_size": f"<ListBucketResult {S3_NS}><Contents><Key>k</Key><Size>-1</Size></Contents>"
                         "</ListBucketResult>",
        "edge_deep": "<a>" * 17 + "</a>" * 17,
        "edge_bad_reference": "<Error><Code>&#xD800;&bogus;</Code></Error>",
        "edge_bom_and_truncated": "\ufeff<Error><Code>SlowDown</Code><Mess",
    }


# --- AWS credential answers: IMDS (text, JSON) and STS (XML).

def aws_json_seeds():
    sts_ns = 'xmlns="https://sts.amazonaws.com/doc/2011-06-15/"'
    return {
        "imds_credentials": (
            '{\n  "Code" : "Success",\n  "LastUpdated" : "2026-11-22T09:55:31Z",\n  "Type" : "AWS-HMAC",\n'
            '  "AccessKeyId" : "ASIAIOSFODNN7EXAMPLE",\n'
            '  "SecretAccessKey" : "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",\n'
            '  "Token" : "IQoJb3JpZ2luX2VjEJr//////////wEaCXVzLWVhc3QtMSJHMEUCIQD6m\\/8EXAMPLE==",\n'
            '  "Expiration" : "2026-11-22T16:20:45Z"\n}\n'),
        "imds_not_available": '{"Code": "AssumeRoleUnauthorizedAccess", "Message": "Role \\"web\\" not found",'
                              ' "LastUpdated": "2026-11-22T09:55:31Z"}',
        "imds_instance_identity": (
            '{"accountId": "123456789012", "architecture": "x86_64", "availabilityZone": "ap-northeast-1a",'
            ' "devpayProductCodes": null, "marketplaceProductCodes": ["1abc2defghijklm3nopqrs4tu"],'
            ' "imageId": "ami-5fb8c835", "pendingTime": "2026-11-19T16:32:11Z", "version": "2017-09-30",'
            ' "nested": {"a": [1, -2.5e+3, true, false, {"b": "\\u00e9\\ud83d\\ude00"}]}}'),
        "imds_role_listing": "ingest-writer\n",
        "imds_token": "AQAEAFdvlCpYoRfi1zJqbEVjk2T5a7zd1I_pWhHqVvL8uLMJ4VRsBg==",
        "sts_assume_role": (
            f"<AssumeRoleResponse {sts_ns}><AssumeRoleResult><SourceIdentity>ingestd</SourceIdentity>"
            "<AssumedRoleUser><Arn>arn:aws:sts::123456789012:assumed-role/ingest-writer/ingestd</Arn>"
            "<AssumedRoleId>ARO123EXAMPLE123:ingestd</AssumedRoleId></AssumedRoleUser><Credentials>"
            "<AccessKeyId>ASIAIOSFODNN7EXAMPLE</AccessKeyId>"
            "<SecretAccessKey>wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY</SecretAccessKey>"
            "<SessionToken>AQoDYXdzEPT//////////wEXAMPLEtc764bNrC9SAPBSM22wDOk4x4HIZ8j4FZTwdQWLWsKWHGBuFqw"
            "</SessionToken><Expiration>2026-11-22T23:00:00.000Z</Expiration></Credentials>"
            "<PackedPolicySize>6</PackedPolicySize></AssumeRoleResult><ResponseMetadata>"
            "<RequestId>c6104cbe-af31-11e0-8154-cbc7ccf896c7</RequestId></ResponseMetadata>"
            "</AssumeRoleResponse>"),
        "sts_access_denied": (
            f"<ErrorResponse {sts_ns}><Error><Type>Sender</Type><Code>AccessDenied</Code>"
            "<Message>User: arn:aws:sts::123456789012:assumed-role/base/i-0abc is not authorized to perform:"
            " sts:AssumeRole</Message></Error><RequestId>4f7e0d6a-2a8b</RequestId></ErrorResponse>"),
        # Edge cases.
        "edge_unpaired_surrogate": '{"Token": "\\ud800x"}',
        "edge_deep_nesting": '{"a": ' + "[" * 20 + "]" * 20 + "}",
        "edge_trailing": '{"Code": "Success"} {}',
        "edge_control_char": '{"AccessKeyId": "A\x01B"}',
        "edge_bad_timestamp": '{"AccessKeyId": "A", "SecretAccessKey": "S", "Token": "T", '
                              '"Expiration": "2026-13-45T99:00:00Z"}',
    }


# --- tls13_records: operations of a hostile TLS 1.3 peer (tls13_records_fuzz.cc).

TLS_OPS = ["seal_data", "seal_record", "seal_alert", "seal_key_update", "send_raw", "flip_byte",
           "rewrite_length", "cut_tail", "deliver", "server_send", "server_close_notify", "server_fail"]


def tls_op(name, *args, conn=0):
    """One operation on connection `conn`; `args` are bytes or byte values."""
    out = bytes([TLS_OPS.index(name) << 1 | conn])
    for arg in args:
        out += arg if isinstance(arg, bytes) else bytes([arg])
    return out


def tls_bytes(data):
    """Bytes the target reads with ReadBytes: a count below 0xe0, then the bytes."""
    data = data.encode() if isinstance(data, str) else data
    assert len(data) < 0xE0
    return bytes([len(data)]) + data


def tls_big(index, fill):
    """One of the target's kSizes (0 1 255 1000 4096 16383 16384 16385 16400 16639
    16640 16641 16700 20000 32768 65000), filled with `fill`."""
    return bytes([0xE0 + index, fill])


NO_PADDING = 0


def tls_input(ops, suites=(0, 0), records_written=1, limit=None):
    settings = suites[0] | suites[1] << 2 | records_written << 4 | (0x80 if limit else 0)
    return bytes([settings, (limit - 1) % 8 if limit else 0]) + b"".join(ops)


def tls13_records_seeds():
    text = [("segment %d: " % i).encode() + bytes(range(32, 127)) * 2 for i in range(6)]
    data = lambda i, conn=0, pad=NO_PADDING: tls_op("seal_data", tls_bytes(text[i]), pad, conn=conn)
    deliver_all = lambda conn=0: tls_op("deliver", 0, conn=conn)
    key_update = lambda request, cut=0, conn=0: tls_op("seal_key_update", request | cut << 2, conn=conn)
    return {
        "two_cameras_two_suites": tls_input(
            [data(0), data(1, conn=1), data(2, pad=0x90), deliver_all(), data(3, conn=1),
             tls_op("server_send", tls_bytes(b"ack 1"), conn=1), deliver_all(1), data(4),
             tls_op("deliver", 0x20), tls_op("deliver", 3), deliver_all()],
            suites=(0, 2)),
        "key_update_requested_and_not": tls_input(
            [data(0), key_update(1), data(1), deliver_all(), tls_op("server_send", tls_bytes(b"reply")),
             key_update(0), data(2), deliver_all(), tls_op("server_send", tls_big(13, 0x61))],
            suites=(1, 1)),
        "key_update_cut_padded": tls_input(
            [data(0), tls_op("seal_key_update", 0x40 | 2 << 2 | 1, 0x90), data(1),
             tls_op("deliver", 0x30), deliver_all(), data(2), deliver_all()], suites=(2, 0)),
        "close_notify": tls_input(
            [data(0), tls_op("seal_alert", 1, 0, NO_PADDING), data(1), deliver_all(), tls_op("server_close_notify"),
             tls_op("server_send", tls_bytes(b"late"))]),
        "user_canceled_then_close": tls_input(
            [data(0), tls_op("seal_alert", 1, 90, 0x81), tls_op("seal_alert", 1, 0, NO_PADDING), deliver_all(),
             tls_op("server_close_notify")], suites=(1, 0)),
        # Three records per key: the layer moves its key on before sending and
        # asks the peer to move its own.
        "rekey_at_limit": tls_input(
            [tls_op("server_send", tls_bytes(b"hello")), tls_op("server_send", tls_big(13, 0x62))] +
            [data(i % 6) for i in range(7)] +
            [tls_op("deliver", 0x40), deliver_all(), tls_op("server_send", tls_big(13, 0x63)),
             key_update(0), data(0), deliver_all(), tls_op("server_send", tls_bytes(b"bye"))],
            records_written=5, limit=3),
        "server_sends_big": tls_input(
            [tls_op("server_send", tls_big(14, 0x63)), tls_op("server_send", tls_big(6, 0x64)), data(0),
             deliver_all()], suites=(2, 2)),
        # Edge cases: each ends the connection, most with a named alert.
        "edge_padding_only": tls_input([data(0), tls_op("seal_record", 0, 0, tls_bytes(b""), 0x90)]),
        "edge_unknown_type": tls_input([tls_op("seal_record", 20, 0, tls_bytes(b"\x01"), 0)]),
        "edge_content_over_16k": tls_input([tls_op("seal_data", tls_big(7, 0x65), 0)]),
        "edge_body_over_limit": tls_input([tls_op("seal_data", tls_big(6, 0x66), 0xF0 + 9)]),
        "edge_padded_past_limit": tls_input([tls_op("seal_data", tls_big(6, 0x67), 0x80 + 100), data(0)]),
        "edge_tampered_tag": tls_input([data(0), data(1), tls_op("flip_byte", 0, 0, 1)]),
        "edge_plaintext_handshake": tls_input([tls_op("send_raw", tls_bytes(b"\x16\x03\x03\x00\x01\x00"))]),
        "edge_two_key_updates_in_a_record": tls_input(
            [tls_op("seal_key_update", 0x20, tls_bytes(bytes([24, 0, 0, 1, 0]))), data(0)]),
        "edge_interleaved_handshake": tls_input(
            [tls_op("seal_record", 22, 0, tls_bytes(bytes([24, 0])), 0), data(0)]),
        "edge_new_session_ticket": tls_input(
            [tls_op("seal_record", 22, 0, tls_bytes(bytes([4, 0, 0, 1, 0])), 0)]),
        "edge_bad_request_update": tls_input([key_update(3) + bytes([2])]),
        "edge_fatal_alert": tls_input([data(0), tls_op("seal_alert", 2, 40, NO_PADDING), data(1)]),
        "edge_wrong_length": tls_input([data(0), tls_op("rewrite_length", 0x41), data(1)]),
        "edge_cut_record": tls_input([data(0), tls_op("cut_tail", 3), data(1)]),
        "edge_server_fails": tls_input([data(0), deliver_all(), tls_op("server_fail", 90), data(1)]),
    }


def main():
    if len(sys.argv) != 1:
        print(__doc__, file=sys.stderr)
        return 2
    write_corpus("frame_decoder", frame_decoder_seeds())
    write_corpus("admin_http", admin_http_seeds())
    write_corpus("config", config_seeds())
    write_corpus("zone_map", zone_map_seeds())
    write_corpus("spool_recovery", spool_recovery_seeds())
    write_corpus("batch_journal", batch_journal_seeds())
    write_corpus("s3_xml", s3_xml_seeds())
    write_corpus("aws_json", aws_json_seeds())
    write_corpus("tls13_records", tls13_records_seeds())
    return 0


if __name__ == "__main__":
    sys.exit(main())
