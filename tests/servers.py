"""Small TCP servers on the loopback interface that misbehave on purpose.

Each runs ``handle(connection, server)`` for every client, in a thread, and
stops by itself within SERVER_PATIENCE seconds, so a test never hangs on one.
"""

import socket
import threading

# Upper bound on how long a server here keeps a connection going.
SERVER_PATIENCE = 5.0


class RawServer:
    """A loopback TCP server running ``handle(connection, server)`` per client."""

    def __init__(self, handle, *, host="127.0.0.1", port=0):
        self.handle = handle
        self.listener = socket.create_server((host, port))
        self.listener.settimeout(0.05)
        self.port = self.listener.getsockname()[1]
        self.stopping = threading.Event()
        self.finished = threading.Event()
        self.connections = 0
        self.requests = []
        self.sent = 0
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def url(self, path="/", host="127.0.0.1"):
        return f"http://{host}:{self.port}{path}"

    def _accept(self):
        while not self.stopping.is_set():
            try:
                connection, _ = self.listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._run, args=(connection,), daemon=True).start()

    def _run(self, connection):
        with connection:
            connection.settimeout(SERVER_PATIENCE)
            try:
                self.requests.append(read_head(connection))
                self.handle(connection, self)
            except OSError:
                pass
            finally:
                self.finished.set()

    def send(self, connection, data):
        connection.sendall(data)
        self.sent += len(data)

    def close(self):
        self.stopping.set()
        self.listener.close()
        self.thread.join(2)


def read_head(connection):
    """Read a request up to the end of its headers."""
    head = b""
    while b"\r\n\r\n" not in head and len(head) < 65536:
        chunk = connection.recv(4096)
        if not chunk:
            break
        head += chunk
    return head


def trickle(seconds_between, first=b""):
    """Return a handler that sends ``first``, then one byte at a time."""

    def handle(connection, server):
        server.send(connection, first)
        for _ in range(int(SERVER_PATIENCE / seconds_between)):
            if server.stopping.wait(seconds_between):
                return
            server.send(connection, b"a")

    return handle


def closed_port():
    with socket.create_server(("127.0.0.1", 0)) as listener:
        return listener.getsockname()[1]
