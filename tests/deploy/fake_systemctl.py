#!/usr/bin/env python3
"""A stand-in for `systemctl` in deploy tests: one unit, backed by a real
process, with the parts of systemd's behaviour the deploy scripts rely on.

Tests put a `systemctl` that runs this file first on PATH (Unit.env() does)
and describe the unit once (Unit.install()). State lives in files under
$FAKE_SYSTEMCTL_DIR, so separate invocations agree:

    unit = Unit(folder, "ingestd.service", [ingestd, "--config", toml], log_file)
    unit.install()
    env = {**os.environ, **unit.env()}    # PATH and FAKE_SYSTEMCTL_DIR
    subprocess.run(["systemctl", "start", "ingestd.service"], env=env, check=True)
    ...
    unit.kill()                           # in `finally`: SIGKILL what is left

Commands (for the one unit; other unit names are "not found"):
  start            Type=simple: returns once the process runs. A start while
                   the unit is deactivating waits for the stop job first, as
                   systemd queues the start job behind it.
  stop [--no-block]  the unit's ExecStop= of ingestd.service: one SIGTERM (a
                   drain), then wait for the exit. ActiveState is
                   `deactivating` meanwhile; afterwards `inactive` (exit 0)
                   or `failed` (any other exit). After timeout_stop_s a
                   second SIGTERM (systemd's KillSignal=), after another
                   timeout_stop_s SIGKILL. Returns 0 once the stop job is
                   done whatever the exit status (like systemd); --no-block
                   returns at once. A stop of a stopping unit joins its job.
  restart          stop, then start.
  is-active [--quiet]  prints ActiveState; exit 0 only for `active`.
  show [-p NAME]... [--property=NAME] [--value]  ActiveState, SubState,
                   MainPID, ExecMainStatus, ExecMainPID, ActiveEnterTimestampMonotonic.
  reset-failed     failed -> inactive.
  daemon-reload, enable, disable: accepted, no effect.

Not modelled: Restart= (a process that exits on its own stays inactive or
failed), start limits, other units, dependencies.

A detached manager process (this file with the hidden `__manage` command)
owns the unit's process, as PID 1 would: it is the one that can wait for the
exit status, and it runs stop jobs so that `stop --no-block` returns at once.
"""

import fcntl
import json
import os
import signal
import subprocess
import sys
import time

ENV_DIR = "FAKE_SYSTEMCTL_DIR"
POLL_S = 0.05


class Unit:
    """Test-side helper: describes the unit and cleans up after it."""

    def __init__(self, folder, name, argv, log_file, timeout_stop_s=150.0):
        self.folder = folder
        self.name = name
        self.argv = list(argv)
        self.log_file = log_file
        self.timeout_stop_s = timeout_stop_s

    def install(self):
        os.makedirs(os.path.join(self.folder, "bin"), exist_ok=True)
        with open(os.path.join(self.folder, "unit.json"), "w") as f:
            json.dump({"name": self.name, "argv": self.argv, "log_file": self.log_file,
                       "timeout_stop_s": self.timeout_stop_s}, f)
        wrapper = os.path.join(self.folder, "bin", "systemctl")
        with open(wrapper, "w") as f:
            f.write(f'#!/bin/sh\nexec "{sys.executable}" "{os.path.abspath(__file__)}" "$@"\n')
        os.chmod(wrapper, 0o755)
        _write(self.folder, "state", "inactive")

    def env(self):
        """PATH with the fake first, and the state folder."""
        return {"PATH": os.path.join(self.folder, "bin") + os.pathsep + os.environ.get("PATH", ""),
                ENV_DIR: self.folder}

    def state(self):
        return _read(self.folder, "state") or "inactive"

    def main_pid(self):
        pid = _read(self.folder, "main_pid")
        return int(pid) if pid and self.state() in ("active", "deactivating") else 0

    def kill(self):
        """SIGKILLs the unit's process and its manager, if they still run."""
        for name in ("main_pid", "manager_pid"):
            pid = _read(self.folder, name)
            if pid:
                try:
                    os.kill(int(pid), signal.SIGKILL)
                except (ProcessLookupError, ValueError):
                    pass


# --- state files ------------------------------------------------------------

def _read(folder, name):
    try:
        with open(os.path.join(folder, name)) as f:
            return f.read().strip()
    except FileNotFoundError:
        return ""


def _write(folder, name, value):
    tmp = os.path.join(folder, f".{name}.{os.getpid()}")
    with open(tmp, "w") as f:
        f.write(f"{value}\n")
    os.replace(tmp, os.path.join(folder, name))


class _Lock:
    """Serialises state transitions between invocations."""

    def __init__(self, folder):
        self.f = open(os.path.join(folder, "lock"), "a")

    def __enter__(self):
        fcntl.flock(self.f, fcntl.LOCK_EX)
        return self

    def __exit__(self, *exc):
        fcntl.flock(self.f, fcntl.LOCK_UN)
        self.f.close()


def _alive(pid):
    try:
        os.kill(pid, 0)
        return True
    except (ProcessLookupError, ValueError):
        return False


# --- the manager: owns one run of the unit's process -------------------------

def _manage(folder):
    with open(os.path.join(folder, "unit.json")) as f:
        unit = json.load(f)
    timeout_stop_s = float(unit["timeout_stop_s"])
    with open(unit["log_file"], "ab") as log:
        proc = subprocess.Popen(unit["argv"], stdin=subprocess.DEVNULL, stdout=log, stderr=log)
    with _Lock(folder):
        _write(folder, "main_pid", proc.pid)
        _write(folder, "exec_main_status", 0)
        _write(folder, "active_enter_monotonic_us", int(time.monotonic() * 1e6))
        _write(folder, "state", "active")
    stop_started = None
    signals_sent = 0
    while proc.poll() is None:
        if stop_started is None and os.path.exists(os.path.join(folder, "stop_requested")):
            stop_started = time.monotonic()
            proc.send_signal(signal.SIGTERM)  # ExecStop=: one SIGTERM, then wait
            signals_sent = 1
        elif stop_started is not None:
            waited = time.monotonic() - stop_started
            if signals_sent == 1 and waited > timeout_stop_s:
                proc.send_signal(signal.SIGTERM)  # ExecStop= timed out: KillSignal=
                signals_sent = 2
            elif signals_sent == 2 and waited > 2 * timeout_stop_s:
                proc.kill()
                signals_sent = 3
        time.sleep(POLL_S)
    rc = proc.returncode
    # systemd reports a death by signal as ExecMainCode=killed with the
    # signal's number in ExecMainStatus.
    status = rc if rc >= 0 else -rc
    with _Lock(folder):
        _write(folder, "exec_main_status", status)
        _write(folder, "state", "inactive" if rc == 0 else "failed")
        for name in ("stop_requested", "manager_pid"):
            try:
                os.unlink(os.path.join(folder, name))
            except FileNotFoundError:
                pass


# --- commands ---------------------------------------------------------------

def _wait_stopped(folder):
    while _read(folder, "state") == "deactivating":
        time.sleep(POLL_S)


def _start(folder):
    _wait_stopped(folder)  # a start job queues behind a running stop job
    with _Lock(folder):
        if _read(folder, "state") in ("active", "activating"):
            return 0
        _write(folder, "state", "activating")
        manager = subprocess.Popen([sys.executable, os.path.abspath(__file__), "__manage"],
                                   env={**os.environ, ENV_DIR: folder}, start_new_session=True,
                                   stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                   stderr=subprocess.DEVNULL)
        _write(folder, "manager_pid", manager.pid)
    while _read(folder, "state") == "activating":
        if manager.poll() is not None:
            print("Job for unit failed: the process could not be started", file=sys.stderr)
            with _Lock(folder):
                _write(folder, "state", "failed")
            return 1
        time.sleep(POLL_S)
    return 0


def _stop(folder, block):
    with _Lock(folder):
        state = _read(folder, "state")
        if state in ("active", "activating"):
            manager = _read(folder, "manager_pid")
            if not manager or not _alive(int(manager)):
                _write(folder, "state", "inactive")
                return 0
            _write(folder, "stop_requested", "1")
            _write(folder, "state", "deactivating")
    if block:
        _wait_stopped(folder)
    return 0


def _show(folder, props, value_only):
    state = _read(folder, "state") or "inactive"
    running = state in ("active", "deactivating")
    main_pid = (_read(folder, "main_pid") or "0") if running else "0"
    values = {
        "ActiveState": state,
        "SubState": {"active": "running", "activating": "start", "deactivating": "stop",
                     "inactive": "dead", "failed": "failed"}.get(state, "dead"),
        "MainPID": main_pid,
        "ExecMainPID": _read(folder, "main_pid") or "0",
        "ExecMainStatus": _read(folder, "exec_main_status") or "0",
        "ActiveEnterTimestampMonotonic": (_read(folder, "active_enter_monotonic_us") or "0") if running else "0",
    }
    for prop in props or list(values):
        value = values.get(prop, "")
        print(value if value_only else f"{prop}={value}")
    return 0


def main(argv):
    folder = os.environ.get(ENV_DIR)
    if not folder:
        print(f"fake systemctl: {ENV_DIR} is not set", file=sys.stderr)
        return 1
    if argv[:1] == ["__manage"]:
        _manage(folder)
        return 0
    with open(os.path.join(folder, "unit.json")) as f:
        unit_name = json.load(f)["name"]
    flags = [a for a in argv if a.startswith("-")]
    words = [a for a in argv if not a.startswith("-")]
    props = []
    i = 0
    while i < len(argv):
        if argv[i] == "-p" and i + 1 < len(argv):
            props.append(argv[i + 1])
            words.remove(argv[i + 1])
            i += 1
        elif argv[i].startswith("--property="):
            props.append(argv[i].split("=", 1)[1])
        i += 1
    props = [p for prop in props for p in prop.split(",")]
    if not words:
        print("fake systemctl: no command", file=sys.stderr)
        return 1
    command, units = words[0], words[1:]
    if command in ("daemon-reload",):
        return 0
    for unit in units:
        if unit not in (unit_name, unit_name.removesuffix(".service")):
            print(f"Unit {unit} not found.", file=sys.stderr)
            return 5 if command != "is-active" else 4
    if command == "start":
        return _start(folder)
    if command == "stop":
        return _stop(folder, block="--no-block" not in flags)
    if command == "restart":
        _stop(folder, block=True)
        return _start(folder)
    if command == "is-active":
        state = _read(folder, "state") or "inactive"
        if "--quiet" not in flags and "-q" not in flags:
            print(state)
        return 0 if state == "active" else 3
    if command == "show":
        return _show(folder, props, "--value" in flags)
    if command == "reset-failed":
        with _Lock(folder):
            if _read(folder, "state") == "failed":
                _write(folder, "state", "inactive")
        return 0
    if command in ("enable", "disable"):
        return 0
    print(f"fake systemctl: unsupported command {command}", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
