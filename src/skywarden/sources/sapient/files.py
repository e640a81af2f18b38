"""The ``sapient`` file format: recorded SAPIENT BSI Flex 335 v2.0 messages.

Two kinds of file are read, told apart by their first bytes:

* **length-prefixed binary**: what a node sends on TCP, recorded (``uint32`` little-endian length,
  then a serialized ``SapientMessage``, repeated);
* **protobuf-JSON** (the protobuf JSON mapping, as in Dstl's sample messages): one message per
  file, one per line, several pretty-printed objects one after another, or a JSON array of them.
  Field names may be lowerCamelCase or the proto's snake_case; enums are their full names.

A file is JSON when its first non-blank byte is ``{`` or ``[`` and its first four bytes hold no
NUL (a length prefix under the 1 MiB cap always has a NUL in its top byte).

Messages are handled as the fusion node does live (:mod:`.messages`); replies are dropped.
Counting: ``messages`` counts frames (binary) or JSON values (JSON); a frame that is not a
protobuf message is rejected as ``invalid_protobuf`` and the next frame is tried (its length
prefix was read correctly, so the framing is still in step); a length prefix over the cap
(``oversized_frame``) ends the file, since nothing after it can be framed; a partial frame at the
end is ``truncated_frame``. A JSON value that does not parse is ``invalid_json`` (reading resumes at
the next line that starts with ``{``); one that is not a ``SapientMessage`` is ``invalid_message``.

Example:
    >>> import io
    >>> from skywarden.sources.decode import DecodeOptions, DecodeStats
    >>> stats = DecodeStats()
    >>> line = b'{"timestamp": "2023-07-07T12:44:17Z", "nodeId": "a8654cdf-4328-47de-81fa-c495589e30c9", "statusReport": {"reportId": "01GGYFBAV4EEPB1398MKQ47E6E", "system": "SYSTEM_OK", "info": "INFO_NEW", "mode": "Default"}}'
    >>> [(r.sensor, r.state, r.detail) for r in read_sapient(io.BytesIO(line), DecodeOptions(), stats)]
    [('a8654cdf-4328-47de-81fa-c495589e30c9', 'ok', 'mode Default')]
    >>> stats.messages, stats.decoded, stats.statuses
    (1, 1, 1)
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any, BinaryIO

from google.protobuf import json_format

from skywarden.sources.decode import DecodeOptions, DecodeStats, FormatError, Record
from skywarden.sources.sapient.bindings import SapientMessage
from skywarden.sources.sapient.messages import Counters, SapientDmm
from skywarden.sources.sapient.node import SapientStreamDecoder

__all__ = ["read_sapient", "is_json"]

_CHUNK = 1 << 20
_BLANK = re.compile(r"\s*")
_NEXT_OBJECT = re.compile(r"\n(?=[{\[])")


def is_json(head: bytes) -> bool:
    """True when a file starting with ``head`` is protobuf-JSON rather than length-prefixed binary.

    >>> is_json(b'  {"nodeId": 1}'), is_json(b"{\\x00\\x00\\x00"), is_json(b"\\x0a\\x00\\x00\\x00")
    (True, False, False)
    """
    if b"\x00" in head[:4]:
        return False
    stripped = head.lstrip(b" \t\r\n\xef\xbb\xbf")  # a UTF-8 byte order mark is blank too
    return stripped[:1] in (b"{", b"[")


def read_sapient(stream: BinaryIO, options: DecodeOptions, stats: DecodeStats) -> Iterator[Record]:
    """Records from a recorded SAPIENT file (see the module docstring); counts go to ``stats``.

    Raises:
        FormatError: the file is binary and its first length prefix is over the cap (it is not
            SAPIENT framing at all), or an option is unknown or malformed.
    """
    dmm = SapientDmm(options)  # parses the options first: a bad option is a one-line error
    head = stream.read(_CHUNK)
    if not head:
        return
    if is_json(head[:64]):
        yield from _read_json(head + stream.read(), dmm, Counters(stats))
    else:
        yield from _read_framed(head, stream, dmm, options, stats)


def _read_framed(head: bytes, stream: BinaryIO, dmm: SapientDmm, options: DecodeOptions, stats: DecodeStats) -> Iterator[Record]:
    decoder = SapientStreamDecoder(options, stats, dmm=dmm, stop_on_garbage=False)
    chunk = head
    first = True
    while chunk:
        records = decoder.feed(chunk, 0.0)
        if first and decoder.splitter.failed is not None and decoder.splitter.offset == 0:
            raise FormatError(f"not SAPIENT length-prefixed protobuf: the first length prefix says {decoder.splitter.failed_detail}")
        first = False
        decoder.replies()  # a file has no peer to answer
        yield from records
        if decoder.failed is not None:
            return  # oversized frame: nothing after it can be framed
        chunk = stream.read(_CHUNK)
    decoder.finish()


def _line_of(text: str, pos: int, cache: list[int]) -> int:
    """Line number (1-based) of ``pos``; ``cache`` = [last pos, its line] makes a forward scan O(n)."""
    last_pos, last_line = cache
    line = last_line + text.count("\n", last_pos, pos) if pos >= last_pos else 1 + text.count("\n", 0, pos)
    cache[0], cache[1] = pos, line
    return line


def _read_json(data: bytes, dmm: SapientDmm, counters: Counters) -> Iterator[Record]:
    # Bytes that are not UTF-8 become U+FFFD: a message with one in a string field still decodes
    # (and then fails ULID/UUID validation where it matters); one elsewhere is invalid JSON.
    text = data.decode("utf-8", errors="replace").lstrip("\ufeff")
    decoder = json.JSONDecoder()
    pos = _BLANK.match(text, 0).end()
    cache = [0, 1]
    while pos < len(text):
        line = _line_of(text, pos, cache)
        try:
            value, end = decoder.raw_decode(text, pos)
        except (json.JSONDecodeError, RecursionError) as exc:
            counters.message(None)
            counters.reject(None, f"line {line}", "invalid_json", str(exc)[:200])
            resume = _NEXT_OBJECT.search(text, pos + 1)
            if resume is None:
                return
            pos = resume.end()
            continue
        pos = _BLANK.match(text, end).end()
        if isinstance(value, list):
            for i, item in enumerate(value):
                yield from _json_message(item, f"line {line} item {i}", dmm, counters)
        else:
            yield from _json_message(value, f"line {line}", dmm, counters)


def _json_message(value: Any, where: str, dmm: SapientDmm, counters: Counters) -> list[Record]:
    if not isinstance(value, dict):
        counters.message(None)
        counters.reject(None, where, "invalid_message", f"a JSON {type(value).__name__}, not a SapientMessage object")
        return []
    msg = SapientMessage()
    try:
        json_format.ParseDict(value, msg)
    except Exception as exc:  # noqa: BLE001 - ParseError, and TypeError/ValueError/RecursionError on odd values
        node = value.get("nodeId") or value.get("node_id")
        node = node if isinstance(node, str) else None
        counters.message(node)
        counters.reject(node, where, "invalid_message", str(exc)[:200])
        return []
    counters.message(msg.node_id or None)
    records = dmm.handle(msg, where, counters)
    dmm.outbox.clear()  # a file has no peer to answer
    return records
