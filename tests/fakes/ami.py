"""A fake Asterisk Manager Interface speaking the real AMI line protocol over TCP.

Enough of AMI for trunk status and reload checks: greeting, Login (MD5 challenge not
supported), Logoff, Ping; PJSIPShowRegistrationsOutbound answered as
res_pjsip_outbound_registration.c does: a list ack, one OutboundRegistrationDetail per
registration (sorcery fields, then Status and NextReg) followed by an AuthDetail per
outbound auth (which, as in Asterisk, carries the password in clear), then
OutboundRegistrationDetailComplete with the counts; PJSIPShowEndpoint as res_pjsip's
ami_show_endpoint: an error "Unable to retrieve endpoint <name>" for an endpoint not in the
configuration, else a list ack, EndpointDetail (sorcery fields in CamelCase), the
endpoint's AuthDetail, and EndpointDetailComplete with ListItems.
Messages are `Key: Value` lines ending in CRLF, a blank line ends each message.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

GREETING = "Asterisk Call Manager/11.0.0\r\n"
REGISTERED = "Registered"
ENDPOINT_LIST_MESSAGE = "Following are Events for each object associated with the the Endpoint"


@dataclass
class FakeRegistration:
    """One outbound registration as Asterisk reports it."""

    status: str
    server_uri: str
    client_uri: str
    endpoint: str
    auth: str
    username: str
    password: str
    next_reg: int = 3590


@dataclass
class FakeEndpoint:
    """An endpoint as Asterisk's live configuration holds it (EndpointDetail fields)."""

    fields: dict[str, str]
    auth: tuple[str, str, str] | None = None  # (auth object name, username, password)


@dataclass
class FakeAmi:
    """Serves AMI on 127.0.0.1; `registrations` maps registration object names."""

    username: str = "vocals"
    secret: str = "vocals-ami"
    registrations: dict[str, FakeRegistration] = field(default_factory=dict)
    endpoints: dict[str, FakeEndpoint] = field(default_factory=dict)
    actions: list[str] = field(default_factory=list)
    port: int = 0
    _server: asyncio.Server | None = None
    _writers: set[asyncio.StreamWriter] = field(default_factory=set)

    async def start(self) -> None:
        """Listen on `port` (a free one while it is 0: a restart keeps the same port)."""
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    @property
    def sessions(self) -> int:
        """Connections open now."""
        return len(self._writers)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            for writer in list(self._writers):
                writer.close()
            await self._server.wait_closed()

    @staticmethod
    def _message(*lines: tuple[str, str | int]) -> bytes:
        return ("".join(f"{key}: {value}\r\n" for key, value in lines) + "\r\n").encode()

    async def _read_action(self, reader: asyncio.StreamReader) -> dict[str, str] | None:
        headers: dict[str, str] = {}
        while True:
            line = await reader.readline()
            if not line:
                return None
            text = line.decode("utf-8", "replace").rstrip("\r\n")
            if not text:
                if headers:
                    return headers
                continue
            key, _, value = text.partition(":")
            headers[key.strip().lower()] = value.strip()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        writer.write(GREETING.encode())
        logged_in = False
        try:
            while (action := await self._read_action(reader)) is not None:
                name = action.get("action", "").lower()
                self.actions.append(name)
                action_id = ("ActionID", action.get("actionid", ""))
                if name == "login":
                    if (action.get("username"), action.get("secret")) == (
                        self.username,
                        self.secret,
                    ):
                        logged_in = True
                        writer.write(
                            self._message(
                                ("Response", "Success"),
                                action_id,
                                ("Message", "Authentication accepted"),
                            )
                        )
                    else:
                        writer.write(
                            self._message(
                                ("Response", "Error"),
                                action_id,
                                ("Message", "Authentication failed"),
                            )
                        )
                        await writer.drain()
                        break
                elif not logged_in:
                    writer.write(
                        self._message(
                            ("Response", "Error"), action_id, ("Message", "Permission denied")
                        )
                    )
                elif name == "ping":
                    writer.write(
                        self._message(
                            ("Response", "Success"),
                            action_id,
                            ("Ping", "Pong"),
                            ("Timestamp", "1795000000.000000"),
                        )
                    )
                elif name == "logoff":
                    writer.write(
                        self._message(
                            ("Response", "Goodbye"),
                            action_id,
                            ("Message", "Thanks for all the fish."),
                        )
                    )
                    await writer.drain()
                    break
                elif name == "pjsipshowregistrationsoutbound":
                    writer.write(self._registrations(action_id))
                elif name == "pjsipshowendpoint":
                    writer.write(self._endpoint(action_id, action.get("endpoint", "")))
                else:
                    writer.write(
                        self._message(
                            ("Response", "Error"),
                            action_id,
                            ("Message", "Invalid/unknown command"),
                        )
                    )
                await writer.drain()
        except ConnectionError:
            pass
        finally:
            self._writers.discard(writer)
            writer.close()

    def _endpoint(self, action_id: tuple[str, str], name: str) -> bytes:
        endpoint = self.endpoints.get(name)
        if endpoint is None:
            # Asterisk's format string ends in "\n", which ends up inside the Message value.
            return self._message(
                ("Response", "Error"),
                action_id,
                ("Message", f"Unable to retrieve endpoint {name}\n"),
            )
        out = [
            self._message(
                ("Response", "Success"),
                action_id,
                ("EventList", "start"),
                (
                    "Message",
                    "Following are Events for each object associated with the the Endpoint",
                ),
            ),
            self._message(
                ("Event", "EndpointDetail"),
                action_id,
                ("ObjectType", "endpoint"),
                ("ObjectName", name),
                *endpoint.fields.items(),
                ("DeviceState", "Unavailable"),
                ("ActiveChannels", ""),
            ),
        ]
        if endpoint.auth is not None:
            auth_name, username, password = endpoint.auth
            out.append(
                self._message(
                    ("Event", "AuthDetail"),
                    action_id,
                    ("ObjectType", "auth"),
                    ("ObjectName", auth_name),
                    ("Username", username),
                    ("Password", password),
                    ("AuthType", "userpass"),
                    ("EndpointName", name),
                )
            )
        out.append(
            self._message(
                ("Event", "EndpointDetailComplete"),
                action_id,
                ("EventList", "Complete"),
                ("ListItems", len(out)),
            )
        )
        return b"".join(out)

    def _registrations(self, action_id: tuple[str, str]) -> bytes:
        out = [
            self._message(
                ("Response", "Success"),
                action_id,
                ("EventList", "start"),
                ("Message", "Following are Events for each Outbound registration"),
            )
        ]
        registered = 0
        for name, reg in self.registrations.items():
            registered += reg.status == REGISTERED
            out.append(
                self._message(
                    ("Event", "OutboundRegistrationDetail"),
                    action_id,
                    ("ObjectType", "registration"),
                    ("ObjectName", name),
                    ("ServerUri", reg.server_uri),
                    ("ClientUri", reg.client_uri),
                    ("ContactUser", ""),
                    ("Transport", "transport-udp"),
                    ("OutboundProxy", ""),
                    ("Expiration", 3600),
                    ("RetryInterval", 60),
                    ("ForbiddenRetryInterval", 600),
                    ("MaxRetries", 10000),
                    ("AuthRejectionPermanent", "true"),
                    ("OutboundAuth", reg.auth),
                    ("SupportPath", "false"),
                    ("Line", "true"),
                    ("Endpoint", reg.endpoint),
                    ("Status", reg.status),
                    ("NextReg", reg.next_reg),
                )
            )
            out.append(
                self._message(
                    ("Event", "AuthDetail"),
                    action_id,
                    ("ObjectType", "auth"),
                    ("ObjectName", reg.auth),
                    ("Username", reg.username),
                    ("Password", reg.password),
                    ("Md5Cred", ""),
                    ("Realm", ""),
                    ("NonceLifetime", 32),
                    ("AuthType", "userpass"),
                    ("EndpointName", reg.endpoint),
                )
            )
        out.append(
            self._message(
                ("Event", "OutboundRegistrationDetailComplete"),
                action_id,
                ("EventList", "Complete"),
                ("Registered", registered),
                ("NotRegistered", len(self.registrations) - registered),
            )
        )
        return b"".join(out)
