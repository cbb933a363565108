"""A TCP forwarder a test can cut and restore, to give a real client a real outage; in front
of PostgreSQL it can also answer as a PostgreSQL that refuses connections (starting up,
shutting down, full), with the server's own ErrorResponse."""

from __future__ import annotations

import asyncio
import contextlib
import struct

# PostgreSQL's wire protocol (protocol 3.0): the requests a client may open with.
_SSL_REQUEST = 80877103
_GSSENC_REQUEST = 80877104
_NO_ENCRYPTION = b"N"


def pg_error_response(sqlstate: str, message: str) -> bytes:
    """A FATAL ErrorResponse ('E') as PostgreSQL sends it before closing the connection."""
    fields = b"".join(
        code + value.encode() + b"\0"
        for code, value in ((b"S", "FATAL"), (b"V", "FATAL"), (b"C", sqlstate), (b"M", message))
    )
    body = fields + b"\0"
    return b"E" + struct.pack("!I", len(body) + 4) + body


class TcpProxy:
    def __init__(self, target_host: str, target_port: int) -> None:
        self._target = (target_host, target_port)
        self._server: asyncio.Server | None = None
        self._links: set[asyncio.StreamWriter] = set()
        self._refusal: bytes | None = None
        self.refused = 0
        self.port = 0

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        """Refuse new connections and cut every open one."""
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        self._cut()

    def cut(self) -> None:
        """Cut every open connection, as a network outage does; new ones are forwarded."""
        self._cut()

    def refuse_as_postgres(self, sqlstate: str, message: str) -> None:
        """Cut every open connection and answer new ones as PostgreSQL refusing them with
        `sqlstate` (57P03: starting up, 57P01: shutting down, 53300: too many clients)."""
        self._refusal = pg_error_response(sqlstate, message)
        self._cut()

    def pass_through(self) -> None:
        """Forward new connections again."""
        self._refusal = None

    def _cut(self) -> None:
        for writer in list(self._links):
            writer.close()
        self._links.clear()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self._refusal is not None:
            await self._refuse(reader, writer, self._refusal)
            return
        try:
            up_reader, up_writer = await asyncio.open_connection(*self._target)
        except OSError:
            writer.close()
            return
        self._links.update({writer, up_writer})
        await asyncio.gather(self._pipe(reader, up_writer), self._pipe(up_reader, writer))

    async def _refuse(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, refusal: bytes
    ) -> None:
        """Read the client's opening (declining encryption), answer the startup message with
        the error, close."""
        with contextlib.suppress(OSError, ConnectionError, asyncio.IncompleteReadError):
            while True:
                (length,) = struct.unpack("!I", await reader.readexactly(4))
                message = await reader.readexactly(length - 4)
                (code,) = struct.unpack("!I", message[:4])
                if code in (_SSL_REQUEST, _GSSENC_REQUEST):
                    writer.write(_NO_ENCRYPTION)
                    continue
                self.refused += 1
                writer.write(refusal)
                await writer.drain()
                break
        writer.close()

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(OSError, ConnectionError):
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        writer.close()
        self._links.discard(writer)
