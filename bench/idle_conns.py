#!/usr/bin/env python3
"""Open many idle HTTP/1.1 keep-alive connections to a proxy and hold them.

Each connection sends one GET and reads the whole response, so the server has
seen a complete request and parked the connection as keep-alive idle. Then
every connection idles. Protocol with the caller on stdout:

    ready OPEN FAILED      all attempts finished; OPEN connections are idle now
    alive ALIVE            (after --hold seconds, or on SIGTERM/SIGINT) how many
                           of them the server still kept open

Usage: idle_conns.py --port PORT [--count 10000] [--hold 60] [--parallel 200]
"""

import argparse
import asyncio
import signal
import sys

REQUEST = (
    b"GET /api/products?q=desk HTTP/1.1\r\n"
    b"Host: 127.0.0.1\r\n"
    b"User-Agent: palisade-bench-idle/1\r\n"
    b"Accept: application/json\r\n"
    b"\r\n"
)


async def read_response(reader: asyncio.StreamReader) -> int:
    """Reads one response with a Content-Length body; returns its status."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    status = int(lines[0].split()[1])
    length = 0
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
        if name.strip().lower() == b"transfer-encoding":
            raise ValueError("chunked response not expected from the bench upstream")
    if length:
        await reader.readexactly(length)
    return status


async def open_one(host, port, gate, timeout):
    async with gate:
        try:
            reader, writer = await asyncio.wait_for(
                asyncio.open_connection(host, port), timeout
            )
            writer.write(REQUEST)
            await writer.drain()
            status = await asyncio.wait_for(read_response(reader), timeout)
            if not 200 <= status < 300:
                writer.close()
                return None
            return reader, writer
        except (OSError, asyncio.TimeoutError, ValueError, asyncio.IncompleteReadError):
            return None


async def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--count", type=int, default=10000)
    parser.add_argument("--hold", type=float, default=60.0)
    parser.add_argument("--parallel", type=int, default=200)
    parser.add_argument("--timeout", type=float, default=20.0)
    args = parser.parse_args()

    gate = asyncio.Semaphore(args.parallel)
    results = await asyncio.gather(
        *(open_one(args.host, args.port, gate, args.timeout) for _ in range(args.count))
    )
    conns = [c for c in results if c is not None]
    print(f"ready {len(conns)} {args.count - len(conns)}", flush=True)

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    # Reading keeps EOF detection working while idle; no data is expected.
    drains = [asyncio.ensure_future(r.read(1)) for r, _ in conns]
    try:
        await asyncio.wait_for(stop.wait(), args.hold)
    except asyncio.TimeoutError:
        pass
    await asyncio.sleep(0)
    alive = sum(1 for d in drains if not d.done())
    print(f"alive {alive}", flush=True)
    for d in drains:
        d.cancel()
    for _, w in conns:
        w.close()
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
