#!/usr/bin/env python3
"""The abusive client mix of the fault suite, as a program of its own (asyncio, one process):

  cd loadtest && python3 -m harness.abuse --port P --duration-s 30 --idle 10000 --out abuse.json
  ... --parts idle     # only some parts: the fault suite runs groups of them side by side

against a balancer on 127.0.0.1:P, at the same time and until the deadline:
- uploads: chunked `POST /analyze` bodies of up to 128 KiB (past the balancer's retry buffer, so
  they stream to a backend), six at a time, cut off with a reset or garbled by a bad chunk header;
- slowloris: request heads trickled one byte at a time, never finished;
- oversized: a declared 8 MiB body, a chunked 4 MiB body, a 64 KiB header, sent until refused;
- garbage: malformed request lines and heads (TLS hello, bad versions, conflicting framing,
  `Upgrade` with trailing bytes, NULs, bare line feeds, a 70 KiB target);
- idle: N connections opened (at a bounded pace) and held without sending anything.

Every socket binds a source address 127.0.0.2 and up (never 127.0.0.1, which the legitimate load
uses), so a balancer limiting connections per client IP tells the abuser from the legitimate
clients: the idle connections over `--idle-addresses` addresses from 127.0.0.2, each other part
from one address of its own after those. Only loopback targets and sources. Every part stops at the deadline and after a fixed
number of attempts; the program writes a JSON summary of what the server answered."""

import argparse
import asyncio
import errno
import ipaddress
import json
import random
import socket
import struct
import sys
import time
from collections import Counter
from pathlib import Path

from harness import children

TARGET_HOST = "127.0.0.1"
FIRST_SOURCE = ipaddress.ip_address("127.0.0.2")
LOOPBACK = ipaddress.ip_network("127.0.0.0/8")
CONNECT_TIMEOUT_S = 5.0
ANSWER_TIMEOUT_S = 3.0
UPLOAD_BYTES = 128 * 1024
UPLOAD_CHUNK = 8 * 1024
UPLOAD_CONCURRENCY = 6
OVERSIZED_CONCURRENCY = 2
GARBAGE_CONCURRENCY = 2
# Concurrent connects while opening idle connections: a bounded pace, not a SYN flood.
IDLE_OPEN_CONCURRENCY = 256
SLOWLORIS_BYTE_INTERVAL_S = 0.5
# Attempts per part, whatever the duration: every loop is bounded in count as well as in time.
MAX_ATTEMPTS = 50_000
# After the deadline, parts get this long to close their sockets before the program gives up.
CLOSE_GRACE_S = 15.0
PARTS = ("uploads", "slowloris", "oversized", "garbage", "idle")


def source_addresses(first: int, count: int) -> list[str]:
    """`count` loopback source addresses starting `first` after 127.0.0.2 (never 127.0.0.1)."""
    addresses = [FIRST_SOURCE + first + i for i in range(count)]
    if not all(a in LOOPBACK and a != ipaddress.ip_address("127.0.0.1") for a in addresses):
        raise ValueError("abusive sources must be loopback addresses other than 127.0.0.1")
    return [str(a) for a in addresses]


def sources_for(part: str, idle_addresses: int) -> list[str]:
    """The source addresses of one part: the same in every process running some of the parts."""
    if part == "idle":
        return source_addresses(0, idle_addresses)
    return source_addresses(idle_addresses + PARTS.index(part), 1)


class Part:
    """The tally of one kind of abuse: attempts and what each ended with."""

    def __init__(self, name: str):
        self.name = name
        self.attempts = 0
        self.outcomes = Counter()

    def note(self, outcome: str):
        self.outcomes[outcome] += 1

    def summary(self) -> dict:
        return {"attempts": self.attempts, "outcomes": dict(self.outcomes.most_common())}


def status_of(line: bytes) -> str:
    """`HTTP/1.1 413 Payload Too Large` -> `413`; an empty read -> `closed`."""
    if not line:
        return "closed"
    fields = line.split()
    if len(fields) >= 2 and fields[0].startswith(b"HTTP/") and fields[1].isdigit():
        return fields[1].decode()
    return "not http"


def error_name(error: BaseException) -> str:
    """`ECONNREFUSED`, `EMFILE`, ... or the exception's class (`TimeoutError`)."""
    code = getattr(error, "errno", None)
    return errno.errorcode.get(code, error.__class__.__name__) if code else \
        error.__class__.__name__


async def connect(port: int, source: str):
    return await asyncio.wait_for(
        asyncio.open_connection(TARGET_HOST, port, local_addr=(source, 0)), CONNECT_TIMEOUT_S)


async def answer(reader: asyncio.StreamReader, timeout_s: float = ANSWER_TIMEOUT_S) -> str:
    try:
        return status_of(await asyncio.wait_for(reader.readline(), timeout_s))
    except asyncio.TimeoutError:
        return "no answer"
    except (ConnectionError, asyncio.IncompleteReadError, ValueError):
        return "reset"


def reset(writer: asyncio.StreamWriter):
    """Closes with a TCP reset (SO_LINGER 0): a client cut off mid-upload."""
    sock = writer.get_extra_info("socket")
    try:
        if sock is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    except OSError:
        pass  # the server closed it first: there is nothing left to reset
    writer.transport.abort()


async def close(writer: asyncio.StreamWriter):
    writer.close()
    try:
        await asyncio.wait_for(writer.wait_closed(), 1.0)
    except (OSError, asyncio.TimeoutError):
        pass


def chunk(data: bytes) -> bytes:
    return f"{len(data):x}\r\n".encode() + data + b"\r\n"


def upload_head(port: int) -> bytes:
    return (f"POST /analyze HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
            "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n").encode()


async def one_upload(port: int, source: str, garble: bool, rng: random.Random) -> str:
    reader, writer = await connect(port, source)
    try:
        cut = rng.randrange(UPLOAD_BYTES // 4, UPLOAD_BYTES)
        writer.write(upload_head(port) + chunk(b'{"text": "'))
        sent = 0
        while sent < cut:
            piece = b"a" * min(UPLOAD_CHUNK, cut - sent)
            writer.write(chunk(piece))
            await asyncio.wait_for(writer.drain(), ANSWER_TIMEOUT_S)
            sent += len(piece)
        if not garble:
            reset(writer)
            return "aborted"
        writer.write(b"zz\r\nnot a chunk\r\n")
        await asyncio.wait_for(writer.drain(), ANSWER_TIMEOUT_S)
        return "garbled: " + await answer(reader)
    finally:
        if not writer.is_closing():
            reset(writer)


async def uploads(port: int, sources: list[str], deadline: float, part: Part):
    rng = random.Random(1)

    async def loop(index: int):
        source = sources[index % len(sources)]
        while time.monotonic() < deadline and part.attempts < MAX_ATTEMPTS:
            part.attempts += 1
            try:
                part.note(await one_upload(port, source, part.attempts % 2 == 0, rng))
            except (OSError, asyncio.TimeoutError) as error:
                part.note(error_name(error))
                await asyncio.sleep(0.05)

    await asyncio.gather(*(loop(i) for i in range(UPLOAD_CONCURRENCY)))


async def one_slowloris(port: int, source: str, deadline: float) -> tuple[str, float]:
    """Trickles a never-ending head; returns how it ended and how long the server kept it."""
    reader, writer = await connect(port, source)
    opened = time.monotonic()
    head = (f"GET /history HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n".encode()
            + b"".join(f"X-Slow-{i}: {'s' * 40}\r\n".encode() for i in range(200)))
    try:
        for byte in head:
            if time.monotonic() >= deadline:
                return "held to the deadline", time.monotonic() - opened
            try:
                writer.write(bytes([byte]))
                await writer.drain()
                line = await asyncio.wait_for(reader.readline(), SLOWLORIS_BYTE_INTERVAL_S)
            except asyncio.TimeoutError:
                continue
            except (ConnectionError, asyncio.IncompleteReadError, ValueError):
                return "reset", time.monotonic() - opened
            return status_of(line), time.monotonic() - opened
        return "head sent in full", time.monotonic() - opened
    finally:
        await close(writer)


async def slowloris(port: int, sources: list[str], deadline: float, connections: int,
                    part: Part) -> dict:
    held_s: list[float] = []

    async def loop(index: int):
        source = sources[index % len(sources)]
        while time.monotonic() < deadline and part.attempts < MAX_ATTEMPTS:
            part.attempts += 1
            try:
                outcome, held = await one_slowloris(port, source, deadline)
            except (OSError, asyncio.TimeoutError) as error:
                part.note(error_name(error))
                await asyncio.sleep(0.2)
                continue
            part.note(outcome)
            held_s.append(held)

    await asyncio.gather(*(loop(i) for i in range(connections)))
    return {"median_s_held": round(sorted(held_s)[len(held_s) // 2], 2) if held_s else None}


def oversized_requests(port: int) -> list[tuple[str, bytes, int]]:
    """(name, head, body bytes to stream after it)."""
    host = f"Host: 127.0.0.1:{port}\r\n"
    return [
        ("declared 8 MiB body", ("POST /analyze HTTP/1.1\r\n" + host
                                 + "Content-Type: application/json\r\n"
                                 "Content-Length: 8388608\r\n\r\n").encode(), 8 * 1024 * 1024),
        ("chunked 4 MiB body", upload_head(port), -4 * 1024 * 1024),
        ("64 KiB header", ("GET /history HTTP/1.1\r\n" + host + "X-Big: " + "b" * 65536
                           + "\r\n\r\n").encode(), 0),
    ]


async def one_oversized(port: int, source: str, head: bytes, body: int) -> str:
    reader, writer = await connect(port, source)
    try:
        writer.write(head)
        chunked, remaining = body < 0, abs(body)
        piece = b"a" * 65536
        while remaining > 0 and not writer.is_closing():
            size = min(len(piece), remaining)
            writer.write(chunk(piece[:size]) if chunked else piece[:size])
            remaining -= size
            try:
                await asyncio.wait_for(writer.drain(), ANSWER_TIMEOUT_S)
            except (ConnectionError, asyncio.TimeoutError):
                break
        if chunked and remaining <= 0:
            writer.write(b"0\r\n\r\n")
        return await answer(reader)
    finally:
        reset(writer)


async def oversized(port: int, sources: list[str], deadline: float, part: Part):
    requests = oversized_requests(port)

    async def loop(index: int):
        source = sources[index % len(sources)]
        while time.monotonic() < deadline and part.attempts < MAX_ATTEMPTS:
            name, head, body = requests[part.attempts % len(requests)]
            part.attempts += 1
            try:
                part.note(f"{name}: {await one_oversized(port, source, head, body)}")
            except (OSError, asyncio.TimeoutError) as error:
                part.note(f"{name}: {error_name(error)}")
                await asyncio.sleep(0.05)

    await asyncio.gather(*(loop(i) for i in range(OVERSIZED_CONCURRENCY)))


def garbage_requests(port: int) -> list[tuple[str, bytes]]:
    host = f"Host: 127.0.0.1:{port}\r\n".encode()
    return [
        ("TLS client hello", bytes.fromhex("16030100a5010000a10303") + bytes(160)),
        ("not a request line", b"GARBAGE\r\n\r\n"),
        ("HTTP/9.9", b"GET / HTTP/9.9\r\n" + host + b"\r\n"),
        ("NULs", b"\x00" * 64 + b"\r\n\r\n"),
        ("bare line feeds", b"GET /history HTTP/1.1\n" + host.rstrip(b"\r\n") + b"\n\n"),
        ("70 KiB target", b"GET /" + b"a" * 70_000 + b" HTTP/1.1\r\n" + host + b"\r\n"),
        ("Content-Length and chunked", b"POST /analyze HTTP/1.1\r\n" + host
         + b"Content-Type: application/json\r\nContent-Length: 5\r\n"
           b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /admin HTTP/1.1\r\n\r\n"),
        ("two Content-Lengths", b"POST /analyze HTTP/1.1\r\n" + host
         + b"Content-Type: application/json\r\nContent-Length: 5\r\nContent-Length: 7\r\n\r\n"
           b"{}{}{}{}"),
        ("negative Content-Length", b"POST /analyze HTTP/1.1\r\n" + host
         + b"Content-Length: -1\r\n\r\n"),
        ("Upgrade with trailing bytes", b"POST /analyze HTTP/1.1\r\n" + host
         + b"Content-Type: application/json\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
           b"Content-Length: 2\r\n\r\n{}GET /smuggled HTTP/1.1\r\n" + host + b"\r\n"),
        ("CONNECT", b"CONNECT 127.0.0.1:22 HTTP/1.1\r\n" + host + b"\r\n"),
        ("control characters in a header", b"GET /history HTTP/1.1\r\n" + host
         + b"X-Bad: a\x01b\x7fc\r\n\r\n"),
    ]


async def one_garbage(port: int, source: str, payload: bytes) -> str:
    reader, writer = await connect(port, source)
    try:
        writer.write(payload)
        await asyncio.wait_for(writer.drain(), ANSWER_TIMEOUT_S)
        return await answer(reader)
    finally:
        await close(writer)


async def garbage(port: int, sources: list[str], deadline: float, part: Part):
    payloads = garbage_requests(port)

    async def loop(index: int):
        source = sources[index % len(sources)]
        while time.monotonic() < deadline and part.attempts < MAX_ATTEMPTS:
            name, payload = payloads[part.attempts % len(payloads)]
            part.attempts += 1
            try:
                part.note(f"{name}: {await one_garbage(port, source, payload)}")
            except (OSError, asyncio.TimeoutError) as error:
                part.note(f"{name}: {error_name(error)}")
                await asyncio.sleep(0.05)

    await asyncio.gather(*(loop(i) for i in range(GARBAGE_CONCURRENCY)))


class Idle(asyncio.Protocol):
    """A connection that sends nothing; `closed` is set when it ends."""

    def __init__(self):
        self.closed = asyncio.Event()

    def connection_lost(self, exc):
        self.closed.set()


class IdleFigures:
    def __init__(self):
        self.open = self.peak_open = 0
        self.lifetimes_closed_by_server: list[float] = []

    def opened(self):
        self.open += 1
        self.peak_open = max(self.peak_open, self.open)


async def idle(port: int, sources: list[str], deadline: float, count: int, part: Part) -> dict:
    """Holds `count` idle connections until the deadline; one the server closes is reopened
    (as an attacker would), within the part's attempt budget."""
    loop = asyncio.get_running_loop()
    gate = asyncio.Semaphore(IDLE_OPEN_CONCURRENCY)
    figures = IdleFigures()
    started = time.monotonic()
    all_open_s = []

    async def hold(index: int):
        source = sources[index % len(sources)]
        while time.monotonic() < deadline and part.attempts < MAX_ATTEMPTS:
            async with gate:
                part.attempts += 1
                try:
                    transport, protocol = await asyncio.wait_for(loop.create_connection(
                        Idle, TARGET_HOST, port, local_addr=(source, 0)), CONNECT_TIMEOUT_S)
                except (OSError, asyncio.TimeoutError) as error:
                    part.note(error_name(error))
                    await asyncio.sleep(0.5)
                    continue
            part.note("established")
            figures.opened()
            if figures.open == count:
                all_open_s.append(time.monotonic() - started)
            opened = time.monotonic()
            try:
                await asyncio.wait_for(protocol.closed.wait(), max(0.0, deadline - opened))
                figures.lifetimes_closed_by_server.append(time.monotonic() - opened)
            except asyncio.TimeoutError:
                transport.abort()
            figures.open -= 1

    await asyncio.gather(*(hold(i) for i in range(count)))
    lifetimes = sorted(figures.lifetimes_closed_by_server)
    return {"seconds_until_all_open": round(all_open_s[0], 2) if all_open_s else None,
            "peak_open": figures.peak_open, "closed_by_server": len(lifetimes),
            "median_s_before_server_closed": round(lifetimes[len(lifetimes) // 2], 2)
            if lifetimes else None}


async def run(args) -> dict:
    deadline = time.monotonic() + args.duration_s
    parts = {name: Part(name) for name in args.parts}
    sources = {name: sources_for(name, args.idle_addresses) for name in args.parts}

    def work(name: str):
        part, mine = parts[name], sources[name]
        if name == "uploads":
            return uploads(args.port, mine, deadline, part)
        if name == "slowloris":
            return slowloris(args.port, mine, deadline, args.slowloris, part)
        if name == "oversized":
            return oversized(args.port, mine, deadline, part)
        if name == "garbage":
            return garbage(args.port, mine, deadline, part)
        return idle(args.port, mine, deadline, args.idle, part)

    figures = await asyncio.wait_for(asyncio.gather(*(work(name) for name in parts)),
                                     args.duration_s + CLOSE_GRACE_S)
    return {
        "duration_s": args.duration_s,
        "sources": {name: f"{mine[0]}-{mine[-1]}" if len(mine) > 1 else mine[0]
                    for name, mine in sources.items()},
        "idle_requested": args.idle, "slowloris_connections": args.slowloris,
        "parts": {name: {**parts[name].summary(), **(extra or {})}
                  for name, extra in zip(parts, figures)},
    }


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True, help="balancer port on 127.0.0.1")
    parser.add_argument("--duration-s", type=float, required=True)
    parser.add_argument("--idle", type=int, default=10_000, help="idle connections to hold")
    parser.add_argument("--idle-addresses", type=int, default=40,
                        help="source addresses the idle connections are spread over")
    parser.add_argument("--slowloris", type=int, default=50, help="slowloris connections")
    parser.add_argument("--parts", type=lambda text: text.split(","), default=list(PARTS),
                        help=f"comma-separated, of {','.join(PARTS)} (default all)")
    parser.add_argument("--out", type=Path, required=True, help="JSON summary")
    args = parser.parse_args(argv)
    unknown = set(args.parts) - set(PARTS)
    if unknown:
        parser.error(f"unknown parts: {', '.join(sorted(unknown))}")
    return args


def main(argv) -> int:
    args = parse_args(argv)
    children.raise_open_files(args.idle + args.slowloris + 1024)
    summary = asyncio.run(run(args))
    args.out.write_text(json.dumps(summary, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
