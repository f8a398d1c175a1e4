"""adapters: the outer ring. Implementations of the runtime's ports: SQL/HTTP/Python data
back-ends, the demo brokerage back office, speech, SIP. Threads and wire protocols live here.
"""

if __name__ != "ivr.adapters":  # pragma: no cover - only reached by a wrong import
    raise ImportError(
        f"'{__name__}' is the folder of the package ivr.adapters: import it as 'ivr.adapters' "
        "(a second copy under another name would hold its own classes and state)"
    )
