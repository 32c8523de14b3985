"""A fault-injecting TCP proxy on 127.0.0.1, between cameras and ingestd,
driven by the test in-process. It relays bytes as they come (TLS passes
through untouched) and, on the test's word, injects a network fault:

  pass-through  every byte forwarded at once (the default);
  delay         every chunk held delay_ms before it is forwarded, each way;
  throttle      at most throttle_bps bytes a second per connection, each way;
  stall         the connections open now stop forwarding, both ways, and stay
                open: the camera keeps sending into full buffers, the server
                hears nothing. Bytes the server sends are read and held (so
                its close is seen); once it closes, the camera side is
                closed too. New connections pass;
  half-open     the camera side of every open connection is dropped (RST),
                the server side kept open and silent: never a byte, never a
                FIN. Only the server's own timeout can end it. While any such
                server side is open, new connections are reset at once (the
                camera's network is still down), so the camera reconnects only
                after the server timed the old one out, not earlier (a newer
                connection would supersede it and hide the timeout);
  reset         every open connection closed on both sides with RST
                (SO_LINGER 0).

    proxy = TcpFaultProxy(upstream_port=7443)
    proxy.start()                       # proxy.port: where cameras connect
    proxy.set_faults(delay_ms=150)      # or throttle_bps=16384, or neither
    proxy.stall()                       # proxy.stalled_open(): how many the server has not closed yet
    proxy.half_open()                   # proxy.half_open_open(): the same
    proxy.reset_all()
    proxy.counts()                      # what it did, for the test's figures
    proxy.stop()

One asyncio loop in a thread of its own; the methods above are safe to call
from any other thread. Each direction of a connection is a reader task and a
writer task with a bounded queue between them, so a throttled or delayed
connection pushes back on its sender rather than filling the proxy's memory.
"""

import asyncio
import socket
import struct
import threading
import time

READ_BYTES = 16384
THROTTLED_READ_BYTES = 2048  # smaller chunks when throttled, so the rate is even
# Chunks held per direction between reading and forwarding: at most 128 KiB
# (16 KiB when throttled), so a throttled or stalled connection backs up to
# its sender rather than into the proxy.
QUEUE_CHUNKS = 8
_EOF = object()


def _set_rst_on_close(writer):
    """The next close of this stream sends RST instead of FIN."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        except OSError:
            pass


def _abort_with_rst(writer):
    _set_rst_on_close(writer)
    writer.transport.abort()


class _Connection:
    """A camera connection and its upstream connection to the server."""

    def __init__(self, proxy, number, camera_reader, camera_writer):
        self.proxy = proxy
        self.number = number
        self.camera_reader, self.camera_writer = camera_reader, camera_writer
        self.server_reader = self.server_writer = None
        self.state = "open"  # open, stalled, half_open, closed
        self.faulted_at = None  # when it was stalled or made half-open
        self.tasks = []
        self.server_closed = asyncio.Event()
        # Token bucket per direction: the time the next byte may leave.
        self.next_send = {"up": 0.0, "down": 0.0}

    async def run(self, upstream_port):
        try:
            self.server_reader, self.server_writer = await asyncio.open_connection("127.0.0.1", upstream_port)
        except OSError:
            self.proxy.count("upstream_connect_failures")
            _abort_with_rst(self.camera_writer)
            self.state = "closed"
            return
        up, down = asyncio.Queue(QUEUE_CHUNKS), asyncio.Queue(QUEUE_CHUNKS)
        self.tasks = [asyncio.create_task(self._read(self.camera_reader, up, "up")),
                      asyncio.create_task(self._write(up, self.server_writer, "up")),
                      asyncio.create_task(self._read(self.server_reader, down, "down")),
                      asyncio.create_task(self._write(down, self.camera_writer, "down"))]
        await asyncio.gather(*self.tasks, return_exceptions=True)
        self._close_both()

    async def _read(self, reader, queue, direction):
        """Reads one direction into its queue. A stalled connection stops
        reading from the camera (its sends back up) but keeps reading from
        the server, holding the bytes, so that the server's close is seen."""
        while True:
            if self.state in ("stalled", "half_open") and direction == "up":
                await self.server_closed.wait()
                return
            throttled = self.proxy.throttle_bps > 0
            try:
                data = await reader.read(THROTTLED_READ_BYTES if throttled else READ_BYTES)
            except (ConnectionError, OSError):
                data = None
            if direction == "down" and not data:
                self.server_closed.set()
                self.proxy.note_server_closed(self)
            if self.state in ("stalled", "half_open"):
                if direction == "up":
                    return  # the camera side is stalled or gone
                if not data:
                    self._finish_faulted()
                    return
                continue  # held: never forwarded
            if data is None:  # reset: pass the reset on
                self._reset_both()
                return
            if not data:
                await queue.put(_EOF)
                return
            await queue.put((time.monotonic() + self.proxy.delay_ms / 1000, data))

    async def _write(self, queue, writer, direction):
        while True:
            item = await queue.get()
            if self.state != "open":
                return
            if item is _EOF:
                try:
                    if writer.can_write_eof():
                        writer.write_eof()
                except (ConnectionError, OSError):
                    pass
                return
            due, data = item
            wait = due - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            rate = self.proxy.throttle_bps
            if rate > 0:
                now = time.monotonic()
                start = max(now, self.next_send[direction])
                self.next_send[direction] = start + len(data) / rate
                if start > now:
                    await asyncio.sleep(start - now)
            else:
                self.next_send[direction] = 0.0
            if self.state != "open":
                return
            try:
                writer.write(data)
                await writer.drain()
            except (ConnectionError, OSError):
                self._reset_both()
                return
            self.proxy.count(f"bytes_{direction}", len(data))

    def _finish_faulted(self):
        """The server closed a stalled or half-open connection."""
        if self.state == "stalled":
            try:
                self.camera_writer.close()  # the camera learns the connection is gone
            except (ConnectionError, OSError):
                pass
        self._cancel_tasks()

    def stall(self):
        if self.state == "open":
            self.state = "stalled"
            self.faulted_at = time.monotonic()

    def half_open(self):
        if self.state == "open":
            self.state = "half_open"
            self.faulted_at = time.monotonic()
            _abort_with_rst(self.camera_writer)  # the camera side is gone; the server is not told

    def reset(self):
        if self.state in ("open", "stalled"):
            self._reset_both()

    def _reset_both(self):
        if self.state == "closed":
            return
        self.state = "closed"
        for writer in (self.camera_writer, self.server_writer):
            if writer is not None:
                _abort_with_rst(writer)
        self._cancel_tasks()

    def _close_both(self):
        if self.state == "half_open" and not self.server_closed.is_set():
            return  # only the server may end it
        self.state = "closed"
        for writer in (self.camera_writer, self.server_writer):
            if writer is not None:
                try:
                    writer.close()
                except (ConnectionError, OSError, RuntimeError):
                    pass

    def _cancel_tasks(self):
        current = asyncio.current_task()
        for task in self.tasks:
            if task is not current:
                task.cancel()


class TcpFaultProxy:
    """The proxy; see the module comment."""

    def __init__(self, upstream_port, listen_port=0):
        self.upstream_port = upstream_port
        self.listen_port = listen_port
        self.port = None
        self.delay_ms = 0
        self.throttle_bps = 0
        self.refuse_while_half_open = True
        self._loop = None
        self._thread = None
        self._server = None
        self._connections = set()
        self._numbers = 0
        self._counts = {}
        self._faulted_closed_after = {"stalled": [], "half_open": []}  # seconds from fault to the server's close
        self._lock = threading.Lock()
        self._ready = threading.Event()

    # --- control, from any thread ---

    def start(self):
        self._thread = threading.Thread(target=self._run_loop, name="tcp-fault-proxy", daemon=True)
        self._thread.start()
        if not self._ready.wait(10) or self.port is None:
            raise RuntimeError("the TCP fault proxy did not start")

    def stop(self):
        if self._loop is None:
            return
        asyncio.run_coroutine_threadsafe(self._shutdown(), self._loop).result(timeout=10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop = None

    def set_faults(self, delay_ms=0, throttle_bps=0):
        """Delay and throttle for every connection, open or new; no
        arguments: pass-through."""
        self.delay_ms = delay_ms
        self.throttle_bps = throttle_bps

    def stall(self):
        """Stalls the connections open now; returns how many."""
        return self._call(lambda: self._apply("stall", "stalled"))

    def half_open(self):
        """Makes the connections open now half-open; returns how many. New
        connections are refused until the server closed them all, or
        allow_new() is called."""
        self.refuse_while_half_open = True
        return self._call(lambda: self._apply("half_open", "half_open"))

    def allow_new(self):
        """New connections pass even while half-open ones remain."""
        self.refuse_while_half_open = False

    def reset_all(self):
        """Resets every open connection; returns how many."""
        return self._call(lambda: self._apply("reset", "reset"))

    def stalled_open(self):
        return self._call(lambda: self._open_in("stalled"))

    def half_open_open(self):
        return self._call(lambda: self._open_in("half_open"))

    def connections_open(self):
        return self._call(lambda: sum(1 for c in self._connections if c.state != "closed"))

    def counts(self):
        with self._lock:
            return dict(self._counts)

    def closed_after(self, kind):
        """Seconds from the fault to the server's close, per connection that
        was stalled ("stalled") or made half-open ("half_open")."""
        with self._lock:
            return list(self._faulted_closed_after[kind])

    # --- inside the loop ---

    def count(self, name, amount=1):
        with self._lock:
            self._counts[name] = self._counts.get(name, 0) + amount

    def note_server_closed(self, conn):
        if conn.state in ("stalled", "half_open") and conn.faulted_at is not None:
            with self._lock:
                self._faulted_closed_after[conn.state].append(time.monotonic() - conn.faulted_at)
            self.count(f"{conn.state}_closed_by_server")

    def _call(self, function):
        async def wrapper():
            return function()
        return asyncio.run_coroutine_threadsafe(wrapper(), self._loop).result(timeout=10)

    def _apply(self, method, counter):
        targets = [c for c in self._connections if c.state == "open" and c.server_writer is not None]
        for conn in targets:
            getattr(conn, method)()
        self.count(counter, len(targets))
        return len(targets)

    def _open_in(self, state):
        return sum(1 for c in self._connections if c.state == state and not c.server_closed.is_set())

    def _run_loop(self):
        self._loop = asyncio.new_event_loop()
        asyncio.set_event_loop(self._loop)
        self._loop.run_until_complete(self._listen())
        self._ready.set()
        self._loop.run_forever()
        self._loop.close()

    async def _listen(self):
        try:
            self._server = await asyncio.start_server(self._accept, "127.0.0.1", self.listen_port, backlog=1024)
            self.port = self._server.sockets[0].getsockname()[1]
        except OSError:
            self.port = None

    async def _accept(self, reader, writer):
        self.count("accepted")
        if self.refuse_while_half_open and self._open_in("half_open"):
            # The camera's network is still down for as long as its old
            # connection is half-open at the server.
            self.count("refused_while_half_open")
            _abort_with_rst(writer)
            return
        self._numbers += 1
        conn = _Connection(self, self._numbers, reader, writer)
        self._connections.add(conn)
        try:
            await conn.run(self.upstream_port)
        finally:
            self._connections.discard(conn)
            self.count("closed")

    async def _shutdown(self):
        if self._server is not None:
            self._server.close()
        for conn in list(self._connections):
            conn.state = "open"
            conn._reset_both()
        tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
