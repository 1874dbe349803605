"""Benchmark suite of rxgraphql: run it with ``.venv/bin/python -m bench`` (see ``bench/__main__.py``)."""
