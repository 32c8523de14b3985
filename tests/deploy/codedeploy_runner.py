"""Runs a revision bundle's appspec.yml on one host the way the CodeDeploy
agent does (EC2/on-premises, in-place): the lifecycle events in the agent's
order, the `files:` copy as the Install event, every hook with its appspec
timeout (the hook's process group is killed when it runs over), stopping at
the first failure. ApplicationStop runs the hooks of the revision being
replaced, as the agent does; a first deployment has none.

A test host is a folder standing in for `/`: the appspec's absolute
destinations are placed under it, and the hooks get settings pointing there.

    host = Host("a", "/tmp/x/a", settings={"INGESTD_SUPERVISOR": "pidfile", ...})
    runs = deploy(host, "/tmp/x/bundles/a-2", previous_bundle="/tmp/x/bundles/a-1")
    assert all(run.ok for run in runs)
"""

import dataclasses
import os
import shutil
import signal
import subprocess
import time

import yaml

# The order the agent runs an in-place deployment in; Install is the files: copy.
LIFECYCLE = ("ApplicationStop", "BeforeInstall", "Install", "AfterInstall",
             "ApplicationStart", "ValidateService")
# What the agent allows a hook that names no timeout.
DEFAULT_TIMEOUT_S = 3600


@dataclasses.dataclass
class Host:
    name: str
    root: str  # stands in for "/"
    settings: dict  # INGESTD_* for the hooks, written to the host's deploy env file

    @property
    def env_file(self):
        return os.path.join(self.root, "etc/default/ingestd-deploy")

    def path(self, absolute):
        return os.path.join(self.root, absolute.lstrip("/"))

    def write_env_file(self):
        os.makedirs(os.path.dirname(self.env_file), exist_ok=True)
        with open(self.env_file, "w") as f:
            f.write("# settings for the ingestd deploy hooks on this host\n")
            for key, value in sorted(self.settings.items()):
                f.write(f'{key}="{value}"\n')


@dataclasses.dataclass
class HookRun:
    host: str
    event: str
    script: str
    timeout_s: float
    started: float  # unix seconds
    seconds: float
    exit_code: int | None  # None: killed at the timeout
    output: str

    @property
    def ok(self):
        return self.exit_code == 0

    def summary(self):
        code = "timed out" if self.exit_code is None else f"exit {self.exit_code}"
        return f"{self.host} {self.event} {self.script}: {code} after {self.seconds:.1f} s"


def new_bundle(bundle, source_dir, ingestd, ingestctl):
    """Makes a revision bundle folder with what every bundle holds besides
    its configuration: appspec.yml and the hooks from the source tree's
    deploy/, the two binaries, the systemd unit. The caller fills config/."""
    deploy_dir = os.path.join(source_dir, "deploy")
    for folder in ("bin", "config", "systemd"):
        os.makedirs(os.path.join(bundle, folder))
    shutil.copy2(os.path.join(deploy_dir, "appspec.yml"), bundle)
    shutil.copytree(os.path.join(deploy_dir, "hooks"), os.path.join(bundle, "hooks"))
    shutil.copy2(ingestd, os.path.join(bundle, "bin/ingestd"))
    shutil.copy2(ingestctl, os.path.join(bundle, "bin/ingestctl"))
    for unit_file in ("ingestd.service", "ingestd-lifecycle-watch.sh"):
        shutil.copy2(os.path.join(deploy_dir, "systemd", unit_file), os.path.join(bundle, "systemd"))
    return bundle


def load_appspec(bundle):
    with open(os.path.join(bundle, "appspec.yml")) as f:
        spec = yaml.safe_load(f)
    if spec.get("os") != "linux" or "hooks" not in spec:
        raise ValueError(f"{bundle}/appspec.yml: not a linux appspec with hooks")
    return spec


def _hook_environment(host, event, deployment_id):
    env = {k: v for k, v in os.environ.items() if not k.startswith("INGESTD_")}
    env.update({
        # The agent's own variables, which hooks may read.
        "LIFECYCLE_EVENT": event,
        "DEPLOYMENT_ID": deployment_id,
        "APPLICATION_NAME": "ingestd",
        "DEPLOYMENT_GROUP_NAME": "ingestd-test",
        # Everything else comes from the host's env file, as in production.
        "INGESTD_DEPLOY_ENV": host.env_file,
    })
    return env


def _run_hook(host, bundle, event, hook, deployment_id):
    script = hook["location"]
    timeout_s = float(hook.get("timeout", DEFAULT_TIMEOUT_S))
    started = time.time()
    process = subprocess.Popen(
        ["bash", os.path.join(bundle, script)], cwd=bundle,
        env=_hook_environment(host, event, deployment_id),
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        start_new_session=True)
    try:
        output, _ = process.communicate(timeout=timeout_s)
        exit_code = process.returncode
    except subprocess.TimeoutExpired:
        # The agent kills what is left of a hook that ran over.
        os.killpg(process.pid, signal.SIGKILL)
        output, _ = process.communicate()
        exit_code = None
    return HookRun(host.name, event, script, timeout_s, started, time.time() - started,
                   exit_code, output)


def _install_files(host, bundle, spec):
    """The Install event: each files: source (file or folder) copied under
    its destination folder, over what is there (file_exists_behavior)."""
    started = time.time()
    for entry in spec.get("files", []):
        source = os.path.join(bundle, entry["source"])
        destination = host.path(entry["destination"])
        os.makedirs(destination, exist_ok=True)
        if os.path.isdir(source):
            shutil.copytree(source, destination, dirs_exist_ok=True)
        else:
            shutil.copy2(source, os.path.join(destination, os.path.basename(source)))
    return HookRun(host.name, "Install", "files:", 0, started, time.time() - started, 0, "")


def deploy(host, bundle, previous_bundle=None, on_hook=None, events=LIFECYCLE):
    """Runs the lifecycle; returns the HookRuns, the last one failed if any did.
    on_hook(run) is called after each event (for progress and timestamps).
    `events` picks some of LIFECYCLE (still run in the agent's order), e.g.
    up to AfterInstall to look at a host before anything is started."""
    spec = load_appspec(bundle)
    previous_spec = load_appspec(previous_bundle) if previous_bundle else None
    deployment_id = f"d-{host.name}-{int(time.time() * 1000)}"
    runs = []
    for event in (e for e in LIFECYCLE if e in events):
        if event == "Install":
            steps = [("files", None)]
        elif event == "ApplicationStop":
            if previous_spec is None:
                continue  # nothing installed yet, no hooks to run
            steps = [(previous_bundle, h) for h in previous_spec["hooks"].get(event, [])]
        else:
            steps = [(bundle, h) for h in spec["hooks"].get(event, [])]
        for hook_bundle, hook in steps:
            if hook is None:
                run = _install_files(host, bundle, spec)
            else:
                run = _run_hook(host, hook_bundle, event, hook, deployment_id)
            runs.append(run)
            if on_hook:
                on_hook(run)
            if not run.ok:
                return runs
    return runs


def run_event(host, bundle, event, on_hook=None):
    """Runs one event's hooks from `bundle` (e.g. the final ApplicationStop)."""
    spec = load_appspec(bundle)
    runs = []
    for hook in spec["hooks"].get(event, []):
        run = _run_hook(host, bundle, event, hook, f"d-{host.name}-{int(time.time() * 1000)}")
        runs.append(run)
        if on_hook:
            on_hook(run)
        if not run.ok:
            break
    return runs
