"""Packet captures (pcap and pcapng) for the decoders of captured formats.

dpkt reads both container formats and the link, IP and UDP layers; skywarden's decoders take it from
the payload on. A truncated or corrupt capture ends with a counted ``capture_truncated`` or
``capture_corrupt`` reject, after every whole packet before the damage has been yielded.

Link types used here (tcpdump.org/linktypes.html): 1 Ethernet, 101/12 raw IP, 113 Linux cooked (SLL),
276 Linux cooked v2, 105 IEEE 802.11, 127 IEEE 802.11 + radiotap, 251 Bluetooth LE link layer,
256 Bluetooth LE link layer with pseudo-header, 272 Nordic BLE sniffer.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

import dpkt

from skywarden.sources.decode import DecodeStats, FormatError

__all__ = ["CapturedPacket", "read_packets", "udp_payload", "LINKTYPE"]

LINKTYPE = {
    "ethernet": 1,
    "raw_ip": 101,
    "linux_sll": 113,
    "linux_sll2": 276,
    "ieee802_11": 105,
    "ieee802_11_radiotap": 127,
    "bluetooth_le_ll": 251,
    "bluetooth_le_ll_phdr": 256,
    "nordic_ble": 272,
}

_PCAP_MAGICS = {b"\xd4\xc3\xb2\xa1", b"\xa1\xb2\xc3\xd4", b"\x4d\x3c\xb2\xa1", b"\xa1\xb2\x3c\x4d"}
_PCAPNG_MAGIC = b"\x0a\x0d\x0d\x0a"


@dataclass(frozen=True, slots=True)
class CapturedPacket:
    """One captured frame: capture time (UNIX s, UTC), link type, the frame bytes, 1-based index."""

    t: float
    linktype: int
    data: bytes
    index: int


def is_capture(head: bytes) -> bool:
    """Whether the first four bytes of a file are a pcap or pcapng magic number."""
    return head[:4] in _PCAP_MAGICS or head[:4] == _PCAPNG_MAGIC


def read_packets(stream: BinaryIO, stats: DecodeStats) -> Iterator[CapturedPacket]:
    """Yield the packets of a pcap or pcapng ``stream``.

    Raises:
        FormatError: the stream does not start like a pcap or pcapng file.
    """
    head = stream.read(4)
    if not is_capture(head):
        raise FormatError(f"not a pcap or pcapng capture (starts with {head.hex() or 'nothing'})")
    data = head + stream.read()  # captures are read whole: dpkt needs a seekable file for pcapng
    import io

    buffer = io.BytesIO(data)
    try:
        reader = dpkt.pcapng.Reader(buffer) if head == _PCAPNG_MAGIC else dpkt.pcap.Reader(buffer)
        linktype = reader.datalink()
    except (ValueError, dpkt.dpkt.Error, struct.error) as exc:
        raise FormatError(f"unreadable capture header ({exc})") from None
    index = 0
    caplen_format = "<I" if head in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1") else ">I"
    consumed = 24  # classic pcap: the global header, then 16 bytes of header per packet
    packets = iter(reader)
    while True:
        try:
            ts, frame = next(packets)
        except StopIteration:
            break
        except (dpkt.dpkt.NeedData, struct.error) as exc:
            stats.reject(f"packet {index + 1}", "capture_truncated", f"the capture ends inside a packet ({exc})")
            break
        except (ValueError, dpkt.dpkt.Error) as exc:
            stats.reject(f"packet {index + 1}", "capture_corrupt", str(exc))
            break
        index += 1
        if head != _PCAPNG_MAGIC:
            caplen = struct.unpack_from(caplen_format, data, consumed + 8)[0] if consumed + 12 <= len(data) else -1
            consumed += 16 + len(frame)
            if caplen != len(frame):
                # dpkt hands out a partial last packet as if whole; it is the truncation.
                stats.reject(f"packet {index}", "capture_truncated", f"the capture ends inside packet {index}")
                break
        yield CapturedPacket(float(ts), linktype, bytes(frame), index)
    if head != _PCAPNG_MAGIC and consumed < len(data) and not stats.rejected_by_reason.get("capture_truncated"):
        stats.reject(f"packet {index + 1}", "capture_truncated", f"{len(data) - consumed} bytes after the last whole packet")


def udp_payload(packet: CapturedPacket) -> tuple[int, bytes] | None:
    """``(destination port, payload)`` of a UDP datagram over IPv4/IPv6, or ``None`` for anything else.

    Understands Ethernet (with VLAN tags), Linux cooked captures and raw IP link types.
    """
    try:
        if packet.linktype == LINKTYPE["ethernet"]:
            ip = dpkt.ethernet.Ethernet(packet.data).data
        elif packet.linktype in (LINKTYPE["raw_ip"], 12):
            ip = dpkt.ip.IP(packet.data) if packet.data[:1] and packet.data[0] >> 4 == 4 else dpkt.ip6.IP6(packet.data)
        elif packet.linktype == LINKTYPE["linux_sll"]:
            ip = dpkt.sll.SLL(packet.data).data
        elif packet.linktype == LINKTYPE["linux_sll2"]:
            ip = dpkt.sll2.SLL2(packet.data).data
        else:
            return None
    except (dpkt.dpkt.Error, struct.error, ValueError, IndexError):
        return None
    udp = getattr(ip, "data", None)
    if not isinstance(udp, dpkt.udp.UDP):
        return None
    return udp.dport, bytes(udp.data)
