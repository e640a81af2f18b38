"""Sensor-format sources on real sockets: TCP client with reconnect, TCP server, UDP, HTTP polling,
and what the runtime shows of them."""

import asyncio
import http.server
import threading
import time

from conftest import shared_data

from skywarden.core.frame import LocalFrame
from skywarden.core.records import PlotObservation, SensorStatus, encode_record
from skywarden.pipeline.live import DataClock, LiveConfig, LiveRuntime
from skywarden.sources.decode import DecodeOptions
from skywarden.sources.live import format_tcp_client, format_tcp_server, format_udp_listener, polled_source

LAT0, LON0 = 51.15, -0.18
FRAME = LocalFrame(LAT0, LON0)


def plot_line(t, sensor="radar", dlat=0.0):
    return encode_record(PlotObservation(t=t, sensor=sensor, lat=LAT0 + dlat, lon=LON0, alt_m=100.0)) + b"\n"


def runtime():
    return LiveRuntime([], FRAME, DataClock(), config=LiveConfig(tick_s=0.01))


def test_tcp_client_reconnects_with_backoff_and_counts_what_it_decoded():
    async def scenario():
        rt = runtime()
        connections = []

        async def sensor(reader, writer):
            # Each connection sends two good lines and a bad one, then the sensor hangs up.
            connections.append(writer)
            now = time.time()
            writer.write(plot_line(now) + b"garbage\n" + plot_line(now + 0.01, dlat=1e-4))
            await writer.drain()
            writer.close()

        server = await asyncio.start_server(sensor, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        rt.start(format_tcp_client("127.0.0.1", port, "jsonl", DecodeOptions(), rt, "bridge", backoff_s=(0.05, 0.2)))
        deadline = time.monotonic() + 10
        while len(connections) < 3 and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.1)
        view = {v["name"]: v for v in rt.listener_views()}["bridge"]
        server.close()
        await rt.shutdown()
        return len(connections), view, rt.observations

    n, view, observations = asyncio.run(scenario())
    assert n >= 3  # it came back after each hang-up
    assert view["role"] == "client" and view["connects"] >= 3
    assert view["rejected_by_reason"] == {"invalid_json": view["rejected"]} and view["rejected"] >= 3
    assert view["observations"] == 2 * view["rejected"]
    assert observations == view["observations"]  # every decoded observation reached the pipeline


def test_tcp_client_survives_a_sensor_that_is_down():
    async def scenario():
        rt = runtime()
        # A port with nothing listening: connection refused, again and again.
        probe = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
        port = probe.sockets[0].getsockname()[1]
        probe.close()
        await probe.wait_closed()
        rt.start(format_tcp_client("127.0.0.1", port, "jsonl", DecodeOptions(), rt, "down", backoff_s=(0.02, 0.05)))
        await asyncio.sleep(0.3)
        view = rt.listener_views()[0]
        await rt.shutdown()
        return view

    view = asyncio.run(scenario())
    assert view["connects"] == 0 and view["last_error"].startswith("connect:")


def test_tcp_server_and_udp_listener_of_a_format():
    async def scenario():
        rt = runtime()
        tcp_port, udp_port = asyncio.get_running_loop().create_future(), asyncio.get_running_loop().create_future()
        rt.start(
            format_tcp_server("127.0.0.1", 0, "jsonl", DecodeOptions(), rt, "tcp-in", tcp_port),
            format_udp_listener("127.0.0.1", 0, "jsonl", DecodeOptions(), rt, "udp-in", udp_port),
        )
        _, writer = await asyncio.open_connection("127.0.0.1", await tcp_port)
        now = time.time()
        line = plot_line(now, sensor="tcp-radar")
        for i in range(0, len(line), 7):  # arbitrary chunking
            writer.write(line[i:i + 7])
            await writer.drain()
        writer.close()
        transport, _ = await asyncio.get_running_loop().create_datagram_endpoint(asyncio.DatagramProtocol, remote_addr=("127.0.0.1", await udp_port))
        transport.sendto(plot_line(now, sensor="udp-radar") + b"{bad\n")
        await asyncio.sleep(0.3)
        transport.close()
        views = {v["name"]: v for v in rt.listener_views()}
        sensors = {s["sensor"]: s for s in rt.sensor_views()}
        await rt.shutdown()
        return views, sensors

    views, sensors = asyncio.run(scenario())
    assert views["tcp-in"]["observations"] == 1 and views["tcp-in"]["connects"] == 1
    assert views["udp-in"]["observations"] == 1 and views["udp-in"]["rejected"] == 1
    assert sensors["tcp-radar"]["messages"] == 1 and sensors["udp-radar"]["messages"] == 1


def test_polled_source_offers_each_report_once_and_survives_a_failing_url():
    now = time.time()
    body = {"/doc": plot_line(now) + plot_line(now + 0.5, dlat=1e-4)}

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - the http.server API
            if self.path not in body:
                self.send_error(503)
                return
            self.send_response(200)
            self.end_headers()
            self.wfile.write(body[self.path])

        def log_message(self, *args):
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{httpd.server_address[1]}"

    async def scenario():
        rt = runtime()
        rt.start(polled_source(url + "/doc", "jsonl", DecodeOptions(), rt, 0.05, "poll-ok"),
                 polled_source(url + "/missing", "jsonl", DecodeOptions(), rt, 0.05, "poll-bad"))
        await asyncio.sleep(0.6)
        views = {v["name"]: v for v in rt.listener_views()}
        await rt.shutdown()
        return views, rt.observations

    try:
        views, observations = asyncio.run(scenario())
    finally:
        httpd.shutdown()
    assert views["poll-ok"]["connects"] >= 3  # polled several times...
    assert observations == 2  # ...but the same two reports went on once
    assert views["poll-bad"]["rejected_by_reason"].get("fetch_failed", 0) >= 2
    assert "503" in views["poll-bad"]["last_error"]


def test_sensor_status_reports_show_in_the_sensor_view():
    rt = runtime()
    rt.sensor_status(SensorStatus(t=time.time(), sensor="radar-1", state="degraded", detail="sector 3 blanked"))
    view = {s["sensor"]: s for s in rt.sensor_views()}["radar-1"]
    assert view["reported"]["state"] == "degraded" and view["reported"]["detail"] == "sector 3 blanked"


def test_asterix_over_udp_reaches_the_runtime_and_cat034_shows_as_sensor_status():
    raw048 = shared_data("asterix", "croatiacontrol", "cat048.raw")  # GPL: read from ../shared, never copied
    raw034 = shared_data("asterix", "croatiacontrol", "cat034.raw")

    async def scenario():
        rt = runtime()
        port = asyncio.get_running_loop().create_future()
        options = DecodeOptions(sensor="psr-1", sensor_lat=45.0, sensor_lon=16.0, sensor_alt_m=120.0)
        rt.start(format_udp_listener("127.0.0.1", 0, "asterix", options, rt, "radar-udp", port))
        transport, _ = await asyncio.get_running_loop().create_datagram_endpoint(asyncio.DatagramProtocol, remote_addr=("127.0.0.1", await port))
        transport.sendto(raw048.read_bytes())
        transport.sendto(raw034.read_bytes())
        transport.sendto(b"\x30\xff\xff garbage")
        await asyncio.sleep(0.3)
        transport.close()
        view = rt.listener_views()[0]
        sensors = rt.sensor_views()
        await rt.shutdown()
        return view, sensors

    view, sensors = asyncio.run(scenario())
    assert view["observations"] == 1 and view["statuses"] == 1 and view["rejected"] >= 1
    assert any(s["reported"] for s in sensors)  # the radar's own CAT034 status is shown


def test_sapient_sensor_sending_garbage_is_answered_and_disconnected():
    async def scenario():
        rt = runtime()
        port = asyncio.get_running_loop().create_future()
        rt.start(format_tcp_server("127.0.0.1", 0, "sapient", DecodeOptions(), rt, "sapient-in", port))
        reader, writer = await asyncio.open_connection("127.0.0.1", await port)
        writer.write(b"\xff\xff\xff\x7f" + b"not protobuf" * 10)  # a 2 GiB length prefix
        await writer.drain()
        reply = await asyncio.wait_for(reader.read(), timeout=5)  # EOF: the node hung up
        writer.close()
        view = rt.listener_views()[0]
        await rt.shutdown()
        return reply, view

    reply, view = asyncio.run(scenario())
    assert reply  # an ICD Error message went back before the connection closed
    assert view["connected"] == 0 and view["rejected"] >= 1 and "undecodable" in view["last_error"]
