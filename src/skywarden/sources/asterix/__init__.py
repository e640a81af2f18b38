"""EUROCONTROL ASTERIX: CAT048 monoradar plots, CAT062 system tracks and CAT034 service messages.

``files.read_asterix`` reads raw data blocks or pcap/pcapng captures (format ``asterix``),
``files.AsterixStreamDecoder`` decodes live UDP datagrams. ``uap`` holds the record structure per
category edition, ``items`` the field decoders. User documentation: docs/sources/asterix.md.
"""
