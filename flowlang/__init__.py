"""flowlang: YAML flow text in, a checked and frozen `Flow` (or ranked diagnostics) out.

Pure and synchronous: no trio, no sockets, no threads. The runtime and the editor build on it.
"""

if __name__ != "ivr.flowlang":  # pragma: no cover - only reached by a wrong import
    raise ImportError(
        f"'{__name__}' is the folder of the package ivr.flowlang: import it as 'ivr.flowlang' "
        "(a second copy under another name would hold its own classes and state)"
    )
