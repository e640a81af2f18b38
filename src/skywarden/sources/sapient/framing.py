"""SAPIENT TCP framing: each message is a ``uint32`` little-endian length, then that many bytes.

The bytes are one serialized ``SapientMessage`` (BSI Flex 335 v2.0; Dstl's Apex middleware writes
exactly this). The length is untrusted input: a length above the cap (1 MiB by default; a
detection report is a few hundred bytes) means the peer is not speaking SAPIENT v2.0, or the
stream lost sync, and nothing after it can be framed reliably, so the splitter stops there.

Example:
    >>> splitter = FrameSplitter()
    >>> data = encode_frame(b"abc") + encode_frame(b"")
    >>> [bytes(f.payload) for f in splitter.feed(data[:5])], [bytes(f.payload) for f in splitter.feed(data[5:])]
    ([], [b'abc', b''])
    >>> splitter.feed(b"\\xff\\xff\\xff\\xff")
    []
    >>> splitter.failed
    'oversized_frame'
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

__all__ = ["DEFAULT_MAX_FRAME_BYTES", "HEADER_BYTES", "Frame", "FrameSplitter", "encode_frame"]

DEFAULT_MAX_FRAME_BYTES = 1 << 20
"""Largest accepted message, bytes (1 MiB); configurable with ``--option max_frame_bytes=N``."""
HEADER_BYTES = 4
_HEADER = struct.Struct("<I")


def encode_frame(payload: bytes) -> bytes:
    """``payload`` (a serialized ``SapientMessage``) with its ``uint32`` little-endian length prefix."""
    return _HEADER.pack(len(payload)) + payload


@dataclass(frozen=True, slots=True)
class Frame:
    """One framed message: its payload and the stream offset (bytes) of its length prefix."""

    offset: int
    payload: bytes


class FrameSplitter:
    """Incremental splitter of a length-prefixed stream; one per TCP connection or file.

    ``feed`` returns the frames its bytes complete, whatever the chunking. After an oversized
    length it sets :attr:`failed` to ``"oversized_frame"`` and returns nothing more. Memory is
    bounded by the cap: at most one incomplete frame is buffered.

    Args:
        max_frame_bytes: the largest accepted payload length, bytes.
    """

    def __init__(self, max_frame_bytes: int = DEFAULT_MAX_FRAME_BYTES) -> None:
        self.max_frame_bytes = max_frame_bytes
        self.failed: str | None = None
        """``None`` while the stream is usable; ``"oversized_frame"`` once it is not."""
        self.failed_detail: str = ""
        self._buf = bytearray()
        self._offset = 0  # stream offset of _buf[0]

    @property
    def offset(self) -> int:
        """Stream offset (bytes) of the first byte not yet consumed."""
        return self._offset

    @property
    def pending(self) -> int:
        """Bytes held for an incomplete frame (a partial frame at the end of a file is truncated)."""
        return len(self._buf)

    def feed(self, data: bytes) -> list[Frame]:
        """Add ``data``; return the frames now complete, in stream order."""
        if self.failed is not None:
            return []
        buf = self._buf
        buf += data
        frames: list[Frame] = []
        pos = 0
        end = len(buf)
        cap = self.max_frame_bytes
        while end - pos >= HEADER_BYTES:
            (length,) = _HEADER.unpack_from(buf, pos)
            if length > cap:
                self.failed = "oversized_frame"
                self.failed_detail = f"length prefix {length} > cap {cap} bytes"
                self._offset += pos
                buf.clear()  # nothing after a bad length can be framed: do not hold it
                return frames
            stop = pos + HEADER_BYTES + length
            if stop > end:
                break
            frames.append(Frame(self._offset + pos, bytes(buf[pos + HEADER_BYTES : stop])))
            pos = stop
        if pos:
            del buf[:pos]
            self._offset += pos
        return frames
