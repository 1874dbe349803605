"""Chat app: rooms whose participants, messages and authors stream live to subscribers."""
