#!/usr/bin/env python3
"""deploy/hooks/fetch_secrets.sh against SSM Parameter Store in
tests/deploy/fake_aws.py, through the real AWS CLI:

  writes      every SecureString under the path becomes a file named by its
              name relative to the path (nested folders too), byte-exact
              (multi-line PEM with its final newline), mode 0640; Strings and
              parameters outside the path are left out; more parameters than
              one page hold (the CLI follows NextToken)
  replaces    a second fetch replaces a changed secret in place
  hostile     a name with a ".." component fails the fetch, and nothing is written
  unset       INGESTD_SECRETS_PATH unset: nothing fetched, no AWS call, exit 0
  failure     the SSM call failing fails the hook with the CLI's message

    tests/deploy/fetch_secrets_test.py [--aws /usr/bin/aws]
"""

import argparse
import os
import shutil
import stat
import subprocess
import sys
import tempfile

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fake_aws  # noqa: E402

SOURCE_DIR = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "../.."))
FETCH = os.path.join(SOURCE_DIR, "deploy/hooks/fetch_secrets.sh")
PATH = "/ingestd/eu-west-1a/"
PEM = "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIK1z\n-----END PRIVATE KEY-----\n"


def run_fetch(args, fake, dest, secrets_path=PATH):
    env = {**os.environ, "AWS_ACCESS_KEY_ID": "AKIDFAKE", "AWS_SECRET_ACCESS_KEY": "fake",
           "AWS_DEFAULT_REGION": "eu-west-1", "AWS_EC2_METADATA_DISABLED": "true", "AWS_MAX_ATTEMPTS": "1",
           "AWS_CONFIG_FILE": os.devnull, "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
           "INGESTD_DEPLOY_ENV": os.devnull, "INGESTD_SUPERVISOR": "pidfile",
           "INGESTD_AWS_CLI": args.aws, "INGESTD_AWS_ENDPOINT_URL": fake.endpoint,
           "INGESTD_USER": "no-such-group-here"}
    env.pop("INGESTD_SECRETS_PATH", None)
    if secrets_path is not None:
        env["INGESTD_SECRETS_PATH"] = secrets_path
    return subprocess.run(["bash", FETCH, dest], env=env, capture_output=True, text=True, timeout=60)


def files_under(folder):
    found = {}
    for root, dirs, files in os.walk(folder):
        for name in files:
            path = os.path.join(root, name)
            with open(path) as f:
                found[os.path.relpath(path, folder)] = (f.read(), stat.S_IMODE(os.stat(path).st_mode))
    return found


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--aws", default=shutil.which("aws") or "/usr/bin/aws")
    args = p.parse_args()
    if not os.access(args.aws, os.X_OK):
        print(f"skipped: no AWS CLI at {args.aws}", file=sys.stderr)
        return 77
    work = tempfile.mkdtemp(prefix="fetch_secrets_test.")
    fake = fake_aws.FakeAws().start()
    try:
        # writes: 12 secrets and a page size of 5: three pages.
        fake.page_size = 5
        expected = {}
        for i in range(10):
            fake.put_parameter(f"{PATH}camera-{i:02d}.token", f"token {i}")
            expected[f"camera-{i:02d}.token"] = f"token {i}"
        fake.put_parameter(f"{PATH}tls/server.key", PEM)
        expected["tls/server.key"] = PEM
        fake.put_parameter(f"{PATH}tls/ticket/keys.bin", "tk")
        expected["tls/ticket/keys.bin"] = "tk"
        fake.put_parameter(f"{PATH}zone-name", "eu-west-1a", secure=False)  # a String: not a secret
        fake.put_parameter("/ingestd/eu-west-1b/tls/server.key", "other zone")
        dest = os.path.join(work, "etc/ingestd")
        run = run_fetch(args, fake, dest)
        assert run.returncode == 0, run.stdout + run.stderr
        got = files_under(dest)
        assert {k: v[0] for k, v in got.items()} == expected, sorted(got)
        assert f"skipping {PATH}zone-name: not a SecureString" in run.stdout, run.stdout
        assert all(mode == 0o640 for _, mode in got.values()), {k: oct(m) for k, (_, m) in got.items()}
        for folder in ("tls", "tls/ticket"):
            assert stat.S_IMODE(os.stat(os.path.join(dest, folder)).st_mode) == 0o750, folder
        pages = fake.calls("GetParametersByPath")
        assert len(pages) == 3, pages
        assert all(c["params"]["WithDecryption"] and c["params"]["Recursive"] for c in pages), pages
        assert sorted(os.listdir(dest)) == sorted(["tls"] + [f"camera-{i:02d}.token" for i in range(10)]), \
            os.listdir(dest)  # no temporary files left
        print("writes ok", file=sys.stderr)

        # replaces
        fake.put_parameter(f"{PATH}tls/server.key", "rotated")
        run = run_fetch(args, fake, dest)
        assert run.returncode == 0, run.stdout + run.stderr
        assert files_under(dest)["tls/server.key"] == ("rotated", 0o640)
        print("replaces ok", file=sys.stderr)

        # hostile: nothing written, not even the good ones.
        fake.put_parameter(f"{PATH}tls/../../../../escape", "x")
        hostile_dest = os.path.join(work, "hostile/etc/ingestd")
        run = run_fetch(args, fake, hostile_dest)
        assert run.returncode != 0, run.stdout + run.stderr
        assert "refusing" in run.stderr, run.stderr
        assert files_under(os.path.join(work, "hostile")) == {}, files_under(os.path.join(work, "hostile"))
        assert not os.path.exists(os.path.join(work, "escape"))
        print("hostile ok", file=sys.stderr)

        # unset
        before = len(fake.calls())
        run = run_fetch(args, fake, os.path.join(work, "unset"), secrets_path=None)
        assert run.returncode == 0, run.stdout + run.stderr
        assert "INGESTD_SECRETS_PATH is not set" in run.stdout, run.stdout
        assert len(fake.calls()) == before
        print("unset ok", file=sys.stderr)

        # failure
        fake.fail_next("GetParametersByPath", status=400)
        run = run_fetch(args, fake, os.path.join(work, "failure"), secrets_path="/ingestd/eu-west-1b/")
        assert run.returncode != 0 and "ThrottlingException" in run.stderr, run.stdout + run.stderr
        print("failure ok", file=sys.stderr)
    finally:
        fake.stop()
    shutil.rmtree(work, ignore_errors=True)
    print("all cases passed", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
