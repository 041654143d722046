"""Tests decide: run the project's test command in a worktree and report what happened.

The command runs through the shell in a process group of its own, so a timeout or a cancellation stops every
process it started, including children that would outlive the shell. Output is merged, streamed line by line
and capped in memory.

The command runs code a model wrote, so it gets no secrets: every environment variable that holds one (its name
says so, ``*_API_KEY``, ``*_TOKEN``…, or the config names it as a model's ``api_key_env``) is left out of its
environment unless ``[agents] test_env_allow`` names it. Each line of its output is redacted as it arrives, so no
key in the output reaches the screen, the database or the model that is asked to fix the tests.
"""

from __future__ import annotations

import asyncio
import codecs
import contextlib
import os
import signal
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from string import Template
from typing import Any

from moot.core.storage.redact import is_secret_name, redact

from . import prompts

MAX_OUTPUT_CHARS = 1_000_000
"""At most this much output is kept (the end of it, which is where test runners put their summary)."""
_CHUNK = 65536
_POLL_S = 0.05
_DRAIN_S = 2.0
"""After the shell exits, how long its output may still take to arrive."""


@dataclass
class TestResult:
    """One run of the test command."""

    __test__ = False  # not a test class, whatever its name says

    command: str
    passed: bool
    exit_code: int | None
    """The shell's exit code; None when it was stopped (timeout) or could not start."""
    output: str
    """stdout and stderr merged, at most ``MAX_OUTPUT_CHARS`` (the end of it)."""
    output_tail: str
    """The last lines of the output."""
    timed_out: bool
    duration_s: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "command": self.command,
            "passed": self.passed,
            "exit_code": self.exit_code,
            "timed_out": self.timed_out,
            "duration_s": round(self.duration_s, 3),
            "output_tail": self.output_tail,
        }


class _Output:
    """Decodes chunks into lines, hands each to ``on_output`` and keeps the last ``MAX_OUTPUT_CHARS``."""

    def __init__(self, on_output: Callable[[str], None] | None):
        self.on_output = on_output
        self.decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self.partial = ""
        self.lines: deque[str] = deque()
        self.size = 0
        self.dropped = 0

    def feed(self, data: bytes, final: bool = False) -> None:
        text = self.partial + self.decoder.decode(data, final)
        *complete, self.partial = text.split("\n")
        if final and self.partial:
            complete.append(self.partial)
            self.partial = ""
        for line in complete:
            self.add(line.rstrip("\r"))

    def add(self, line: str) -> None:
        line = redact(line)
        self.lines.append(line)
        self.size += len(line) + 1
        while self.size > MAX_OUTPUT_CHARS and len(self.lines) > 1:
            gone = self.lines.popleft()
            self.size -= len(gone) + 1
            self.dropped += len(gone) + 1
        if self.on_output is not None:
            self.on_output(line)

    def text(self) -> str:
        body = "\n".join(self.lines)
        if self.dropped:
            body = f"[moot kept the last {MAX_OUTPUT_CHARS} characters; {self.dropped} before them were left out]\n" + body
        return body


def test_environment(allow: Iterable[str] = ()) -> dict[str, str]:
    """The environment the test command runs in: moot's own without any variable that holds a secret (see the
    module), except those named in ``allow``."""
    allowed = set(allow)
    env = {k: v for k, v in os.environ.items() if k in allowed or not is_secret_name(k)}
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


test_environment.__test__ = False  # type: ignore[attr-defined]  # not a test, whatever its name says


def _kill_group(proc: asyncio.subprocess.Process) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)


async def run_tests(
    command: str,
    cwd: Path,
    timeout_s: float,
    *,
    on_output: Callable[[str], None] | None = None,
    tail_lines: int = 60,
    env_allow: Iterable[str] = (),
) -> TestResult:
    """Run ``command`` through the shell in ``cwd`` and report whether it passed (exit code 0 in time).

    Args:
        command: the shell command, e.g. ``pytest -q``.
        cwd: where to run it (the worktree).
        timeout_s: after this many seconds every process of the command is killed and the run fails.
        on_output: receives each line of output (without its newline) as it arrives.
        tail_lines: how many of the last lines go into ``output_tail``.
        env_allow: variables holding a secret that the command may see all the same (``[agents] test_env_allow``).

    Cancelling the call kills the command's processes too, then re-raises.
    """
    env = test_environment(env_allow)
    out = _Output(on_output)
    t0 = time.monotonic()
    try:
        proc = await asyncio.create_subprocess_shell(
            command,
            cwd=str(cwd),
            env=env,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            start_new_session=True,
        )
    except OSError as e:
        out.add(f"moot could not start the test command in {cwd}: {e}")
        return _result(command, out, None, False, time.monotonic() - t0, tail_lines)

    async def read() -> None:
        assert proc.stdout is not None
        while chunk := await proc.stdout.read(_CHUNK):
            out.feed(chunk)
        out.feed(b"", final=True)

    reader = asyncio.create_task(read())
    deadline = time.monotonic() + timeout_s
    timed_out = False
    try:
        # ``proc.wait()`` also waits for the pipe to close, which a leftover child can hold open for ever:
        # watch the shell's exit status instead
        while proc.returncode is None:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                timed_out = True
                break
            step = min(_POLL_S, remaining)
            if reader.done():
                await asyncio.sleep(step)
            else:
                await asyncio.wait({reader}, timeout=step)
            if reader.done() and not reader.cancelled() and (exc := reader.exception()) is not None:
                raise exc  # on_output failed
        # the shell is done (or out of time): stop whatever it left behind, which may hold the pipe open
        _kill_group(proc)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(reader), _DRAIN_S)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(proc.wait(), _DRAIN_S)
    except BaseException:  # cancelled, or on_output raised: leave no process behind
        _kill_group(proc)
        with contextlib.suppress(BaseException):
            await asyncio.wait_for(proc.wait(), _DRAIN_S)
        raise
    finally:
        if not reader.done():
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reader
    if timed_out:
        out.add(f"[moot stopped the test command after {timeout_s:g} s]")
    return _result(command, out, None if timed_out else proc.returncode, timed_out, time.monotonic() - t0, tail_lines)


def _result(
    command: str, out: _Output, exit_code: int | None, timed_out: bool, duration: float, tail_lines: int
) -> TestResult:
    output = out.text()
    tail = "\n".join(list(out.lines)[-tail_lines:]) if tail_lines > 0 else ""
    return TestResult(
        command=redact(command),
        passed=exit_code == 0 and not timed_out,
        exit_code=exit_code,
        output=output,
        output_tail=tail,
        timed_out=timed_out,
        duration_s=duration,
    )


def debug_prompt(result: TestResult, task_title: str) -> str:
    """The message that hands a failing test run to the task's model to fix."""
    if result.timed_out:
        outcome = f"it did not finish within the time limit ({result.duration_s:.0f} s) and was stopped"
    elif result.exit_code is None:
        outcome = "it could not be started"
    else:
        outcome = f"exit code {result.exit_code}"
    tail = redact(result.output_tail.strip()) or "(no output)"
    return Template(prompts.DEBUG_PROMPT).substitute(title=task_title, command=redact(result.command), outcome=outcome,
                                                     tail=tail)
