"""A small HTTP/1.1 keep-alive load generator, for machines without wrk (the account
page bench uses wrk when it is installed). Runs in its own process; prints one line
in the format of the bench's wrk script:

    BENCH requests=N duration_us=D p50_us=.. p95_us=.. p99_us=.. max_us=.. errors=E

    python -m bench.load --url http://127.0.0.1:8000/graphql --body-file body.json \
        --header 'Authorization: Bearer ...' --connections 16 --seconds 10
"""

from __future__ import annotations

import argparse
import asyncio
import time
from urllib.parse import urlparse


async def client(
    host: str, port: int, request: bytes, deadline: float, latencies: list[float], errors: list[int]
) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    try:
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            writer.write(request)
            await writer.drain()
            head = await reader.readuntil(b"\r\n\r\n")
            status = int(head.split(b" ", 2)[1])
            length = 0
            chunked = False
            for line in head.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value.strip())
                elif name.strip().lower() == b"transfer-encoding" and b"chunked" in value.lower():
                    chunked = True
            if chunked:
                while True:
                    size = int((await reader.readuntil(b"\r\n")).strip(), 16)
                    await reader.readexactly(size + 2)
                    if size == 0:
                        break
            else:
                await reader.readexactly(length)
            latencies.append(time.perf_counter() - started)
            if status != 200:
                errors.append(status)
    finally:
        writer.close()


def percentile(values: list[float], p: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(p / 100 * len(ordered) + 0.5) - 1))
    return ordered[index]


async def main(args: argparse.Namespace) -> None:
    url = urlparse(args.url)
    with open(args.body_file, "rb") as source:
        body = source.read()
    headers = [
        f"POST {url.path or '/'} HTTP/1.1",
        f"Host: {url.hostname}:{url.port}",
        "Content-Type: application/json",
        f"Content-Length: {len(body)}",
        *args.header,
    ]
    request = ("\r\n".join(headers) + "\r\n\r\n").encode() + body
    latencies: list[float] = []
    errors: list[int] = []
    started = time.perf_counter()
    deadline = started + args.seconds
    await asyncio.gather(
        *(
            client(
                url.hostname or "127.0.0.1", url.port or 80, request, deadline, latencies, errors
            )
            for _ in range(args.connections)
        )
    )
    duration = time.perf_counter() - started
    us = 1e6
    print(
        f"BENCH requests={len(latencies)} duration_us={int(duration * us)} "
        f"p50_us={int(percentile(latencies, 50) * us)} "
        f"p95_us={int(percentile(latencies, 95) * us)} "
        f"p99_us={int(percentile(latencies, 99) * us)} "
        f"max_us={int(max(latencies, default=0) * us)} errors={len(errors)}",
        flush=True,
    )


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("--url", required=True)
    p.add_argument("--body-file", required=True)
    p.add_argument("--header", action="append", default=[])
    p.add_argument("--connections", type=int, default=1)
    p.add_argument("--seconds", type=float, default=5)
    asyncio.run(main(p.parse_args()))
