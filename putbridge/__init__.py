"""putbridge: put.io inside your home media server."""

__version__ = "0.1.0"
