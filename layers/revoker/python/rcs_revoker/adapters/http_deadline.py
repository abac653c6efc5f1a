"""Ends an HTTP exchange at a deadline, whatever the server does: the connection pool classes of the Vonage client.

Hand-written because urllib3 times each socket read, not the whole answer: its connect and read timeouts, and
even `Timeout(total=...)`, start again at every read, so a server that dribbles its answer (a byte or a header
line every two seconds) never lets one expire and keeps the call alive long past the Lambda's deadline. urllib3
has no timeout for a whole exchange, so each attempt runs under a `DeadlineWatchdog`: a timer armed for the
deadline that holds the socket the attempt uses (the connection classes here hand it to the calling thread's
watchdog as soon as they open it, before the TLS handshake, or when they send a request on a kept-alive one)
and, when the deadline passes, shuts it down (every watchdog of the container is timed by one thread,
`_DeadlineClock`). Whatever blocks on it (the handshake, sending, the status line,
the headers, the body) returns at once, the attempt fails, and the connection is closed instead of returned
to the pool. Everything is per thread and per attempt: the bulk worker calls Vonage from several threads over
one pool, each with its own deadline.
"""

import contextlib
import heapq
import itertools
import math
import socket
import threading
import time
from types import TracebackType
from typing import TYPE_CHECKING, Any, Final, Self

from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

if TYPE_CHECKING:
    from urllib3._base_connection import BaseHTTPConnection

# The watchdog of the attempt the current thread is making, if any.
_current: Final = threading.local()
# Past this many entries (most of them attempts long over, waiting for their deadline to pass), the clock drops
# the attempts that are over: a worker making thousands of calls in one invocation keeps a small heap.
_PRUNE_AT: Final = 1024


class _DeadlineClock:
    """Fires each armed watchdog at its deadline, from one thread for the whole container. Measured (Python
    3.13, one core): a threading.Timer per attempt cost 120 us of CPU (a thread started, then ended), about a
    fortieth of a warm revocation's CPU; arming this clock costs a heap push, and wakes its thread only when the
    new deadline comes before the one it waits for (rarely: each request's deadline is later than the last)."""

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._armed: list[tuple[float, int, DeadlineWatchdog]] = []
        self._order = itertools.count()  # ties in deadline never compare watchdogs
        self._waits_until = math.inf
        self._thread: threading.Thread | None = None

    def arm(self, deadline: float, watchdog: "DeadlineWatchdog") -> None:
        with self._changed:
            if len(self._armed) >= _PRUNE_AT:
                self._armed = [entry for entry in self._armed if not entry[2].over]
                heapq.heapify(self._armed)
            heapq.heappush(self._armed, (deadline, next(self._order), watchdog))
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="http-deadline", daemon=True)
                self._thread.start()
            elif deadline < self._waits_until:
                self._changed.notify()

    def _run(self) -> None:
        while True:
            with self._changed:
                due = self._next_due()
            due._fire()  # outside the clock's lock: it takes the watchdog's

    def _next_due(self) -> "DeadlineWatchdog":
        while True:
            while self._armed and self._armed[0][2].over:
                heapq.heappop(self._armed)
            now = time.monotonic()
            if self._armed and self._armed[0][0] <= now:
                return heapq.heappop(self._armed)[2]
            self._waits_until = self._armed[0][0] if self._armed else math.inf
            self._changed.wait(None if not self._armed else self._waits_until - now)
            self._waits_until = math.inf


_clock: Final = _DeadlineClock()


class DeadlineWatchdog:
    """One attempt (``with DeadlineWatchdog(deadline) as watchdog: pool.request(...)``), ended at ``deadline``
    (a time.monotonic() value). Afterwards ``fired`` tells whether the deadline ended it: then whatever the
    attempt returned or raised is void (an answer cut short can even look complete: headers cut by the
    hang-up end like headers that were all sent)."""

    def __init__(self, deadline: float) -> None:
        self._deadline = deadline
        self._lock = threading.Lock()
        # The watchdog's own duplicate of the attempt's socket (a second descriptor of it): shutting it down
        # ends the exchange on the original too, and it cannot be closed and its number reused by another
        # thread's socket meanwhile. (Nor does http.client's letting go of the socket once the headers of a
        # `Connection: close` answer are in matter: the body is still read from the same socket.)
        self._socket: socket.socket | None = None
        self._fired = False
        # The attempt is over (its answer read in full and its connection back to the pool, or the `with` left):
        # a timer that fires now must not touch the socket, which may already serve another thread.
        self._over = False

    @property
    def fired(self) -> bool:
        return self._fired

    @property
    def over(self) -> bool:
        """The attempt is over: its deadline no longer matters."""
        return self._over

    def __enter__(self) -> Self:
        _current.watchdog = self
        _clock.arm(self._deadline, self)
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        _current.watchdog = None
        with self._lock:
            self._end()

    def watch(self, connection: "WatchedHTTPConnection", sock: socket.socket | None, *, opened: bool) -> None:
        """``connection`` carries this attempt, over ``sock`` (just ``opened``, or the one it keeps alive);
        shut down at once if the deadline has already passed."""
        with self._lock:
            if self._over:
                return
            connection.watchdog = self
            if sock is not None and (opened or self._socket is None):
                self._close_socket()
                self._socket = _duplicate(sock)
            if self._fired and self._socket is not None:
                _shut_down(self._socket)

    def release(self, connection: "WatchedHTTPConnection") -> bool:
        """The attempt is done with ``connection`` (its pool takes it back): True if it may be reused, False
        if the watchdog hung up on it."""
        with self._lock:
            connection.watchdog = None
            if self._fired:
                return False
            self._end()
            return True

    def _fire(self) -> None:
        with self._lock:
            if self._over:
                return
            self._fired = True
            if self._socket is not None:
                _shut_down(self._socket)

    def _end(self) -> None:
        self._over = True
        self._close_socket()

    def _close_socket(self) -> None:
        if self._socket is not None:
            self._socket.close()  # the duplicate only: the connection's own socket stays open
            self._socket = None


def _duplicate(sock: socket.socket) -> socket.socket | None:
    """A plain socket on a new descriptor of ``sock``'s connection (also for a TLS socket, which cannot dup)."""
    try:
        return socket.fromfd(sock.fileno(), sock.family, sock.type)
    except OSError:  # closed already: nothing left to shut down
        return None


def _shut_down(sock: socket.socket) -> None:
    """Makes whatever blocks on the connection (connect, handshake, send, read) return at once and fail: a
    shutdown acts on the connection itself, whichever of its descriptors it is called on."""
    with contextlib.suppress(OSError):  # the peer already closed it
        sock.shutdown(socket.SHUT_RDWR)


class WatchedHTTPConnection(HTTPConnection):
    """Hands its socket to the calling thread's watchdog before any blocking step on it."""

    watchdog: DeadlineWatchdog | None = None

    def _new_conn(self) -> socket.socket:
        # Connected, not yet TLS-wrapped: from here on the watchdog can end the handshake too. (The TCP connect
        # itself is bounded by the connect timeout, never longer than the time left.)
        sock = super()._new_conn()
        self._watch(sock, opened=True)
        return sock

    def request(self, *args: Any, **kwargs: Any) -> None:
        self._watch(self.sock, opened=False)  # None for a new plain-HTTP connection: it opens in the request
        super().request(*args, **kwargs)

    def release_from_watchdog(self) -> bool:
        """Called as the pool takes the connection back: False if the watchdog hung up on it."""
        watchdog = self.watchdog
        return watchdog is None or watchdog.release(self)

    def _watch(self, sock: socket.socket | None, *, opened: bool) -> None:
        watchdog: DeadlineWatchdog | None = getattr(_current, "watchdog", None)
        if watchdog is not None:
            watchdog.watch(self, sock, opened=opened)


class WatchedHTTPSConnection(WatchedHTTPConnection, HTTPSConnection):
    pass


def _kept(connection: "BaseHTTPConnection | None") -> "BaseHTTPConnection | None":
    """What the pool takes back: the connection, or nothing if the watchdog hung up on it (closed, so that its
    socket, shut down mid-answer, is never reused; the pool gets its slot back empty, as urllib3 itself does
    for a connection that failed)."""
    if isinstance(connection, WatchedHTTPConnection) and not connection.release_from_watchdog():
        connection.close()
        return None
    return connection


class WatchedHTTPConnectionPool(HTTPConnectionPool):
    ConnectionCls = WatchedHTTPConnection

    def _put_conn(self, conn: "BaseHTTPConnection | None") -> None:
        super()._put_conn(_kept(conn))


class WatchedHTTPSConnectionPool(HTTPSConnectionPool):
    ConnectionCls = WatchedHTTPSConnection

    def _put_conn(self, conn: "BaseHTTPConnection | None") -> None:
        super()._put_conn(_kept(conn))


# For urllib3.PoolManager's pool_classes_by_scheme.
WATCHED_POOL_CLASSES: Final[dict[str, type[HTTPConnectionPool]]] = {
    "http": WatchedHTTPConnectionPool,
    "https": WatchedHTTPSConnectionPool,
}
