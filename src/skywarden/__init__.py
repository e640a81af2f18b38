"""skywarden: one live, trustworthy air picture and timely alerts on unauthorised drones.

The pipeline flows one way: ``sources`` -> ``fusion`` -> ``zones`` -> ``alerts`` -> ``store``.
See docs/architecture.md.
"""

__version__ = "0.1.0"
