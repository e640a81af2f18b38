"""SAPIENT over real TCP: a sensor node connects to skywarden's fusion-node server, registers,
reads the RegistrationAck, reports, and is disconnected when it sends garbage."""

from __future__ import annotations

import asyncio
import struct

from skywarden.core.records import PlotObservation, SensorStatus
from skywarden.sources.decode import DecodeOptions, DecodeStats, get_format
from skywarden.sources.sapient import build
from skywarden.sources.sapient.bindings import SapientMessage
from skywarden.sources.sapient.framing import encode_frame
from skywarden.sources.sapient.node import SapientStreamDecoder, serve_sapient

NODE = "a8654cdf-4328-47de-81fa-c495589e30c9"
DMM = "6acd78c1-fcc2-4368-b7ae-ff1aa318911c"
T0 = 1_700_000_000.0
SITE = (51.1739, -1.8224, 120.0)


def frame(msg: SapientMessage) -> bytes:
    return encode_frame(msg.SerializeToString())


async def read_message(reader: asyncio.StreamReader) -> SapientMessage:
    (length,) = struct.unpack("<I", await asyncio.wait_for(reader.readexactly(4), 5.0))
    return SapientMessage.FromString(await asyncio.wait_for(reader.readexactly(length), 5.0))


async def wait_for(predicate, timeout: float = 5.0) -> None:  # noqa: ANN001
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.01)


async def scenario() -> None:
    records: list = []
    stats_by_node: dict[str, DecodeStats] = {}
    started: asyncio.Future = asyncio.get_running_loop().create_future()
    server = asyncio.create_task(
        serve_sapient("127.0.0.1", 0, records.extend, DecodeOptions(extra={"dmm_node_id": DMM}), stats_by_node, started)
    )
    port = await asyncio.wait_for(started, 5.0)
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(frame(build.registration(NODE, T0, name="north mast radar")))
        await writer.drain()
        ack = await read_message(reader)
        assert ack.WhichOneof("content") == "registration_ack" and ack.registration_ack.acceptance
        assert ack.node_id == DMM and ack.destination_id == NODE

        stream = frame(build.status_report(NODE, T0 + 1, *SITE)) + b"".join(
            frame(build.detection_location(NODE, T0 + 2 + i, 51.18 + 0.001 * i, -1.81, 150.0, error_m=5.0)) for i in range(3)
        ) + frame(build.detection_range_bearing(NODE, T0 + 6, 2500.0, 135.0, 3.0))
        for i in range(0, len(stream), 7):  # dribbled in small pieces, as TCP may deliver them
            writer.write(stream[i : i + 7])
            await writer.drain()
        await wait_for(lambda: sum(isinstance(r, PlotObservation) for r in records) == 4)
        plots = [r for r in records if isinstance(r, PlotObservation)]
        assert [p.t for p in plots] == [T0 + 2, T0 + 3, T0 + 4, T0 + 6]
        assert plots[3].range_m == 2500.0 and plots[3].lat < SITE[0] and plots[3].lon > SITE[1]  # south-east of the mast
        statuses = [r for r in records if isinstance(r, SensorStatus)]
        assert [s.state for s in statuses] == ["registered", "ok"] and "north mast radar" in statuses[0].detail

        alert = build.alert(NODE, T0 + 7, "battery low")
        writer.write(frame(alert))
        await writer.drain()
        ack = await read_message(reader)
        assert ack.alert_ack.alert_id == alert.alert.alert_id
        writer.close()

        # a second connection: the node's location is remembered across reconnects
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(frame(build.detection_range_bearing(NODE, T0 + 8, 500.0, 0.0, 0.0)))
        await writer.drain()
        await wait_for(lambda: sum(isinstance(r, PlotObservation) for r in records) == 5)
        # then garbage: an Error reply, and the server closes the connection
        writer.write(struct.pack("<I", 50_000_000) + b"junk")
        await writer.drain()
        error = await read_message(reader)
        assert error.WhichOneof("content") == "error" and "oversized_frame" in error.error.error_message[0]
        assert await asyncio.wait_for(reader.read(), 5.0) == b""  # EOF: closed by the server
        writer.close()

        node = stats_by_node[NODE]
        assert node.observations == 5 and node.statuses == 3
        assert node.rejected_by_reason == {"oversized_frame": 1}
        assert node.messages == node.decoded + node.rejected + node.skipped == 9
    finally:
        server.cancel()
        await asyncio.gather(server, return_exceptions=True)


def test_sensor_node_session_over_tcp() -> None:
    asyncio.run(scenario())


def test_registry_names_the_stream_decoder() -> None:
    stats = DecodeStats()
    decoder = get_format("sapient").stream_decoder(DecodeOptions(), stats)
    assert isinstance(decoder, SapientStreamDecoder)
    assert decoder.feed(frame(build.detection_location(NODE, T0, 51.0, -1.0, 10.0)), T0)[0].lat == 51.0
    assert decoder.replies() == b"" and stats.observations == 1
