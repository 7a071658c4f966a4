"""putbridge's HTTP face: the web API, the put.io callback and the stream links.

The Flask app factory arrives with the library and intake work; the core (``putbridge``) never
imports this package.
"""
