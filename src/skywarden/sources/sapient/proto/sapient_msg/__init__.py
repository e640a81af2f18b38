"""Generated bindings of ``sapient_msg/proto_options.proto`` (the custom validation field options)."""
