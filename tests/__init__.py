"""Test suite of rxgraphql, run against the example project on PostgreSQL."""
