"""flowlang: YAML flow text in, a checked and frozen `Flow` (or ranked diagnostics) out.

Pure and synchronous: no trio, no sockets, no threads. The runtime and the editor build on it.
"""
