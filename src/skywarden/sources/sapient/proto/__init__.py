"""SAPIENT BSI Flex 335 v2.0 .proto files and the Python bindings generated from them at build time.

The ``*_pb2.py`` modules below ``sapient_msg/`` are written by setup.py (``grpcio-tools``) when the
package is built or installed (``pip install .`` or ``pip install -e .``); they are not kept in the
repository. See README.md here for the source and licence of the .proto files.
"""
