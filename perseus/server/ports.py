"""Is the port ``perseus serve`` is about to listen on free? Asked before granian starts.

granian listens with ``SO_REUSEPORT``, so a second server on a port already served would
start without a word and the kernel would split the connections between the two (two
builds of a site answering at random). A probe bound without ``SO_REUSEPORT`` fails on a
port anyone listens on, with or without it; ``SO_REUSEADDR`` keeps the connections of a
server that just stopped (``TIME_WAIT``) from counting.
"""

from __future__ import annotations

import errno
import socket


def port_in_use(host: str, port: int) -> bool:
    """Whether something listens on ``port`` of ``host`` (an IPv4 or IPv6 address or a name,
    probed as granian binds it: its first address)."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)[0]
    except socket.gaierror:
        return False  # granian reports the bad address itself
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except OSError as error:
            return error.errno == errno.EADDRINUSE  # others (a privileged port...) are granian's to report
    return False


def port_in_use_message(host: str, port: int) -> str:
    """What to tell the user when ``port_in_use``."""
    return (f"port {port} on {host} is already in use (another server listens on it): stop that server,"
            " or serve on another port with --port or PERSEUS_PORT; to hand the port over to this"
            " server in a rolling restart, start it with --reuse-port (PERSEUS_REUSE_PORT=1), then"
            " stop the old one")
