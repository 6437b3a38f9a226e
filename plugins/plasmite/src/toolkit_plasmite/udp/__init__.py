"""plasmite 1.2's UDP transport: datagram wire, SDK client, `serve --udp` listener (an adapter, like http/)."""
