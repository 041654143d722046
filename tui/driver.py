"""The terminal driver: Textual's own, with an input thread that stops at once.

Textual's input thread waits for keys a tenth of a second at a time and looks for the exit only in between, then
waits one more tenth for input still on its way; leaving the workbench (ctrl+q, or suspending it) waited 0.1-0.2 s
for that thread alone. Here the thread also watches a pipe that is written when input is disabled, so it ends as
soon as it is told to, and its last look for input does not wait. Everything else is Textual's.
"""

from __future__ import annotations

import os
import selectors
from codecs import getincrementaldecoder

from textual._parser import ParseError
from textual._xterm_parser import XTermParser
from textual.drivers.linux_driver import LinuxDriver


class WorkbenchDriver(LinuxDriver):
    _wake: tuple[int, int] | None = None
    """The pipe that ends the input thread: (read end, write end), while the thread may run."""

    def start_application_mode(self) -> None:
        self._wake = os.pipe()
        super().start_application_mode()

    def disable_input(self) -> None:
        wake = self._wake
        if wake is not None:
            os.write(wake[1], b"\0")
        super().disable_input()  # stops the mouse reports, sets the exit event and waits for the thread
        if wake is not None and not (self._key_thread is not None and self._key_thread.is_alive()):
            self._wake = None
            for fd in wake:
                os.close(fd)

    def run_input_thread(self) -> None:
        """Textual's loop (as of 8.2.8), plus the wake pipe."""
        assert self._wake is not None
        wake = self._wake[0]
        selector = selectors.SelectSelector()
        selector.register(self.fileno, selectors.EVENT_READ)
        selector.register(wake, selectors.EVENT_READ)
        parser = XTermParser(self._debug)
        decode = getincrementaldecoder("utf-8")().decode

        def process(readable: bool, final: bool = False) -> None:
            if readable and (text := decode(os.read(self.fileno, 1024 * 4), final=final)):
                for event in parser.feed(text):
                    self.process_message(event)
            for event in parser.tick():
                self.process_message(event)

        try:
            while not self.exit_event.is_set():
                ready = {key.fd for key, _ in selector.select(0.1)}
                if wake in ready:
                    break
                process(self.fileno in ready)
            selector.unregister(wake)
            process(bool(selector.select(0)), final=True)  # what has already arrived, without waiting
        finally:
            selector.close()
            try:
                for _event in parser.feed(""):
                    pass
            except (EOFError, ParseError):
                pass
