"""runtime: the trio call engine. It runs compiled flows, one task per call, and talks to
the world only through the ports in `ivr.runtime.ports`; it never imports `ivr.adapters`.
"""

if __name__ != "ivr.runtime":  # pragma: no cover - only reached by a wrong import
    raise ImportError(
        f"'{__name__}' is the folder of the package ivr.runtime: import it as 'ivr.runtime' "
        "(a second copy under another name would hold its own classes and state)"
    )
