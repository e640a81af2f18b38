"""Generated bindings of the SAPIENT BSI Flex 335 v2.0 messages (``sapient_message_pb2.SapientMessage``)."""
