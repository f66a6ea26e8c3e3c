"""Turn files into :class:`schema.protocol.Protocol` objects."""
