#!/usr/bin/env python3
"""Holds N idle mutual-TLS connections open to a server, for memory benchmarks.

Connects COUNT connections with at most CONCURRENCY handshakes in flight,
presenting a client certificate, then sends nothing. Once every attempt has
finished it prints one flushed line, so a driving script can poll for it:

    connected=998 failed=2 connect_s=3.41

then holds the connections for HOLD_S seconds and prints how many were still
open (not closed or rejected by the server) at the end:

    still_open=998

In TLS 1.3 the server checks the client certificate after the client's side
of the handshake has finished, so a rejected connection looks connected at
first; the final still_open count is the one to trust.

    hold_tls_connections.py --port 8443 --count 1000 --ca certs/server-ca.crt \
        --cert certs/cameras/cam-000001.pem --hold-s 30
"""

import argparse
import asyncio
import ssl
import sys
import time


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--count", type=int, required=True, help="connections to hold")
    parser.add_argument("--concurrency", type=int, default=64, help="handshakes in flight")
    parser.add_argument("--hold-s", type=float, default=30, help="seconds to hold them")
    parser.add_argument("--ca", required=True, help="CA that signed the server certificate")
    parser.add_argument("--cert", required=True, help="client certificate PEM")
    parser.add_argument("--key", help="client key PEM (default: in --cert)")
    parser.add_argument("--server-name", default="localhost")
    parser.add_argument("--connect-timeout-s", type=float, default=10)
    return parser.parse_args()


def client_context(args):
    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=args.ca)
    context.minimum_version = ssl.TLSVersion.TLSv1_3
    context.load_cert_chain(args.cert, args.key)
    return context


async def connect_one(args, context, gate):
    async with gate:
        try:
            return await asyncio.wait_for(
                asyncio.open_connection(args.host, args.port, ssl=context,
                                        server_hostname=args.server_name),
                timeout=args.connect_timeout_s)
        except (OSError, ssl.SSLError, asyncio.TimeoutError) as error:
            return error


def still_open(reader):
    # A server that rejects the certificate (or closes an idle connection)
    # shows up as EOF or an exception set on the reader.
    return not reader.at_eof() and reader.exception() is None


async def main():
    args = parse_args()
    context = client_context(args)
    gate = asyncio.Semaphore(args.concurrency)
    start = time.monotonic()
    results = await asyncio.gather(
        *(connect_one(args, context, gate) for _ in range(args.count)))
    streams = [r for r in results if isinstance(r, tuple)]
    errors = [r for r in results if not isinstance(r, tuple)]
    print(f"connected={len(streams)} failed={len(errors)} "
          f"connect_s={time.monotonic() - start:.2f}", flush=True)
    if errors:
        print(f"first error: {errors[0]!r}", file=sys.stderr, flush=True)

    await asyncio.sleep(args.hold_s)
    print(f"still_open={sum(still_open(reader) for reader, _ in streams)}", flush=True)
    for _, writer in streams:
        writer.close()


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        sys.exit(130)
