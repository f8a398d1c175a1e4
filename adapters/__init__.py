"""adapters: the outer ring. Implementations of the runtime's ports: SQL/HTTP/Python data
back-ends, the demo brokerage back office, speech, SIP. Threads and wire protocols live here.
"""
