#!/usr/bin/env python3
"""AfterInstall validates the release as it will run, before it installs
anything. Runs deploy/appspec.yml's BeforeInstall, Install (the files: copy)
and AfterInstall on host folders, as the CodeDeploy agent would, and checks:

  - a good bundle on a fresh host: every hook exits 0 and the binary,
    configuration and certificates are installed;
  - a bundle whose server key does not match its certificate, on a host
    running an earlier good release: AfterInstall fails naming tls.key_file
    and tls.cert_file, and nothing installed on the host changed;
  - a bundle shipping its zone map, on a fresh host: passes (the check reads
    the bundle's copy of a file the configuration names under /etc/ingestd,
    which the host does not have yet);
  - a bundle without its private key and ticket keys: AfterInstall fetches
    them from Parameter Store (tests/deploy/fake_aws.py, through the AWS
    CLI) into the staged configuration, the check opens them, and they are
    installed with mode 0640; a wrong key in Parameter Store is refused like
    a wrong shipped one. Skipped without the AWS CLI.

    tests/deploy/after_install_check_test.py --ingestd build/server/ingestd --ingestctl build/server/ingestctl
"""

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import codedeploy_runner  # noqa: E402
import fake_aws  # noqa: E402

SOURCE_DIR = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "../.."))
UP_TO_AFTER_INSTALL = ("BeforeInstall", "Install", "AfterInstall")
AWS_CLI = "/usr/bin/aws"
SECRETS_PATH = "/ingestd/zone-a"
# The private files: shipped by the bundle unless the test says otherwise.
SECRET_FILES = ("server.key", "ticket.keys")

ZONE_MAP = """[map]
default = "hash"

[[zone]]
id = "zone-a"
subnets = ["127.0.0.0/8"]
endpoint = "127.0.0.1:7443"
capacity_per_server = 1000
[zone.store]
bucket = "recordings"
region = "eu-west-1"
"""


def make_host(work, name, **extra_settings):
    root = os.path.join(work, "hosts", name)
    host = codedeploy_runner.Host(name, root, settings={
        "INGESTD_SUPERVISOR": "pidfile",
        "INGESTD_PREFIX": os.path.join(root, "opt/ingestd"),
        "INGESTD_CONFIG": os.path.join(root, "etc/ingestd/ingestd.toml"),
        "INGESTD_STATE_DIR": os.path.join(root, "var/lib/ingestd"),
        "INGESTD_STAGING_DIR": os.path.join(root, "opt/ingestd/staging"),
        **extra_settings,
    })
    host.write_env_file()
    return host


def config_toml(host, log_level, zone_map):
    """A configuration naming its files where the host will have them."""
    def q(text):
        return json.dumps(text)  # a TOML basic string is a JSON string here

    etc = host.path("/etc/ingestd")
    return f"""[server]
zone = "zone-a"
state_dir = {q(host.settings["INGESTD_STATE_DIR"])}
zone_map = {q(os.path.join(etc, "zones.toml") if zone_map else "")}

[tls]
cert_file = {q(os.path.join(etc, "tls/server.crt"))}
key_file = {q(os.path.join(etc, "tls/server.key"))}
camera_ca_file = {q(os.path.join(etc, "tls/camera-ca.crt"))}
ticket_keys_file = {q(os.path.join(etc, "tls/ticket.keys"))}

[store]
url = {q("dir:" + os.path.join(host.settings["INGESTD_STATE_DIR"], "store"))}

[log]
level = {q(log_level)}
"""


def make_bundle(args, work, host, name, pki, server_key="server.key", log_level="info", zone_map=False,
                secrets=True):
    """A revision bundle: appspec.yml, hooks, ingestd, its configuration and
    certificates (server_key: which of the pki files ships as the key;
    secrets=False: the key and ticket keys do not ship)."""
    bundle = codedeploy_runner.new_bundle(os.path.join(work, "bundles", name), SOURCE_DIR, args.ingestd,
                                          args.ingestctl)
    os.makedirs(os.path.join(bundle, "config/tls"))
    for source, dest in (("server.crt", "server.crt"), (server_key, "server.key"),
                         ("camera-ca.crt", "camera-ca.crt"), ("ticket.keys", "ticket.keys")):
        if secrets or dest not in SECRET_FILES:
            shutil.copy2(os.path.join(pki, source), os.path.join(bundle, "config/tls", dest))
    if zone_map:
        with open(os.path.join(bundle, "config/zones.toml"), "w") as f:
            f.write(ZONE_MAP)
    with open(os.path.join(bundle, "config/ingestd.toml"), "w") as f:
        f.write(config_toml(host, log_level, zone_map))
    return bundle


def installed_files(host):
    """What is installed on the host: {path: sha256} under the prefix's bin/
    and the configuration folder (the staging folder is the agent's)."""
    files = {}
    for folder in (os.path.join(host.settings["INGESTD_PREFIX"], "bin"), host.path("/etc/ingestd")):
        for dirpath, _, names in os.walk(folder):
            for name in names:
                path = os.path.join(dirpath, name)
                with open(path, "rb") as f:
                    files[os.path.relpath(path, host.root)] = hashlib.sha256(f.read()).hexdigest()
    return files


def run_up_to_after_install(host, bundle):
    runs = codedeploy_runner.deploy(host, bundle, events=UP_TO_AFTER_INSTALL)
    for run in runs:
        print(run.summary(), file=sys.stderr)
    return runs


def expect(condition, message, runs=()):
    if not condition:
        output = "\n".join(f"--- {r.event} ---\n{r.output}" for r in runs)
        raise AssertionError(f"{message}\n{output}")


def all_passed(runs):
    return [r.event for r in runs] == list(UP_TO_AFTER_INSTALL) and all(r.ok for r in runs)


def good_bundle_on_fresh_host(args, work, pki):
    host = make_host(work, "fresh")
    runs = run_up_to_after_install(host, make_bundle(args, work, host, "fresh-good", pki))
    expect(all_passed(runs), "a good bundle must install on a fresh host", runs)
    for path in ("/opt/ingestd/bin/ingestd", "/etc/ingestd/ingestd.toml", "/etc/ingestd/tls/server.crt",
                 "/etc/ingestd/tls/server.key", "/etc/ingestd/tls/camera-ca.crt", "/etc/ingestd/tls/ticket.keys"):
        expect(os.path.isfile(host.path(path)), f"{path} not installed", runs)
    after = runs[-1].output
    expect("staged copy" in after and "ingestd check: 4 files checked, no problems" in after,
           "AfterInstall must log the files the check read from the bundle", runs)


def mismatched_key_leaves_host_alone(args, work, pki):
    host = make_host(work, "running")
    runs = run_up_to_after_install(host, make_bundle(args, work, host, "running-v1", pki))
    expect(all_passed(runs), "the first, good release must install", runs)
    before = installed_files(host)

    # The camera CA's key is a valid key, just not the server certificate's.
    bad = make_bundle(args, work, host, "running-v2", pki, server_key="camera-ca.key", log_level="debug")
    runs = run_up_to_after_install(host, bad)
    expect(runs[-1].event == "AfterInstall" and not runs[-1].ok, "AfterInstall must refuse the bundle", runs)
    output = runs[-1].output
    expect("tls.key_file" in output and "does not match the certificate in tls.cert_file" in output,
           "AfterInstall must name the key and the certificate", runs)
    expect(installed_files(host) == before, "the host's installed files changed", runs)


def shipped_zone_map_on_fresh_host(args, work, pki):
    host = make_host(work, "zoned")
    runs = run_up_to_after_install(host, make_bundle(args, work, host, "zoned", pki, zone_map=True))
    expect(all_passed(runs), "a bundle shipping its zone map must install on a fresh host", runs)
    expect(os.path.isfile(host.path("/etc/ingestd/zones.toml")), "zones.toml not installed", runs)
    expect("server.zone_map" in runs[-1].output, "the check must list the zone map", runs)


def read(path):
    with open(path) as f:
        return f.read()


def secrets_from_parameter_store(args, work, pki):
    if not os.access(AWS_CLI, os.X_OK):
        print(f"skipped secrets_from_parameter_store: no AWS CLI at {AWS_CLI}", file=sys.stderr)
        return
    aws_env = {"AWS_ACCESS_KEY_ID": "AKIDFAKE", "AWS_SECRET_ACCESS_KEY": "fake", "AWS_DEFAULT_REGION": "eu-west-1",
               "AWS_EC2_METADATA_DISABLED": "true", "AWS_MAX_ATTEMPTS": "1", "AWS_CONFIG_FILE": os.devnull,
               "AWS_SHARED_CREDENTIALS_FILE": os.devnull}
    saved = {key: os.environ.get(key) for key in aws_env}
    os.environ.update(aws_env)  # the hooks inherit it, as from the instance role
    fake = fake_aws.FakeAws()
    fake.start()
    try:
        for name in SECRET_FILES:
            fake.put_parameter(f"{SECRETS_PATH}/tls/{name}", read(os.path.join(pki, name)))
        host = make_host(work, "secrets", INGESTD_SECRETS_PATH=SECRETS_PATH, INGESTD_AWS_CLI=AWS_CLI,
                         INGESTD_AWS_ENDPOINT_URL=fake.endpoint, INGESTD_AWS_REGION="eu-west-1")
        runs = run_up_to_after_install(host, make_bundle(args, work, host, "secrets-v1", pki, secrets=False))
        expect(all_passed(runs), "a bundle whose secrets come from Parameter Store must install", runs)
        for name in SECRET_FILES:
            installed = host.path(f"/etc/ingestd/tls/{name}")
            expect(read(installed) == read(os.path.join(pki, name)), f"{name} not installed from Parameter Store",
                   runs)
            expect(os.stat(installed).st_mode & 0o777 == 0o640, f"{name} must be installed with mode 0640", runs)
        expect(fake.calls("GetParametersByPath"), "AfterInstall did not ask Parameter Store", runs)
        before = installed_files(host)

        # A key in Parameter Store that does not belong to the certificate.
        fake.put_parameter(f"{SECRETS_PATH}/tls/server.key", read(os.path.join(pki, "camera-ca.key")))
        runs = run_up_to_after_install(host, make_bundle(args, work, host, "secrets-v2", pki, secrets=False))
        expect(runs[-1].event == "AfterInstall" and not runs[-1].ok, "a wrong fetched key must be refused", runs)
        expect("does not match the certificate in tls.cert_file" in runs[-1].output,
               "AfterInstall must name the mismatch", runs)
        expect(installed_files(host) == before, "the host's installed files changed", runs)
    finally:
        fake.stop()
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--ingestd", required=True)
    p.add_argument("--ingestctl", required=True, help="shipped in the bundle (appspec.yml lists it)")
    p.add_argument("--keep", action="store_true", help="keep the work folder")
    args = p.parse_args()
    work = tempfile.mkdtemp(prefix="after-install-check-")
    try:
        pki = os.path.join(work, "pki")
        subprocess.run([args.ingestd, "certs", "--out", pki, "--cameras", "0"], check=True,
                       stdout=subprocess.DEVNULL, timeout=30)
        for case in (good_bundle_on_fresh_host, mismatched_key_leaves_host_alone, shipped_zone_map_on_fresh_host,
                     secrets_from_parameter_store):
            case(args, work, pki)
            print(f"ok {case.__name__}", file=sys.stderr)
    finally:
        if args.keep:
            print(f"work folder: {work}", file=sys.stderr)
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
