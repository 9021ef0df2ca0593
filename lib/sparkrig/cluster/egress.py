"""The API server's egress proxy: HTTP CONNECT on a unix socket, to loopback only.

The local cluster gives pods and Services addresses outside 127.0.0.0/8,
because the API server rejects loopback addresses in EndpointSlices. No
process serves those addresses, and this machine may send traffic only to
loopback. Of the cluster's components, only kube-apiserver dials pods,
Services and nodes (admission webhooks, aggregated APIs, CRD conversion, the
`proxy`, `log`, `exec` and `portforward` subresources). Its
EgressSelectorConfiguration sends the `cluster` and `controlplane` egress
through this proxy, which:

- accepts `CONNECT host:port` only for an IP literal in 127.0.0.0/8, `::1`
  or the name `localhost` (the KWOK kubelet at 127.0.0.1 is the usual target),
  and relays bytes both ways;
- answers every other target at once with `403` and a reason phrase that
  the API server puts in its error message, without a DNS lookup or a
  connection attempt, so nothing leaves the machine.

This module uses only the standard library, so the cluster starts it by path
as `python .../egress.py --socket PATH`, without importing the sparkrig package.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ipaddress
import logging
import os
import signal
import sys
from pathlib import Path

__all__ = ["check_target", "serve", "main", "MAX_SOCKET_PATH"]

logger = logging.getLogger(__name__)

# sockaddr_un.sun_path is 108 bytes on Linux, including the closing NUL.
MAX_SOCKET_PATH = 107
# A CONNECT request of the API server is one line plus a few headers, far below this.
MAX_HEADER_BYTES = 16 * 1024
HEADER_TIMEOUT_SECONDS = 10.0
# A loopback connect succeeds or fails within microseconds, so a longer wait is a stuck listener.
CONNECT_TIMEOUT_SECONDS = 5.0
RELAY_CHUNK_BYTES = 64 * 1024


def check_target(authority: str) -> tuple[str, int] | str:
    """Return (host, port) when `authority` may be dialled, else the reason it may not.

    Only IP literals in 127.0.0.0/8, `::1` and `localhost` pass. A name is
    never resolved, because a DNS query itself may leave the machine.
    """
    host, separator, port_text = authority.rpartition(":")
    if not separator or not host or not port_text.isdigit():
        return f"invalid CONNECT target {authority!r}: expected host:port"
    port = int(port_text)
    if not 0 < port < 65536:
        return f"invalid CONNECT target {authority!r}: port out of range"
    host = host.removeprefix("[").removesuffix("]")
    if host.lower() == "localhost":
        return "127.0.0.1", port
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return (f"{authority} is a name, and the local sparkrig cluster resolves no names "
                "for the API server; only 127.0.0.0/8 is reachable")
    if not address.is_loopback:
        return (f"{authority} is not on this machine: the local sparkrig cluster simulates "
                "pods and Services, so no process serves their addresses")
    return str(address), port


def _status_line(code: int, reason: str) -> bytes:
    # The reason phrase must stay on one line; the API server quotes it in its error.
    text = reason.replace("\r", " ").replace("\n", " ")
    return f"HTTP/1.1 {code} {text}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".encode()


async def _read_request_head(reader: asyncio.StreamReader) -> str | None:
    """Return the request line of a CONNECT request, or None when the client sent none."""
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), HEADER_TIMEOUT_SECONDS)
    if len(head) > MAX_HEADER_BYTES:
        return None
    return head.split(b"\r\n", 1)[0].decode("latin-1")


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while True:
            chunk = await reader.read(RELAY_CHUNK_BYTES)
            if not chunk:
                break
            writer.write(chunk)
            await writer.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        with contextlib.suppress(OSError, RuntimeError):
            if writer.can_write_eof():
                writer.write_eof()


async def _handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    upstream_writer: asyncio.StreamWriter | None = None
    try:
        try:
            line = await _read_request_head(reader)
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError):
            line = None
        if line is None:
            writer.write(_status_line(400, "expected one CONNECT request"))
            return
        method, _, rest = line.partition(" ")
        authority = rest.split(" ", 1)[0]
        if method != "CONNECT":
            writer.write(_status_line(405, f"only CONNECT is supported, not {method}"))
            return

        target = check_target(authority)
        if isinstance(target, str):
            logger.warning("rejected CONNECT %s: %s", authority, target)
            writer.write(_status_line(403, f"sparkrig egress proxy rejected {target}"))
            return

        host, port = target
        try:
            upstream_reader, relay_writer = await asyncio.wait_for(
                asyncio.open_connection(host, port), CONNECT_TIMEOUT_SECONDS)
        except (OSError, TimeoutError) as exc:
            logger.info("CONNECT %s failed: %s", authority, exc)
            writer.write(_status_line(502, f"sparkrig egress proxy could not connect to "
                                           f"{authority}: {exc}"))
            return
        upstream_writer = relay_writer
        logger.debug("relaying CONNECT %s", authority)
        writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
        await writer.drain()
        await asyncio.gather(_pipe(reader, relay_writer), _pipe(upstream_reader, writer))
    except (ConnectionError, OSError) as exc:
        logger.debug("client connection ended: %s", exc)
    finally:
        for stream in (upstream_writer, writer):
            if stream is None:
                continue
            with contextlib.suppress(ConnectionError, OSError):
                await stream.drain()
            stream.close()
            with contextlib.suppress(ConnectionError, OSError):
                await stream.wait_closed()


async def serve(socket_path: Path, ready: asyncio.Event | None = None) -> None:
    """Serve CONNECT requests on `socket_path` until the task is cancelled."""
    if len(os.fsencode(socket_path)) > MAX_SOCKET_PATH:
        raise ValueError(f"socket path {socket_path} is longer than {MAX_SOCKET_PATH} bytes")
    socket_path.unlink(missing_ok=True)
    server = await asyncio.start_unix_server(_handle, path=str(socket_path),
                                             limit=MAX_HEADER_BYTES)
    # Only the owner (the API server runs as the same user) may connect.
    socket_path.chmod(0o600)
    logger.info("egress proxy listening on %s; CONNECT is allowed to 127.0.0.0/8 and ::1 only",
                socket_path)
    if ready is not None:
        ready.set()
    try:
        async with server:
            await server.serve_forever()
    finally:
        socket_path.unlink(missing_ok=True)


async def _serve_until_signalled(socket_path: Path) -> None:
    task = asyncio.ensure_future(serve(socket_path))
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, task.cancel)
    with contextlib.suppress(asyncio.CancelledError):
        await task
    logger.info("egress proxy stopped")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="egress.py",
        description="HTTP CONNECT proxy for kube-apiserver that reaches 127.0.0.0/8 only.",
    )
    parser.add_argument("--socket", required=True, type=Path,
                        help="path of the unix socket to listen on")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(message)s")
    try:
        asyncio.run(_serve_until_signalled(args.socket))
    except (OSError, ValueError) as exc:
        logger.error("egress proxy failed: %s", exc)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
