"""editor: flow-author tooling on top of `ivr.flowlang` (never SIP)."""

if __name__ != "ivr.editor":  # pragma: no cover - only reached by a wrong import
    raise ImportError(
        f"'{__name__}' is the folder of the package ivr.editor: import it as 'ivr.editor' "
        "(a second copy under another name would hold its own classes and state)"
    )
