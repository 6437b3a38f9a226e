"""gRPC adapters."""
