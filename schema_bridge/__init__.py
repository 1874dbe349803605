"""schema_bridge: ContextChannels as strawberry types, subscription and query fields, served at /graphql."""
