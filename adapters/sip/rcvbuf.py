"""A larger kernel receive buffer for pjsip's SIP UDP socket, and what waits in it.

Place: called once by `ivr.adapters.sip.pjthread` after the SIP transports are created.
pjsip leaves the OS default (about 208 KiB). Under churn (800 callers kept up, 200 new a
second) the pj thread fell behind, the kernel dropped 3,044 SIP datagrams on the server's
port, and among them 200 OKs to our BYEs: a call whose BYE is never answered keeps its
pjsua2 slot (and its place in `pjsua_call_get_count()`) until the BYE transaction times out,
32 s later, so pjsua2 ran out of slots and answered 486 Busy Here. With 8 MiB: no drop.

pjsua2 does not expose the socket: it is found among this process's descriptors by the
port it is bound to and set through a duplicate descriptor (closing the duplicate leaves
pjsip's socket open). `SO_RCVBUFFORCE` (root or CAP_NET_ADMIN) may pass
`net.core.rmem_max`; without the privilege `SO_RCVBUF` is capped by it.

A large buffer turns drops into waiting: SIP messages queue in the kernel while the pj
thread is behind on its input, even when the commands trio queues for it run at once (its
command lag stayed under 41 ms while 0.4 to 2.5 MB of SIP waited for 6 s, and INFOs were
answered late enough for callers to retransmit). `SipSockets` reads the bytes waiting
(`SO_MEMINFO`, one system call) for overload control (`ivr.adapters.hosting.overload`).
"""

from __future__ import annotations

import os
import socket
import struct

SO_RCVBUFFORCE = getattr(socket, "SO_RCVBUFFORCE", 33)  # Linux
SO_MEMINFO = getattr(socket, "SO_MEMINFO", 55)  # Linux: sk_meminfo, RMEM_ALLOC first
_MEMINFO = struct.Struct("9I")


class SipSockets:
    """Duplicates of this process's UDP sockets bound to the SIP port, found once and held
    until `close`: their receive buffers, and the bytes waiting in them. Any thread may read
    them."""

    def __init__(self, port: int) -> None:
        self._sockets = _udp_sockets_bound_to(port)

    def enlarge_receive_buffers(self, size: int) -> list[int]:
        """Ask for `size` bytes of receive buffer on each; the sizes in force afterwards."""
        for sock in self._sockets:
            try:
                sock.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, size)
            except OSError:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, size)
        return self.receive_buffers()

    def receive_buffers(self) -> list[int]:
        """Each socket's receive buffer (Linux reports twice what it grants: halved)."""
        return [sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF) // 2 for sock in self._sockets]

    def bytes_waiting(self) -> int:
        waiting = 0
        for sock in self._sockets:
            try:
                waiting += _MEMINFO.unpack(sock.getsockopt(socket.SOL_SOCKET, SO_MEMINFO, _MEMINFO.size))[0]
            except OSError:
                continue
        return waiting

    def close(self) -> None:
        for sock in self._sockets:
            sock.close()
        self._sockets = []


def _udp_sockets_bound_to(port: int) -> list[socket.socket]:
    """Duplicates of this process's UDP sockets bound to `port` (the caller closes them)."""
    found: list[socket.socket] = []
    for name in os.listdir("/proc/self/fd"):
        try:
            if not os.readlink(f"/proc/self/fd/{name}").startswith("socket:"):
                continue
            sock = socket.socket(fileno=os.dup(int(name)))
        except OSError:
            continue
        try:
            bound = sock.getsockname()
            if sock.type == socket.SOCK_DGRAM and isinstance(bound, tuple) and bound[1] == port:
                found.append(sock)
                continue
        except OSError:
            pass
        sock.close()
    return found
