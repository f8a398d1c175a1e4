"""runtime: the trio call engine. It runs compiled flows, one task per call, and talks to
the world only through the ports in `ivr.runtime.ports`; it never imports `ivr.adapters`.
"""
