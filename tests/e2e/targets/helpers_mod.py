"""Second module of the e2e target: parking places reached through another file.

Imported by threads_target.py, so frames from here carry this file's co_filename.
Keep every parking call on one line of its own: the truth records f_lineno, and the
tests compare it exactly. Python 3.8+ syntax only.
"""

import time


def snooze(seconds):
    """Park the calling thread in time.sleep, two calls down."""
    return _doze(seconds)


def _doze(seconds):
    time.sleep(seconds)


class SocketReader(object):
    """Reads from one end of a socketpair whose other end never writes."""

    def __init__(self, sock):
        self.sock = sock

    def read_message(self):
        header = self._recv_exact(1)
        return header

    def _recv_exact(self, n):
        data = self.sock.recv(n)
        return data
