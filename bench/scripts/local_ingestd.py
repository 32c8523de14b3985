"""One ingestd for a bench script on this machine: started in its own
process group with its log in the work folder, its admin port read from its
`ingestd_serving` log line, stopped (SIGTERM, then SIGKILL after 60 s) when
the `with` block ends; and an encoder's TLS connection to its HTTPS
listener (the dev certificate is not checked). Used by slow_uploads.py and
live_streams.py.

    with LocalIngestd([ingestd, "--dev-certs", ...], work) as server:
        urllib.request.urlopen(f"http://127.0.0.1:{server.admin_port}/metrics")
"""

import asyncio
import os
import re
import signal
import ssl
import subprocess
import sys
import time


class LocalIngestd:
    def __init__(self, argv, work):
        self.argv = argv
        self.log_path = os.path.join(work, "ingestd.log")
        self.process = None
        self.admin_port = None

    def __enter__(self):
        log = open(self.log_path, "w")
        self.process = subprocess.Popen(self.argv, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        for _ in range(200):
            text = open(self.log_path).read()
            m = re.search(r'"event":"ingestd_serving".*?"admin_port":(\d+)', text)
            if m:
                self.admin_port = int(m.group(1))
                return self
            if self.process.poll() is not None:
                self.stop()
                sys.exit(f"ingestd exited: {text[-2000:]}")
            time.sleep(0.1)
        self.stop()
        sys.exit("ingestd did not start serving within 20 s")

    def __exit__(self, *exc):
        self.stop()

    def stop(self):
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()


async def open_https(port):
    """(reader, writer) of a TLS connection to 127.0.0.1:port."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return await asyncio.open_connection("127.0.0.1", port, ssl=context)
