"""Remote ID transport framing: find the F3411 payloads in a captured Wi-Fi or Bluetooth LE frame.

Pure functions on bytes; :mod:`.capture` reads the pcap and feeds them. Each returns a
:class:`Frame`: what kind of frame it was, the transmitter's MAC address and the Remote ID payloads
(each starting at a message or Message Pack header, after the 1-byte message counter). Broken
framing raises :class:`TransportError` with a snake_case reason.

Framing (ASTM F3411-22a section 5, ASD-STAN EN 4709-002):

* Wi-Fi Beacon: vendor-specific element ``DD len FA:0B:BC 0D counter pack``.
* Wi-Fi NAN: public action frame (category 4, action 9) ``50:6F:9A 13`` with NAN attributes; the
  Service Descriptor Attribute (0x03) with service ID ``88 69 19 9D 92 09`` carries
  ``counter pack`` as service info. NAN synchronisation beacons carry only a Service ID List and
  no data: they are recognised and skipped.
* Bluetooth LE: AD structure of type 0x16 (service data, 16-bit UUID) with UUID 0xFFFA and
  application code 0x0D, then the counter and one message (Bluetooth 4 legacy advertising) or a
  Message Pack (Bluetooth 5 extended advertising, e.g. on the Coded PHY / Long Range).

Lookalikes recognised and skipped: DJI DroneID (vendor element with DJI's OUI 26:37:12 or 60:60:1F)
and the French "signalement électronique" (OUI 6A:5C:35, type 1).
"""

from __future__ import annotations

import struct
from typing import NamedTuple

__all__ = ["Frame", "TransportError", "radiotap_frame", "wifi_frame", "ble_frame", "ble_pdu", "ODID_NAN_SERVICE_ID"]

ODID_OUI = b"\xfa\x0b\xbc"
ODID_OUI_TYPE = 0x0D
WFA_OUI = b"\x50\x6f\x9a"
NAN_OUI_TYPE = 0x13
#: First 6 bytes of SHA-256("org.opendroneid.remoteid").
ODID_NAN_SERVICE_ID = bytes.fromhex("8869199d9209")
DJI_OUIS = (b"\x26\x37\x12", b"\x60\x60\x1f")
FRENCH_OUI = b"\x6a\x5c\x35"
BLE_ADV_ACCESS_ADDRESS = b"\xd6\xbe\x89\x8e"  # 0x8E89BED6, little-endian on air
ODID_BLE_UUID = b"\xfa\xff"  # 0xFFFA little-endian
ODID_APP_CODE = 0x0D


class TransportError(ValueError):
    """A frame whose framing is broken; ``reason`` is a snake_case word for the reject counter."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(detail or reason)
        self.reason = reason


class Frame(NamedTuple):
    """What a captured frame holds.

    ``kind`` is ``"remote_id"`` (payloads found), ``"dji_droneid"``, ``"french_signalement"``,
    ``"nan_sync_beacon"`` or ``"no_remote_id"``; ``transport`` is ``wifi_beacon``, ``wifi_nan``,
    ``bt4`` or ``bt5``; ``mac`` the transmitter address as ``aa:bb:cc:dd:ee:ff`` (``None`` when the
    frame does not say).
    """

    kind: str
    transport: str | None = None
    mac: str | None = None
    payloads: tuple[bytes, ...] = ()


NOTHING = Frame("no_remote_id")


def mac_text(raw: bytes) -> str:
    """``aa:bb:cc:dd:ee:ff`` from 6 bytes in transmission order."""
    return ":".join(f"{b:02x}" for b in raw)


# --- Wi-Fi -----------------------------------------------------------------------------------------

def radiotap_frame(data: bytes) -> bytes:
    """The 802.11 frame inside a radiotap header, without its FCS when the header says one is there.

    Raises:
        TransportError: ``radiotap_truncated``, or ``bad_fcs`` when the radio flagged a bad checksum.
    """
    if len(data) < 8:
        raise TransportError("radiotap_truncated", f"{len(data)} bytes")
    length = data[2] | (data[3] << 8)
    if length < 8 or length > len(data):
        raise TransportError("radiotap_truncated", f"radiotap length {length} in {len(data)} bytes")
    present = struct.unpack_from("<I", data, 4)[0]
    flags = 0
    if present & 0x2:  # Flags field present: find it past TSFT and any extended presence words
        at, word = 8, present
        while word & 0x80000000 and at + 4 <= length:
            word = struct.unpack_from("<I", data, at)[0]
            at += 4
        if present & 0x1:
            at = (at + 7) & ~7
            at += 8
        if at < length:
            flags = data[at]
    end = len(data)
    if flags & 0x40:
        raise TransportError("bad_fcs", "the radio reports a bad frame check sequence")
    if flags & 0x10:
        end -= 4
    return data[length:end]


def _vendor_elements(body: bytes, start: int):
    """Yield ``(oui, oui_type, element body after the type byte)`` of the vendor elements from ``start``."""
    i, n = start, len(body)
    while i + 2 <= n:
        eid, ln = body[i], body[i + 1]
        if i + 2 + ln > n:
            if eid == 221 and body[i + 2:i + 5] == ODID_OUI:
                raise TransportError("element_truncated", f"Remote ID element of {ln} bytes, {n - i - 2} present")
            return  # a cut-off tail of other elements is common (capture snap length) and harmless
        if eid == 221 and ln >= 4:
            yield body[i + 2:i + 5], body[i + 5], body[i + 6:i + 2 + ln]
        i += 2 + ln


def wifi_frame(frame: bytes) -> Frame:
    """Look for Remote ID in an 802.11 frame (no radiotap, no FCS)."""
    if len(frame) < 24:
        return NOTHING
    fc0, fc1 = frame[0], frame[1]
    ftype, subtype = (fc0 >> 2) & 3, fc0 >> 4
    if ftype != 0:
        return NOTHING
    hdr = 28 if fc1 & 0x80 else 24  # +HTC control field
    mac = mac_text(frame[10:16])
    if subtype in (8, 5):  # beacon, probe response
        return _beacon(frame, hdr + 12, mac)
    if subtype == 13:  # action
        return _nan_action(frame, hdr, mac)
    return NOTHING


def _beacon(frame: bytes, start: int, mac: str) -> Frame:
    payloads = []
    other = None
    for oui, oui_type, body in _vendor_elements(frame, start):
        if oui == ODID_OUI and oui_type == ODID_OUI_TYPE:
            if len(body) < 2:
                raise TransportError("element_truncated", "Remote ID element without a message")
            payloads.append(bytes(body[1:]))
        elif oui in DJI_OUIS:
            other = "dji_droneid"
        elif oui == FRENCH_OUI and oui_type == 1:
            other = "french_signalement"
        elif oui == WFA_OUI and oui_type == NAN_OUI_TYPE and other is None:
            other = "nan_sync_beacon"
    if payloads:
        return Frame("remote_id", "wifi_beacon", mac, tuple(payloads))
    return Frame(other or "no_remote_id", "wifi_beacon", mac)


def _nan_action(frame: bytes, hdr: int, mac: str) -> Frame:
    body = frame[hdr:]
    if len(body) < 6 or body[0] != 4 or body[1] != 9 or body[2:5] != WFA_OUI or body[5] != NAN_OUI_TYPE:
        return NOTHING
    payloads = []
    i, n = 6, len(body)
    while i + 3 <= n:
        attr, ln = body[i], body[i + 1] | (body[i + 2] << 8)
        value = body[i + 3:i + 3 + ln]
        if len(value) < ln:
            raise TransportError("nan_attribute_truncated", f"NAN attribute {attr} of {ln} bytes, {len(value)} present")
        if attr == 0x03 and value[:6] == ODID_NAN_SERVICE_ID:
            payloads.append(_nan_service_info(value))
        i += 3 + ln
    if payloads:
        return Frame("remote_id", "wifi_nan", mac, tuple(payloads))
    return Frame("no_remote_id", "wifi_nan", mac)


def _nan_service_info(sda: bytes) -> bytes:
    """The Remote ID payload in a NAN Service Descriptor Attribute value (after counter)."""
    if len(sda) < 9:
        raise TransportError("nan_attribute_truncated", "Service Descriptor Attribute too short")
    control = sda[8]
    at = 9
    if control & 0x40:  # binding bitmap
        at += 2
    if control & 0x04:  # matching filter
        at += 1 + (sda[at] if at < len(sda) else 0)
    if control & 0x08:  # service response filter
        at += 1 + (sda[at] if at < len(sda) else 0)
    if not control & 0x10 or at >= len(sda):
        raise TransportError("nan_no_service_info", "Remote ID service descriptor without service info")
    ln = sda[at]
    info = sda[at + 1:at + 1 + ln]
    if len(info) < ln or ln < 2:
        raise TransportError("nan_attribute_truncated", f"service info of {ln} bytes, {len(info)} present")
    return bytes(info[1:])


# --- Bluetooth LE -------------------------------------------------------------------------------

def ble_frame(linktype: int, data: bytes) -> Frame:
    """Look for Remote ID in a captured Bluetooth LE packet of pcap link type 251, 256 or 272.

    Raises:
        TransportError: ``ble_truncated`` or ``ble_crc_error`` (the sniffer flagged a bad CRC).
    """
    coded = False
    if linktype == 251:  # LINKTYPE_BLUETOOTH_LE_LL: access address, PDU, CRC
        at = 0
    elif linktype == 256:  # LINKTYPE_BLUETOOTH_LE_LL_WITH_PHDR: 10-byte pseudo-header first
        if len(data) < 10:
            raise TransportError("ble_truncated", "pseudo-header cut short")
        flags = data[8] | (data[9] << 8)
        if flags & 0x0400 and not flags & 0x0800:
            raise TransportError("ble_crc_error", "the sniffer reports a bad CRC")
        coded = (flags >> 14) == 2
        at = 10
    elif linktype == 272:  # LINKTYPE_NORDIC_BLE, sniffer protocol version 2 or 3
        if len(data) < 9 or data[3] < 2:
            raise TransportError("ble_truncated" if len(data) < 9 else "nordic_ble_version",
                                 "Nordic BLE header too short or protocol version 1")
        header_len, flags = data[7], data[8]
        if not flags & 1:
            raise TransportError("ble_crc_error", "the sniffer reports a bad CRC")
        coded = (flags >> 4) & 7 == 2
        at = 7 + header_len
    else:
        return NOTHING
    if data[at:at + 4] != BLE_ADV_ACCESS_ADDRESS:
        if len(data) < at + 4:
            raise TransportError("ble_truncated", "packet cut short before the access address")
        return NOTHING  # a data-channel packet
    at += 5 if coded else 4  # the Coded PHY puts a 1-byte coding indicator after the access address
    return ble_pdu(data[at:])


def ble_pdu(pdu: bytes) -> Frame:
    """Look for Remote ID in a Bluetooth LE advertising-channel PDU (header, payload, CRC ignored)."""
    if len(pdu) < 2:
        raise TransportError("ble_truncated", "PDU header cut short")
    pdu_type, length = pdu[0] & 0xF, pdu[1]
    payload = pdu[2:2 + length]
    if len(payload) < length:
        raise TransportError("ble_truncated", f"PDU of {length} bytes, {len(payload)} present")
    if pdu_type in (0, 2, 4, 6):  # ADV_IND, ADV_NONCONN_IND, SCAN_RSP, ADV_SCAN_IND
        if length < 6:
            raise TransportError("ble_truncated", "advertising PDU without an address")
        return _ble_ad(payload[6:], "bt4", mac_text(payload[5::-1]))
    if pdu_type == 7:  # ADV_EXT_IND / AUX_ADV_IND / AUX_CHAIN_IND: common extended format
        if length < 1:
            return NOTHING
        ext_len = payload[0] & 0x3F
        if 1 + ext_len > length:
            raise TransportError("ble_truncated", f"extended header of {ext_len} bytes in a PDU of {length}")
        mac = None
        if ext_len >= 7 and payload[1] & 0x01:
            mac = mac_text(payload[7:1:-1])
        return _ble_ad(payload[1 + ext_len:], "bt5", mac)
    return NOTHING


def _ble_ad(ad: bytes, transport: str, mac: str | None) -> Frame:
    payloads = []
    i, n = 0, len(ad)
    while i < n:
        ln = ad[i]
        if ln == 0:
            break  # padding
        field = ad[i + 1:i + 1 + ln]  # an AD length past the end is read as far as there are bytes
        if len(field) >= 4 and field[0] == 0x16 and field[1:3] == ODID_BLE_UUID and field[3] == ODID_APP_CODE:
            if len(field) < 6:
                raise TransportError("ble_truncated", "Remote ID service data without a message")
            payloads.append(bytes(field[5:]))
        i += 1 + ln
    if payloads:
        return Frame("remote_id", transport, mac, tuple(payloads))
    return Frame("no_remote_id", transport, mac)
