"""Format ``remoteid-pcap``: broadcast Remote ID from a pcap or pcapng capture.

Reads Wi-Fi (link types 127 radiotap + 802.11 and 105 plain 802.11) and Bluetooth LE (251, 256,
272 Nordic sniffer) captures; finds the Remote ID payloads with :mod:`.transport`, decodes them
with :mod:`.messages` and assembles per-transmitter observations with :mod:`.assembly`.

Counters, per captured packet (each packet is counted exactly once as decoded, rejected or
skipped, besides the ``no_position`` count):

* decoded: a packet whose Remote ID messages all decoded.
* rejected: ``bad_fcs``/``ble_crc_error`` (the radio flagged the frame as corrupt),
  ``radiotap_truncated``, ``element_truncated``, ``ble_truncated``, ``nan_attribute_truncated``,
  ``nan_no_service_info``, ``pack_header``, ``pack_truncated``, ``pack_nested``, ``bad_uas_id``,
  ``bad_operator_id``, ``bad_time``, ``unsupported_linktype``. A damaged Message Pack is rejected
  but its whole messages before the damage are still used (spoofing tools write short packs).
* skipped: ``no_remote_id`` (other traffic), ``dji_droneid`` (proprietary DJI DroneID),
  ``french_signalement``, ``nan_sync_beacon`` (NAN synchronisation beacons, no data).
* skipped ``no_position``: one per Location message without a position fix (0/0); these are
  messages inside decoded packets, not packets.

Options (``--option key=value``): ``time=capture|message``, ``ground_alt_m=M`` and ``hold_s=S`` (see
:mod:`.assembly`). The sensor id is ``--sensor`` or ``remoteid``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import BinaryIO

from skywarden.core.records import RemoteIdObservation
from skywarden.sources.capture import LINKTYPE, read_packets
from skywarden.sources.decode import DecodeOptions, DecodeStats
from skywarden.sources.remoteid.assembly import HoldQueue, UaAssembler, hold_seconds
from skywarden.sources.remoteid.messages import TYPE_PACK, Message, MessageError, decode_message, salvage_pack
from skywarden.sources.remoteid.transport import Frame, TransportError, ble_frame, radiotap_frame, wifi_frame

__all__ = ["read_capture", "frame_of", "payload_messages"]

_BLE = (LINKTYPE["bluetooth_le_ll"], LINKTYPE["bluetooth_le_ll_phdr"], LINKTYPE["nordic_ble"])


def frame_of(linktype: int, data: bytes) -> Frame | None:
    """The Remote ID content of one captured frame; ``None`` for a link type not read here.

    Raises:
        TransportError: broken framing (its ``reason`` is the reject reason).
    """
    if linktype == LINKTYPE["ieee802_11_radiotap"]:
        return wifi_frame(radiotap_frame(data))
    if linktype == LINKTYPE["ieee802_11"]:
        return wifi_frame(data)
    if linktype in _BLE:
        return ble_frame(linktype, data)
    return None


def payload_messages(payload: bytes) -> tuple[list[Message], str | None]:
    """The messages in one transport payload (a message or a Message Pack) and a reject reason."""
    if not payload:
        return [], "message_truncated"
    if payload[0] >> 4 == TYPE_PACK:
        return salvage_pack(payload)
    try:
        return [decode_message(payload)], None
    except MessageError:
        return [], "message_truncated"


def read_capture(stream: BinaryIO, options: DecodeOptions, stats: DecodeStats) -> Iterator[RemoteIdObservation]:
    """Observations of every Remote ID transmitter in a pcap/pcapng ``stream`` (see the module doc).

    Raises:
        FormatError: the stream is not a pcap or pcapng capture.
    """
    assembler = UaAssembler(options)
    hold = HoldQueue(assembler, hold_seconds(options))
    for packet in read_packets(stream, stats):
        stats.messages += 1
        where = f"packet {packet.index}"
        try:
            frame = frame_of(packet.linktype, packet.data)
        except TransportError as exc:
            stats.reject(where, exc.reason, str(exc))
            continue
        except (IndexError, ValueError) as exc:  # defensive: framing code indexes bytes directly
            stats.reject(where, "frame_corrupt", repr(exc))
            continue
        if frame is None:
            stats.reject(where, "unsupported_linktype", f"link type {packet.linktype} is not Wi-Fi or Bluetooth LE")
            continue
        if not frame.payloads:
            stats.skip(frame.kind)
            continue
        messages: list[Message] = []
        problem = None
        for payload in frame.payloads:
            found, reason = payload_messages(payload)
            messages.extend(found)
            problem = problem or reason
        key = frame.mac or f"unknown-{frame.transport}"
        observations = assembler.feed_counted(key, packet.t, messages, frame.transport, stats, where, problem,
                                              f"{len(messages)} whole messages used")
        for obs in hold.push(key, packet.t, observations) if observations else hold.tick(key, packet.t):
            stats.produced(obs)
            yield obs
    for obs in hold.flush():
        stats.produced(obs)
        yield obs
