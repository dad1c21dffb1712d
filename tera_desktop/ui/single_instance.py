"""A second launch raises the running window instead of showing an error.

The instance lock (core/instance.py) decides who runs. The running app also listens on a local
socket (QLocalServer: a Unix socket, or a named pipe on Windows) named after its data folder; a
second launch that finds the lock taken connects to it and asks the first to come to the front,
then exits. The socket carries one fixed word each way and nothing else: no paths, no arguments,
so another local program can at most make Tera's window come to the front.
"""

from __future__ import annotations

import getpass
import hashlib
import logging

from PySide6.QtCore import QObject, Signal, Slot
from PySide6.QtNetwork import QLocalServer, QLocalSocket

from tera_desktop.core.paths import Paths

log = logging.getLogger("tera.instance")

RAISE = b"raise\n"
OK = b"ok\n"


def server_name(paths: Paths) -> str:
    """The socket's name: one per user and data folder, short enough for a Unix socket path."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no user name in a container
        user = "user"
    key = f"{user}\0{paths.data.resolve()}".encode("utf-8", "surrogateescape")
    return f"tera-desktop-{hashlib.sha256(key).hexdigest()[:16]}"


class InstanceServer(QObject):
    """Listens for "raise" requests from later launches; ``activated`` fires for each."""

    activated = Signal()

    def __init__(self, paths: Paths, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.name = server_name(paths)
        self._server = QLocalServer(self)
        self._server.setSocketOptions(QLocalServer.SocketOption.UserAccessOption)
        # We hold the instance lock, so a socket file left by a crashed run is stale: remove it.
        QLocalServer.removeServer(self.name)
        if not self._server.listen(self.name):
            log.warning("cannot listen for other launches: %s", self._server.errorString())
        self._server.newConnection.connect(self._on_new_connection)

    @property
    def listening(self) -> bool:
        return self._server.isListening()

    def close(self) -> None:
        self._server.close()

    @Slot()
    def _on_new_connection(self) -> None:
        while (socket := self._server.nextPendingConnection()) is not None:
            socket.readyRead.connect(self._on_ready_read)
            socket.disconnected.connect(socket.deleteLater)
            if socket.bytesAvailable():
                self._answer(socket)

    @Slot()
    def _on_ready_read(self) -> None:
        socket = self.sender()
        if isinstance(socket, QLocalSocket):
            self._answer(socket)

    def _answer(self, socket: QLocalSocket) -> None:
        if not socket.canReadLine():
            if socket.bytesAvailable() > 64:  # not our client
                socket.abort()
            return
        line = bytes(socket.readLine(64).data())
        if line == RAISE:
            socket.write(OK)
            socket.flush()
            self.activated.emit()
        socket.disconnectFromServer()


def ask_running_to_raise(paths: Paths, timeout_ms: int = 3000) -> bool:
    """Ask the Tera already running on ``paths`` to show its window. True if it answered."""
    socket = QLocalSocket()
    socket.connectToServer(server_name(paths))
    if not socket.waitForConnected(timeout_ms):
        return False
    socket.write(RAISE)
    if not socket.waitForBytesWritten(timeout_ms):
        return False
    answered = socket.canReadLine() or socket.waitForReadyRead(timeout_ms)
    ok = answered and bytes(socket.readLine(64).data()) == OK
    socket.abort()
    return ok
