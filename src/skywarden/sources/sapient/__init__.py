"""SAPIENT (BSI Flex 335 v2.0) for a detection-only fusion node (DMM).

skywarden plays the DMM side of SAPIENT: sensor nodes (ASMs) connect over TCP, register, and send
status reports, detection reports and alerts, framed as ``uint32`` little-endian length + a
serialized ``SapientMessage``. Modules:

* :mod:`.bindings`: the protobuf classes generated at build time from the v2.0 .proto files;
* :mod:`.framing`: the length-prefix framing, incremental and capped;
* :mod:`.validate`: mandatory / ULID / UUID checks read from the protos' custom field options;
* :mod:`.messages`: message handling (registration, status, detection, alert) into records and
  acknowledgements;
* :mod:`.files`: :func:`~.files.read_sapient`, the ``sapient`` file format (framed binary or
  protobuf-JSON);
* :mod:`.node`: :class:`~.node.SapientStreamDecoder` for one TCP connection, and
  :func:`~.node.serve_sapient`, an asyncio TCP server for sensor connections.

See docs/sources/sapient.md for the field mapping.
"""
