"""ADS-B / Mode S sources: Beast, AVR, SBS-1, readsb aircraft.json and timestamp,hexframe files.

Modules:

* :mod:`.formats`: the readers and live stream decoders registered in
  :data:`skywarden.sources.decode.FORMATS` (``beast``, ``avr``, ``sbs1``, ``readsb-json``,
  ``modes-csv``).
* :mod:`.decoder`: :class:`~.decoder.AdsbDecoder`, the stateful per-aircraft decoder (rs1090
  for the fields, own CPR, gating, TTL eviction) shared by the frame-based formats.
* :mod:`.cpr`: global and local CPR position decoding (and encoding).
* :mod:`.framing`: Beast, AVR, SBS-1 and modes-csv framing and field parsing.
* :mod:`.modes`: CRC-24, downlink format, emitter category, unit conversions.
* :mod:`.encode`: valid DF17 frames for simulators and tests.

An emitter category of ``"B6"`` marks an unmanned aerial vehicle: a drone, not a manned aircraft.
"""
