"""HAProxy in TCP mode in front of ingestd instances, standing in for the
zone's NLB: TLS passes through untouched (so mutual TLS reaches ingestd),
`leastconn`, and a health check per server on its admin port's /readyz.

Every connection is logged when HAProxy has connected it to a server
(`option logasap`), with its accept time to the millisecond, the server and
the connect retries, so a test can tell where each new connection went and
when. A monitor polls the stats socket and keeps each server's UP/DOWN
transitions with their times.

    front = HAProxyFront(work, 7443, [Backend("a", 7001, 9001), Backend("b", 7002, 9002)])
    front.start(); front.wait_status("a", "UP", 10)
    ...
    front.stop(); front.connections()   # [Connection(accepted=..., server="a", retries=0), ...]
"""

import dataclasses
import os
import socket
import subprocess
import threading
import time

# Log line of one connection: "conn <unix s>.<ms> <backend>/<server> <retries> <Tw>/<Tc>/<Tt> <state>".
_LOG_FORMAT = "conn %Ts.%ms %b/%s %rc %Tw/%Tc/%Tt %ts"


@dataclasses.dataclass
class Backend:
    name: str
    port: int  # camera listener
    admin_port: int  # /readyz


@dataclasses.dataclass
class Connection:
    accepted: float  # unix seconds
    server: str  # "<NOSRV>" if none was up
    retries: int  # connect retries; "+" (redispatched to another server) counts as one more
    state: str


@dataclasses.dataclass
class HealthCheck:
    inter_ms: int = 300
    fall: int = 2
    rise: int = 2
    timeout_ms: int = 250

    def detection_bound_s(self):
        """Longest a server can look ready after /readyz starts failing: up
        to one interval until the next check, `fall` failing checks, each
        taking at most the check timeout."""
        return (self.inter_ms * self.fall + self.inter_ms + self.timeout_ms) / 1000.0


class HAProxyFront:
    def __init__(self, work, port, backends, check=None, binary="haproxy"):
        self.work = work
        self.port = port
        self.backends = backends
        self.check = check or HealthCheck()
        self.binary = binary
        self.config_path = os.path.join(work, "haproxy.cfg")
        self.log_path = os.path.join(work, "haproxy.log")
        self.socket_path = os.path.join(work, "haproxy.sock")
        self.process = None
        self.transitions = []  # (unix seconds, server, status), first entry per server = initial
        self._status = {}
        self._stop_monitor = threading.Event()
        self._monitor = None

    def _config(self):
        c = self.check
        servers = "\n".join(
            f"  server {b.name} 127.0.0.1:{b.port} check port {b.admin_port}" for b in self.backends)
        return f"""global
  log stdout format raw local0
  # Two descriptors per connection must fit the process's descriptor limit.
  maxconn 8000
  stats socket {self.socket_path} mode 600 level admin

defaults
  mode tcp
  log global
  option logasap
  # option tcplog's fields, trimmed, with the accept time to the millisecond.
  log-format "{_LOG_FORMAT}"
  timeout connect 2s
  timeout client 10m
  timeout server 10m
  timeout check {c.timeout_ms}ms
  retries 2
  option redispatch 1

frontend cameras
  bind 127.0.0.1:{self.port}
  default_backend ingestd

backend ingestd
  balance leastconn
  option httpchk
  http-check send meth GET uri /readyz
  http-check expect status 200
  default-server inter {c.inter_ms} fall {c.fall} rise {c.rise}
{servers}
"""

    def start(self, timeout_s=10):
        with open(self.config_path, "w") as f:
            f.write(self._config())
        subprocess.run([self.binary, "-c", "-q", "-f", self.config_path], check=True)
        log = open(self.log_path, "w")
        # -db: foreground, so `log stdout` reaches the file and the pid is ours.
        self.process = subprocess.Popen([self.binary, "-db", "-f", self.config_path],
                                        stdout=log, stderr=subprocess.STDOUT)
        log.close()
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"haproxy exited: {open(self.log_path).read()}")
            try:
                self._poll_status()
                break
            except OSError:
                time.sleep(0.05)
        else:
            raise RuntimeError("haproxy stats socket did not come up")
        self._monitor = threading.Thread(target=self._watch, daemon=True)
        self._monitor.start()

    def _stats_command(self, command):
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(2)
            s.connect(self.socket_path)
            s.sendall(command.encode() + b"\n")
            chunks = []
            while chunk := s.recv(65536):
                chunks.append(chunk)
        return b"".join(chunks).decode()

    def _poll_status(self):
        lines = self._stats_command("show stat").splitlines()
        header = lines[0].lstrip("# ").split(",")
        names = {b.name for b in self.backends}
        now = time.time()
        for line in lines[1:]:
            row = dict(zip(header, line.split(",")))
            if row.get("pxname") != "ingestd" or row.get("svname") not in names:
                continue
            # "UP", "DOWN", "UP 1/2" (going down), "DOWN 1/2" (coming up), "MAINT", ...
            status = row["status"].split(" ")[0]
            if self._status.get(row["svname"]) != status:
                self._status[row["svname"]] = status
                self.transitions.append((now, row["svname"], status))

    def _watch(self):
        while not self._stop_monitor.wait(0.05):
            try:
                self._poll_status()
            except OSError:
                if self.process.poll() is not None:
                    return

    def status(self, server):
        return self._status.get(server)

    def wait_status(self, server, status, timeout_s):
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self._status.get(server) == status:
                return True
            time.sleep(0.05)
        return False

    def disable(self, server):
        """Takes `server` out of the rotation (MAINT), as deregistering a
        target does: no new connections, open ones stay."""
        answer = self._stats_command(f"disable server ingestd/{server}").strip()
        if answer:
            raise RuntimeError(f"haproxy: disable server ingestd/{server}: {answer}")

    def stop(self):
        self._stop_monitor.set()
        if self._monitor:
            self._monitor.join(timeout=5)
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)

    def connections(self):
        result = []
        with open(self.log_path, errors="replace") as f:
            for line in f:
                parts = line.split()
                if len(parts) < 6 or parts[0] != "conn":
                    continue
                retries = parts[3]
                result.append(Connection(
                    accepted=float(parts[1]), server=parts[2].split("/", 1)[1],
                    retries=int(retries.lstrip("+")) + (1 if retries.startswith("+") else 0),
                    state=parts[5]))
        return result

    def first_transition(self, server, status, after):
        """Time of the first transition of `server` to `status` after `after`."""
        for when, name, state in self.transitions:
            if name == server and state == status and when >= after:
                return when
        return None
