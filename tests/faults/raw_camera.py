"""A camera speaking protocol v1 (proto/README.md) frame by frame over
Python's ssl, for tests that need to send what no well-behaved client
library would: capture times jumping back and forth, out of the server's
capture window. One connection per RawCamera; blocking, every read bounded.

    camera = RawCamera("127.0.0.1", port, certs_dir, "cam-000051")
    welcome = camera.hello(last_durable_seq=0)
    camera.send_segment(seq=1, capture_start_us=now_us, duration_us=2_000_000, payload=b"...")
    frame = camera.read_frame()            # Frame(type=ACK, ...) or ERROR, ...
    camera.close()

certs_dir is what `ingestd certs --out=DIR` writes: server-ca.crt and
cameras/<id>.pem (the camera's certificate and key).
"""

import os
import socket
import ssl
import struct
import time

HELLO, WELCOME, REJECT, REDIRECT, SEGMENT, ACK, PING, PONG, GOAWAY, ERROR = range(1, 11)
TYPE_NAMES = {HELLO: "HELLO", WELCOME: "WELCOME", REJECT: "REJECT", REDIRECT: "REDIRECT", SEGMENT: "SEGMENT",
              ACK: "ACK", PING: "PING", PONG: "PONG", GOAWAY: "GOAWAY", ERROR: "ERROR"}
SPOOLED, PERSISTED = 1, 2
ERROR_NAMES = {1: "MALFORMED_FRAME", 2: "FRAME_TOO_LARGE", 3: "UNKNOWN_FRAME_TYPE", 4: "UNEXPECTED_FRAME",
               5: "WINDOW_EXCEEDED", 6: "TIMEOUT", 7: "INTERNAL", 8: "BAD_SEQUENCE", 9: "SEGMENT_MISMATCH",
               10: "INVALID_FIELD", 11: "SUPERSEDED"}
KEYFRAME = 1


class Closed(Exception):
    """The server ended the connection (close_notify or EOF)."""


class Frame:
    """A decoded frame: `type`, and the fields of the types a camera reads."""

    def __init__(self, frame_type, body):
        self.type = frame_type
        self.body = body
        self.fields = {}
        if frame_type == WELCOME:
            version, session_id = struct.unpack_from(">HQ", body, 0)
            server_id, at = _str(body, 10)
            max_segment, window, keepalive, durable = struct.unpack_from(">IIIQ", body, at)
            self.fields = {"session_id": session_id, "server_id": server_id, "max_segment_bytes": max_segment,
                           "ack_window_bytes": window, "keepalive_interval_ms": keepalive, "durable_seq": durable}
        elif frame_type == ACK:
            seq, level = struct.unpack_from(">QB", body, 0)
            self.fields = {"seq": seq, "level": level}
        elif frame_type in (ERROR, REJECT):
            code, = struct.unpack_from(">H", body, 0)
            message, _ = _str(body, 2)
            self.fields = {"code": code, "name": ERROR_NAMES.get(code, str(code)) if frame_type == ERROR
                           else str(code), "message": message}
        elif frame_type == GOAWAY:
            reason, after = struct.unpack_from(">HI", body, 0)
            self.fields = {"reason": reason, "reconnect_after_ms": after, "message": _str(body, 6)[0]}
        elif frame_type in (PING, PONG):
            self.fields = {"nonce": struct.unpack_from(">Q", body, 0)[0]}

    def __repr__(self):
        return f"{TYPE_NAMES.get(self.type, self.type)} {self.fields}"


def _str(body, at):
    n, = struct.unpack_from(">H", body, at)
    return body[at + 2:at + 2 + n].decode(errors="replace"), at + 2 + n


def _pack_str(text):
    data = text.encode()
    return struct.pack(">H", len(data)) + data


def frame(frame_type, body):
    return struct.pack(">IB", 1 + len(body), frame_type) + body


def segment_frame(seq, capture_start_us, duration_us, flags, payload):
    return frame(SEGMENT, struct.pack(">QqIB", seq, capture_start_us, duration_us, flags) + payload)


class RawCamera:
    def __init__(self, host, port, certs_dir, camera_id, timeout_s=10):
        self.camera_id = camera_id
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.minimum_version = ssl.TLSVersion.TLSv1_3
        context.load_verify_locations(os.path.join(certs_dir, "server-ca.crt"))
        pem = os.path.join(certs_dir, "cameras", f"{camera_id}.pem")
        context.load_cert_chain(pem, pem)
        raw = socket.create_connection((host, port), timeout=timeout_s)
        self.sock = context.wrap_socket(raw, server_hostname="localhost")
        self.sock.settimeout(timeout_s)
        self._buffer = b""

    def hello(self, last_durable_seq=0, firmware="raw-camera"):
        """Sends HELLO and returns the answer (WELCOME, REJECT or REDIRECT)."""
        body = struct.pack(">H", 1) + _pack_str(self.camera_id) + _pack_str(firmware) + \
            struct.pack(">Q", last_durable_seq)
        self.sock.sendall(frame(HELLO, body))
        return self.read_frame()

    def send_segment(self, seq, capture_start_us, duration_us, payload, flags=KEYFRAME):
        self.sock.sendall(segment_frame(seq, capture_start_us, duration_us, flags, payload))

    def _read_exact(self, n, deadline):
        while len(self._buffer) < n:
            self.sock.settimeout(max(0.05, deadline - time.monotonic()))
            try:
                chunk = self.sock.recv(65536)
            except ssl.SSLZeroReturnError:
                chunk = b""
            if not chunk:
                raise Closed(f"{self.camera_id}: connection closed by the server")
            self._buffer += chunk
        data, self._buffer = self._buffer[:n], self._buffer[n:]
        return data

    def read_frame(self, timeout_s=10):
        """The next frame; PINGs are answered and skipped. Raises Closed at
        the end of the connection, socket.timeout past timeout_s."""
        deadline = time.monotonic() + timeout_s
        while True:
            length, frame_type = struct.unpack(">IB", self._read_exact(5, deadline))
            body = self._read_exact(length - 1, deadline)
            if frame_type == PING:
                self.sock.sendall(frame(PONG, body))
                continue
            return Frame(frame_type, body)

    def wait_ack(self, seq, level=SPOOLED, timeout_s=10):
        """Reads until an ACK covers seq at level (returns it) or something
        else ends the wait: an ERROR frame is returned, Closed raised."""
        deadline = time.monotonic() + timeout_s
        while True:
            f = self.read_frame(max(0.05, deadline - time.monotonic()))
            if f.type == ERROR or (f.type == ACK and f.fields["seq"] >= seq and f.fields["level"] >= level):
                return f

    def read_until_closed(self, timeout_s=5):
        """Every frame until the server closes: a list."""
        frames = []
        deadline = time.monotonic() + timeout_s
        try:
            while time.monotonic() < deadline:
                frames.append(self.read_frame(max(0.05, deadline - time.monotonic())))
        except Closed:
            return frames
        raise socket.timeout(f"{self.camera_id}: still open after {timeout_s} s; frames {frames}")

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass
