"""Remote ID sources: broadcast (ASTM F3411 / ASD-STAN EN 4709-002) and network Remote ID.

* :mod:`.messages`: the 25-byte air messages, decode and encode.
* :mod:`.transport`: Wi-Fi Beacon / NAN and Bluetooth 4 / 5 framing.
* :mod:`.assembly`: per-transmitter assembly of messages into observations.
* Readers (``skywarden decode --format ...``): :mod:`.capture` (``remoteid-pcap``),
  :mod:`.dronescout` (``dronescout-json``), :mod:`.netrid` (``netrid-json``),
  :mod:`.mavlink` (``mavlink``).

User documentation: docs/sources/remoteid.md.
"""
