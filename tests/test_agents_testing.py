"""Running the test command: pass, fail, timeout and cancellation killing every process, output handling."""

from __future__ import annotations

import asyncio
import os
import shlex
import sys
import time
from pathlib import Path

import pytest

from moot.agents import testing
from moot.agents.testing import TestResult, debug_prompt, run_tests

PY = shlex.quote(sys.executable)


def gone(pid: int, within_s: float = 3.0) -> bool:
    """Whether process ``pid`` has ended (a zombie waiting for its reaper counts as ended)."""
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except (FileNotFoundError, IndexError):
            return True
        if state in ("Z", "X"):
            return True
        time.sleep(0.02)
    return False


async def test_passing_command(tmp_path: Path) -> None:
    (tmp_path / "marker.txt").write_text("here")
    lines: list[str] = []
    result = await run_tests("cat marker.txt; echo; echo second", tmp_path, 10, on_output=lines.append)
    assert result.passed and result.exit_code == 0 and not result.timed_out
    assert lines == ["here", "second"]
    assert result.output == "here\nsecond"
    assert result.duration_s < 5
    assert result.to_dict() == {"command": "cat marker.txt; echo; echo second", "passed": True, "exit_code": 0,
                                "timed_out": False, "duration_s": round(result.duration_s, 3),
                                "output_tail": "here\nsecond"}


async def test_failing_command_merges_stderr(tmp_path: Path) -> None:
    result = await run_tests("echo out; echo err >&2; exit 3", tmp_path, 10)
    assert not result.passed and result.exit_code == 3 and not result.timed_out
    assert result.output.splitlines() == ["out", "err"]


async def test_missing_command_fails(tmp_path: Path) -> None:
    result = await run_tests("definitely-not-a-command-here", tmp_path, 10)
    assert not result.passed and result.exit_code == 127
    assert "not found" in result.output


async def test_missing_directory_fails_clearly(tmp_path: Path) -> None:
    result = await run_tests("true", tmp_path / "nope", 10)
    assert not result.passed and result.exit_code is None and not result.timed_out
    assert result.output.startswith(f"moot could not start the test command in {tmp_path / 'nope'}")


async def test_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MOOT_TEST_MARKER", "kept")
    monkeypatch.delenv("PYTHONDONTWRITEBYTECODE", raising=False)
    result = await run_tests('echo "$PYTHONDONTWRITEBYTECODE $MOOT_TEST_MARKER"; pwd', tmp_path, 10)
    assert result.output.splitlines() == ["1 kept", str(tmp_path.resolve())]


async def test_timeout_kills_the_whole_group(tmp_path: Path) -> None:
    t0 = time.monotonic()
    result = await run_tests("sleep 30 & echo $! > bg.pid; echo started; sleep 30", tmp_path, 0.5)
    assert time.monotonic() - t0 < 5
    assert result.timed_out and not result.passed and result.exit_code is None
    assert result.output.splitlines() == ["started", "[moot stopped the test command after 0.5 s]"]
    assert gone(int((tmp_path / "bg.pid").read_text()))


async def test_a_child_holding_the_pipe_does_not_hang_a_finished_run(tmp_path: Path) -> None:
    t0 = time.monotonic()
    result = await run_tests("sleep 30 & echo $! > bg.pid; echo done", tmp_path, 20)
    assert time.monotonic() - t0 < 5
    assert result.passed and result.exit_code == 0 and not result.timed_out
    assert result.output == "done"
    assert gone(int((tmp_path / "bg.pid").read_text()))


async def test_cancellation_kills_the_whole_group(tmp_path: Path) -> None:
    task = asyncio.create_task(run_tests("sleep 30 & echo $! > bg.pid; sleep 30", tmp_path, 60))
    pid_file = tmp_path / "bg.pid"
    for _ in range(250):
        if pid_file.exists() and pid_file.read_text().strip():
            break
        await asyncio.sleep(0.02)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert gone(int(pid_file.read_text()))


async def test_output_tail_and_streamed_lines(tmp_path: Path) -> None:
    lines: list[str] = []
    result = await run_tests("for i in $(seq 1 100); do echo line $i; done; printf 'no newline'", tmp_path, 10,
                             on_output=lines.append, tail_lines=5)
    assert lines == [f"line {i}" for i in range(1, 101)] + ["no newline"]
    assert result.output_tail == "\n".join([f"line {i}" for i in range(97, 101)] + ["no newline"])
    assert result.output.count("\n") == 100


async def test_output_is_capped_keeping_the_end(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(testing, "MAX_OUTPUT_CHARS", 10_000)
    command = f"{PY} -c \"[print(f'{{i:05d}}' + 'x' * 95) for i in range(2000)]\""
    result = await run_tests(command, tmp_path, 20, tail_lines=2)
    assert result.passed
    assert len(result.output) < 10_200
    first, *rest = result.output.splitlines()
    assert first.startswith("[moot kept the last 10000 characters;")
    assert rest[-1].startswith("01999") and rest[0].startswith("019")
    assert result.output_tail.splitlines()[0].startswith("01998")


async def test_the_real_cap_is_about_a_megabyte(tmp_path: Path) -> None:
    command = f"{PY} -c \"import sys; sys.stdout.write(('y' * 1023 + chr(10)) * 1500)\""
    result = await run_tests(command, tmp_path, 20)
    assert result.passed
    assert 900_000 < len(result.output) <= testing.MAX_OUTPUT_CHARS + 200


async def test_on_output_errors_stop_the_command(tmp_path: Path) -> None:
    def boom(line: str) -> None:
        raise RuntimeError(f"cannot show {line}")

    with pytest.raises(RuntimeError, match="cannot show first"):
        await run_tests("echo first; sleep 30 & echo $! > bg.pid; wait", tmp_path, 30, on_output=boom)


def test_debug_prompt() -> None:
    failed = TestResult("pytest -q", False, 1, "lots\nE assert 1 == 2\n1 failed", "E assert 1 == 2\n1 failed",
                        False, 2.0)
    text = debug_prompt(failed, "Add the flag")
    assert '"Add the flag"' in text
    assert "Command: pytest -q" in text and "exit code 1" in text
    assert "```\nE assert 1 == 2\n1 failed\n```" in text
    assert "lots" not in text  # only the tail is handed over
    slow = TestResult("pytest", False, None, "", "", True, 600.0)
    assert "did not finish within the time limit (600 s)" in debug_prompt(slow, "x")
    assert "(no output)" in debug_prompt(slow, "x")


# ------------------------------------------------------------------------------------- keys stay outside

FAKE_KEY = "sk-test-0123456789abcdefABCDEF"
ODD_KEY = "zz-cred-9f8e7d6c5b4a3210"
"""A key in a variable whose name does not say it holds one; known as a secret only once registered."""


@pytest.fixture
def keys(monkeypatch: pytest.MonkeyPatch):
    import importlib

    redaction = importlib.import_module("moot.core.storage.redact")
    monkeypatch.setenv("OPENAI_API_KEY", FAKE_KEY)
    monkeypatch.setenv("SOME_SERVICE_TOKEN", "tok-aaaaaaaaaaaaaaaa")
    monkeypatch.setenv("MY_LLM_CRED", ODD_KEY)
    monkeypatch.setenv("MOOT_TEST_MARKER", "kept")
    monkeypatch.setattr(redaction, "_EXTRA_NAMES", {"MY_LLM_CRED"})


@pytest.mark.hostile
async def test_tests_run_without_keys(tmp_path: Path, keys) -> None:
    result = await run_tests("env", tmp_path, 10)
    names = {line.split("=", 1)[0] for line in result.output.splitlines()}
    assert {"OPENAI_API_KEY", "SOME_SERVICE_TOKEN", "MY_LLM_CRED"}.isdisjoint(names)
    assert {"MOOT_TEST_MARKER", "PATH", "HOME"} <= names  # the rest of the environment is there
    assert FAKE_KEY not in result.output and ODD_KEY not in result.output


@pytest.mark.hostile
async def test_an_allowed_variable_reaches_the_tests(tmp_path: Path, keys) -> None:
    result = await run_tests('echo "${#SOME_SERVICE_TOKEN} [$SOME_SERVICE_TOKEN]"; echo "[$OPENAI_API_KEY]"',
                             tmp_path, 10, env_allow=["SOME_SERVICE_TOKEN"])
    assert result.output.splitlines() == ["20 [[redacted]]", "[]"]  # it is there, and its output still redacted


@pytest.mark.hostile
async def test_test_output_is_redacted_everywhere(tmp_path: Path, keys) -> None:
    (tmp_path / "leak.txt").write_text(f"key {FAKE_KEY}\nodd {ODD_KEY}\nBearer abcdefghijklmnopqrstuvwxyz\n")
    seen: list[str] = []
    result = await run_tests(f"cat leak.txt; echo {ODD_KEY}; exit 1", tmp_path, 10, on_output=seen.append)
    for text in (result.output, result.output_tail, "\n".join(seen), str(result.to_dict()),
                 debug_prompt(result, "t")):
        assert FAKE_KEY not in text and ODD_KEY not in text and "abcdefghijklmnop" not in text
        assert "[redacted]" in text
