"""SAPP gateway (seed 000, one port for all): the target's only port reachable from the network.

Runs inside the target's network namespace, where every service instance listens on
127.0.0.1 only. A connection must open with a valid preamble (mtdlab.contract.sapp); it is then
spliced to the named service's current port, read from the map file the controller updates
at each hop (gateway.ctl set). Anything else gets no byte back and is closed. One JSON line
per connection goes to stdout; the controller keeps them in the run folder.

Environment: MTDLAB_SAPP_KEY (hex), MTDLAB_SAPP_PORT, MTDLAB_SAPP_CODES (1=web,2=ssh,...: plain text,
since the Docker API fence refuses request bodies with escapes, as JSON inside JSON would need).
"""
from __future__ import annotations

import asyncio
import json
import os
import signal
import time

from mtdlab.contract import keys
from mtdlab.contract.sapp import PREAMBLE_LEN, BadPreamble, Verifier

from .state import read_map

PREAMBLE_TIMEOUT_S = 2.0     # a client sends its preamble at once; a probe that does not is dropped
UPSTREAM_TIMEOUT_S = 3.0
IDLE_TIMEOUT_S = 120.0       # a spliced connection silent both ways this long is closed


def log(**record) -> None:
    print(json.dumps({"wall": round(time.time(), 6), **record}), flush=True)


async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> int:
    moved = 0
    try:
        while data := await asyncio.wait_for(reader.read(65536), IDLE_TIMEOUT_S):
            writer.write(data)
            await writer.drain()
            moved += len(data)
        if writer.can_write_eof():
            writer.write_eof()   # pass the half-close on: the other side may still answer
    except (ConnectionError, OSError, asyncio.TimeoutError):
        pass
    return moved


class Gateway:
    def __init__(self, key: bytes, codes: dict[int, str]):
        self.verifier, self.codes = Verifier(key), codes
        # The event loop holds tasks only weakly: without this, a connection whose both sockets
        # wait quietly could have its handler garbage-collected mid-splice.
        self.active: set[asyncio.Task] = set()

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        self.active.add(task)
        try:
            await self._handle(reader, writer)
        finally:
            self.active.discard(task)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = writer.get_extra_info("peername")
        record = {"event": "sapp.connection", "peer": f"{peer[0]}:{peer[1]}" if peer else None}
        stage = "no preamble in time"
        try:
            try:
                preamble = await asyncio.wait_for(reader.readexactly(PREAMBLE_LEN), PREAMBLE_TIMEOUT_S)
                stage = "service did not accept in time"
                code = self.verifier.check(preamble)
                service = self.codes.get(code)
                port = read_map().get(service) if service else None
                if port is None:
                    raise BadPreamble(f"no such service placed (code {code})")
                up_reader, upstream = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port),
                                                             UPSTREAM_TIMEOUT_S)
            except asyncio.IncompleteReadError as exc:
                raise BadPreamble(f"closed before a whole preamble ({len(exc.partial)} of {PREAMBLE_LEN} bytes)") from None
            except asyncio.TimeoutError:
                raise BadPreamble(stage) from None
        except (BadPreamble, OSError) as exc:
            log(**record, accepted=False, reason=str(exc) or type(exc).__name__)
            writer.close()
            return
        record.update(accepted=True, service=service, port=port)
        sent, received = await asyncio.gather(pipe(reader, upstream), pipe(up_reader, writer))
        log(**record, bytes_in=sent, bytes_out=received)
        for w in (upstream, writer):
            w.close()


async def serve(port: int, gateway: Gateway) -> None:
    server = await asyncio.start_server(gateway.handle, "0.0.0.0", port, backlog=256)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    log(event="sapp.listening", port=port, services=sorted(gateway.codes.values()))
    async with server:
        await stop.wait()


def main() -> None:
    key = keys.from_env(keys.SAPP)
    codes = {int(k): v for k, v in (pair.split("=", 1) for pair in os.environ["MTDLAB_SAPP_CODES"].split(","))}
    asyncio.run(serve(int(os.environ["MTDLAB_SAPP_PORT"]), Gateway(key, codes)))


if __name__ == "__main__":
    main()
