"""The real S3 test server for the deploy tests: Ceph's RADOS Gateway on a
throw-away single-node cluster, driven by scripts/s3_test_server.sh (start,
stop-gateway, start-gateway, stop), like tests/support/s3_test_server.h. It
verifies SigV4 signatures. The AWS CLI from Debian (/usr/bin/aws) is the
independent reader: it signs and parses with its own code, not ours.

    s3 = RadosGateway(source_dir, "/tmp/x/s3")
    s3.start(); s3.create_bucket("recordings")
    s3.stop_gateway()    # an outage: connections refused, the OSD keeps the objects
    s3.start_gateway()   # back on the same endpoint
    s3.mirror("recordings", "zone-a", "/tmp/x/mirror")   # every object under the prefix, as files
    s3.stop()
"""

import os
import subprocess
import tempfile

AWS_CLI = "/usr/bin/aws"  # the Debian CLI v2; an older v1 may come first on PATH
# The script's own start deadline is 60 s, and stopping waits up to 15 s per daemon.
SCRIPT_TIMEOUT_S = 240
# The script refuses longer folders: admin socket paths must fit a Unix socket's 107 bytes.
MAX_FOLDER_LENGTH = 60


def folder_in(work, extra_folders):
    """The gateway's folder: <work>/s3, or a new short one under /tmp (added
    to extra_folders, for the caller to remove) when that path is too long
    for the script (a long TMPDIR)."""
    folder = os.path.join(work, "s3")
    if len(folder) > MAX_FOLDER_LENGTH:
        folder = tempfile.mkdtemp(prefix="s3-", dir="/tmp")
        extra_folders.append(folder)
    return folder


class RadosGateway:
    def __init__(self, source_dir, folder):
        self.script = os.path.join(source_dir, "scripts/s3_test_server.sh")
        self.folder = folder  # at most MAX_FOLDER_LENGTH characters
        self.endpoint = self.access_key = self.secret_key = self.region = None
        self.started = False

    @staticmethod
    def available():
        return all(os.access(tool, os.X_OK) for tool in (
            "/usr/bin/radosgw", "/usr/bin/radosgw-admin", "/usr/bin/ceph-mon", "/usr/bin/ceph-osd",
            "/usr/bin/ceph", AWS_CLI))

    def _script(self, command):
        env = dict(os.environ, NO_PROXY="127.0.0.1,localhost", no_proxy="127.0.0.1,localhost")
        out = subprocess.run(["bash", self.script, command, self.folder], env=env, capture_output=True,
                             text=True, timeout=SCRIPT_TIMEOUT_S)
        if out.returncode != 0:
            raise RuntimeError(f"s3_test_server.sh {command} failed (exit {out.returncode}): {out.stderr.strip()}")

    def start(self):
        os.makedirs(self.folder, exist_ok=True)
        self.started = True  # from here stop() cleans up whatever the script left
        self._script("start")
        settings = {}
        with open(os.path.join(self.folder, "s3.env")) as f:
            for line in f:
                key, _, value = line.strip().partition("=")
                settings[key] = value
        self.endpoint = settings["S3_ENDPOINT"]
        self.access_key = settings["S3_ACCESS_KEY"]
        self.secret_key = settings["S3_SECRET_KEY"]
        self.region = settings["S3_REGION"]

    def stop_gateway(self):
        self._script("stop-gateway")

    def start_gateway(self):
        self._script("start-gateway")

    def stop(self):
        if self.started:
            self.started = False
            self._script("stop")

    def aws(self, args, timeout_s=120):
        """Runs the AWS CLI against the gateway with its keys and nothing
        else from outside (no shared files, no instance metadata, one attempt
        per request). Raises with the CLI's stderr on failure."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        env.update({
            "AWS_ACCESS_KEY_ID": self.access_key, "AWS_SECRET_ACCESS_KEY": self.secret_key,
            "AWS_DEFAULT_REGION": self.region, "AWS_CONFIG_FILE": "/dev/null",
            "AWS_SHARED_CREDENTIALS_FILE": "/dev/null", "AWS_EC2_METADATA_DISABLED": "true",
            "AWS_MAX_ATTEMPTS": "1", "AWS_PAGER": "", "NO_PROXY": "127.0.0.1,localhost",
            "no_proxy": "127.0.0.1,localhost",
        })
        out = subprocess.run([AWS_CLI, "--endpoint-url", self.endpoint, *args], env=env,
                             capture_output=True, text=True, timeout=timeout_s)
        if out.returncode != 0:
            raise RuntimeError(f"aws {' '.join(args[:3])} failed (exit {out.returncode}): {out.stderr.strip()}")
        return out.stdout

    def create_bucket(self, bucket):
        self.aws(["s3api", "create-bucket", "--bucket", bucket])

    def mirror(self, bucket, prefix, folder):
        """Copies every object under s3://bucket/prefix/ into folder, at the
        path its key (less the prefix) names: the layout of a dir: store."""
        self.aws(["s3", "sync", "--only-show-errors", f"s3://{bucket}/{prefix}/", folder], timeout_s=300)

    def credentials_file(self, path, profile):
        """Writes a shared credentials file with this gateway's keys as
        `profile`, for a server configured with store.profile."""
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            f.write(f"[{profile}]\naws_access_key_id = {self.access_key}\n"
                    f"aws_secret_access_key = {self.secret_key}\n")
        os.chmod(path, 0o600)
