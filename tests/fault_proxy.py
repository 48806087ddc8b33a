"""A userspace TCP fault proxy for tests: the faults of a real network that this kernel cannot make
(no tc netem here), on command, between agents on one machine.

One Route per directed edge i -> j: it listens on a port of its own, and agent i reaches neighbour j
there (dadmm-agent --dial j=127.0.0.1:PORT); it forwards to j's agent. On each route:
  - delay(mean, jitter): every chunk of bytes is held mean +- jitter seconds (uniform), in order;
  - partition(): no byte moves either way and new connections hang (TCP would retransmit in vain),
    until heal(); what was sent meanwhile moves after the heal, as TCP would deliver it, if the
    endpoints still hold the connection;
  - reset(): every connection of the route is closed with a TCP RST at both ends;
  - bandwidth(bytes_per_second): each direction of a connection is paced to it.

asyncio, one event loop; the test drives it from coroutines on the same loop.
"""
import asyncio
import random
import socket
import struct
import time


class Route:
    def __init__(self, name, target_host, target_port, rng):
        self.name = name
        self.listen_port = None  # chosen by the kernel at start()
        self.target = (target_host, target_port)
        self.rng = rng
        self.delay_mean = 0.0
        self.delay_jitter = 0.0
        self.bytes_per_second = 0.0
        self.open = asyncio.Event()
        self.open.set()
        self.connections = set()  # (client writer, upstream writer) of each live connection
        self.server = None

    def sample_delay(self):
        if self.delay_mean <= 0 and self.delay_jitter <= 0:
            return 0.0
        return max(0.0, self.rng.uniform(self.delay_mean - self.delay_jitter, self.delay_mean + self.delay_jitter))

    async def start(self):
        self.server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.listen_port = self.server.sockets[0].getsockname()[1]

    async def _accept(self, client_reader, client_writer):
        await self.open.wait()  # a partitioned route: the connection hangs until the heal
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            _abort(client_writer)  # the target is down: the client sees its connection reset
            return
        entry = (client_writer, up_writer)
        self.connections.add(entry)
        try:
            await asyncio.gather(self._pump(client_reader, up_writer), self._pump(up_reader, client_writer))
        finally:
            self.connections.discard(entry)
            _abort(client_writer)
            _abort(up_writer)

    async def _pump(self, reader, writer):
        """Moves bytes one way, each chunk released at its own time, never before the one before it."""
        queue = asyncio.Queue()

        async def release():
            while True:
                item = await queue.get()
                if item is None:
                    break
                due, data = item
                wait = due - time.monotonic()
                if wait > 0:
                    await asyncio.sleep(wait)
                await self.open.wait()
                if self.bytes_per_second > 0:
                    await asyncio.sleep(len(data) / self.bytes_per_second)
                writer.write(data)
                await writer.drain()
            if writer.can_write_eof():
                writer.write_eof()

        sender = asyncio.ensure_future(release())
        last_due = 0.0
        try:
            while True:
                await self.open.wait()
                data = await reader.read(65536)
                if not data:
                    break
                last_due = max(last_due, time.monotonic() + self.sample_delay())
                queue.put_nowait((last_due, data))
            queue.put_nowait(None)
            await sender
        except (ConnectionError, OSError):
            pass
        finally:
            sender.cancel()
            _abort(writer)

    def reset(self):
        """RST on every connection of the route; returns how many there were."""
        count = 0
        for client, upstream in list(self.connections):
            _abort(client)
            _abort(upstream)
            count += 1
        self.connections.clear()
        return count

    async def close(self):
        self.reset()
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()


def _abort(writer):
    """Closes with RST (SO_LINGER 0), not FIN: what a broken connection looks like."""
    try:
        sock = writer.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    except OSError:
        pass
    writer.transport.abort()


class FaultProxy:
    """Routes for every directed edge of a topology. `addresses`: node id -> (host, port) of its agent;
    `edges`: pairs (i, j). Each route listens on a port the kernel picks (start() binds them all; bind
    them while the agents' ports are still reserved, so that no route takes one)."""

    def __init__(self, addresses, edges, seed=1):
        self.rng = random.Random(seed)
        self.routes = {}
        for i, j in edges:
            for a, b in ((i, j), (j, i)):
                host, port = addresses[b]
                self.routes[(a, b)] = Route(f"{a}->{b}", host, port, self.rng)

    async def start(self):
        for route in self.routes.values():
            await route.start()

    def dial_flag(self, node):
        """--dial for node's agent: each neighbour reached through its route."""
        return ",".join(f"{b}=127.0.0.1:{r.listen_port}" for (a, b), r in sorted(self.routes.items()) if a == node)

    def delay(self, mean, jitter):
        for route in self.routes.values():
            route.delay_mean, route.delay_jitter = mean, jitter

    def bandwidth(self, bytes_per_second):
        """Paces each direction of every connection to `bytes_per_second` (0: no limit)."""
        for route in self.routes.values():
            route.bytes_per_second = bytes_per_second

    def edge(self, i, j):
        return [self.routes[(i, j)], self.routes[(j, i)]]

    def partition(self, i, j):
        for route in self.edge(i, j):
            route.open.clear()

    def heal(self, i, j):
        for route in self.edge(i, j):
            route.open.set()

    def live_routes(self):
        return [r for r in self.routes.values() if r.connections]

    async def close(self):
        for route in self.routes.values():
            route.open.set()
            await route.close()
