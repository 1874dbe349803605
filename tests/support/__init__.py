"""Helpers shared by the tests: a live server, a websocket client and a reference rebuilder."""
