"""An ``inspector`` command run as a child process, its output handed over line by line.

Training and comparing take minutes and a lot of memory; in a child process
they cannot freeze the window or slow the line's threads, and a crash there is
an exit code here. Cancel sends SIGINT first (the command line's own clean
cancel path: nothing is written), and kills only if the child does not stop
within :data:`KILL_AFTER_MS`.
"""

from __future__ import annotations

import os
import signal
import sys

from PySide6.QtCore import QObject, QProcess, QTimer, Signal

from inspector.training.launch import inspector_command

KILL_AFTER_MS = 30_000
"""How long a cancelled child may take to stop cleanly before it is killed."""


class CliProcess(QObject):
    """Runs one ``inspector`` command at a time.

    Signals:
        stdout_line: A line the command wrote on stdout (without the newline).
        stderr_line: A line it wrote on stderr.
        finished: Its exit code, and whether it ended normally (``False``: crashed or killed).
    """

    stdout_line = Signal(str)
    stderr_line = Signal(str)
    finished = Signal(int, bool)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._process = QProcess(self)
        self._process.readyReadStandardOutput.connect(self._read_stdout)
        self._process.readyReadStandardError.connect(self._read_stderr)
        self._process.finished.connect(self._finished)
        self._process.errorOccurred.connect(self._failed_to_start)
        self._buffers = {"out": b"", "err": b""}
        self._kill_timer = QTimer(self)
        self._kill_timer.setSingleShot(True)
        self._kill_timer.timeout.connect(self._process.kill)
        self.cancelled = False

    @property
    def running(self) -> bool:
        """Whether a command is running now."""
        return self._process.state() != QProcess.ProcessState.NotRunning

    def start(self, arguments: list[str]) -> None:
        """Start ``inspector ARGUMENTS``.

        Raises:
            RuntimeError: a command is already running (wait for it or cancel it).
        """
        if self.running:
            msg = "a command is already running: wait for it to end or cancel it first"
            raise RuntimeError(msg)
        self.cancelled = False
        self._buffers = {"out": b"", "err": b""}
        program, *first = inspector_command()
        self._process.start(program, [*first, *arguments])

    def cancel(self) -> None:
        """Ask the command to stop cleanly (SIGINT); kill it if it has not stopped in time."""
        if not self.running:
            return
        self.cancelled = True
        pid = self._process.processId()
        if sys.platform != "win32" and pid > 0:
            os.kill(pid, signal.SIGINT)
        else:
            self._process.terminate()
        self._kill_timer.start(KILL_AFTER_MS)

    def wait(self, msecs: int) -> bool:
        """Block until the command ends (for closing the window); ``False`` on timeout."""
        return not self.running or self._process.waitForFinished(msecs)

    def _read_stdout(self) -> None:
        self._emit("out", bytes(self._process.readAllStandardOutput().data()))

    def _read_stderr(self) -> None:
        self._emit("err", bytes(self._process.readAllStandardError().data()))

    def _emit(self, channel: str, data: bytes, *, flush: bool = False) -> None:
        *lines, rest = (self._buffers[channel] + data).split(b"\n")
        if flush and rest:
            lines.append(rest)
            rest = b""
        self._buffers[channel] = rest
        signal_ = self.stdout_line if channel == "out" else self.stderr_line
        for line in lines:
            # Progress bars end lines with carriage returns; the last state is the one to show.
            text = line.decode("utf-8", errors="replace").rstrip("\r").rpartition("\r")[2]
            signal_.emit(text)

    def _finished(self, code: int, status: QProcess.ExitStatus) -> None:
        self._kill_timer.stop()
        # The diagnostics first: a command's closing summary (stdout) comes after them.
        self._read_stderr()
        self._emit("err", b"", flush=True)
        self._read_stdout()
        self._emit("out", b"", flush=True)
        self.finished.emit(code, status == QProcess.ExitStatus.NormalExit)

    def _failed_to_start(self, error: QProcess.ProcessError) -> None:
        if error is QProcess.ProcessError.FailedToStart:
            program = " ".join(inspector_command())
            self.stderr_line.emit(
                f"error: could not start {program}: {self._process.errorString()}"
            )
            self.finished.emit(-1, False)
