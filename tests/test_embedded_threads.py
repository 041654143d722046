"""How many threads the embedded engine decodes and reads the prompt on (no model needed)."""

from __future__ import annotations

import os
import subprocess
import sys
import types
from pathlib import Path
from typing import Any

import pytest

from moot.core.providers import embedded
from moot.core.providers.embedded import RECHECK_S, THREADS_VARIABLE, EmbeddedBackend, thread_counts


def test_every_core_when_nothing_is_known_and_the_process_is_at_normal_priority() -> None:
    assert thread_counts(2, None) == (2, 2)
    assert thread_counts(8, None) == (8, 8)


def test_a_process_giving_way_decodes_on_one_core_fewer_and_reads_the_prompt_on_all() -> None:
    assert thread_counts(2, None, giving_way=True) == (1, 2)
    assert thread_counts(8, None, giving_way=True) == (7, 8)


def test_the_cores_others_keep_busy_are_left_to_them() -> None:
    assert thread_counts(2, 0.05) == (2, 2)  # the kernel's own work: within the slack
    assert thread_counts(2, 0.35) == (1, 2)  # the screen drawing: decode on one, read the prompt on both
    assert thread_counts(2, 1.6) == (1, 1)
    assert thread_counts(8, 2.5) == (5, 6)
    assert thread_counts(2, 9.0) == (1, 1)  # never fewer than one


def test_never_fewer_than_one_thread() -> None:
    assert thread_counts(1, None, giving_way=True) == (1, 1)
    assert thread_counts(0, None) == (1, 1)


@pytest.mark.parametrize(("setting", "expected"), [("1", (1, 1)), ("3", (3, 3)), ("1,2", (1, 2)),
                                                    (" 2 , 1 ", (2, 1))])
def test_the_setting_wins(setting: str, expected: tuple[int, int]) -> None:
    assert thread_counts(2, None, giving_way=True, setting=setting) == expected
    assert thread_counts(2, 1.5, setting=setting) == expected


@pytest.mark.parametrize("setting", ["", "0", "-1", "two", "1,2,3", "1,", "1,0", "1.5"])
def test_a_setting_that_is_not_one_or_two_positive_numbers_is_ignored(setting: str) -> None:
    assert thread_counts(4, None, giving_way=True, setting=setting) == (3, 4)
    assert thread_counts(4, None, setting=setting) == (4, 4)


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def test_the_counts_follow_what_other_programs_do(monkeypatch: pytest.MonkeyPatch) -> None:
    """Busy ticks of the allowed cores less the engine's own: other programs' share of a core, every RECHECK_S."""
    monkeypatch.delenv(THREADS_VARIABLE, raising=False)
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1}, raising=False)
    monkeypatch.setattr(os, "getpriority", lambda which, who: 0)
    monkeypatch.setattr(embedded, "_TICKS_PER_S", 100)
    clock = Clock()
    monkeypatch.setattr(embedded.time, "monotonic", clock)
    ticks = [(0, 0)]
    monkeypatch.setattr(embedded._Threads, "_ticks", lambda self: ticks[-1])
    threads = embedded._Threads()
    assert threads.counts == (2, 2)
    ticks.append((100, 90))  # one second: the engine used 0.9 of a core, others 0.1
    clock.t += 1
    assert threads.poll() is None  # within the slack: unchanged
    ticks.append((250, 180))  # others took 0.6 of a core
    clock.t += RECHECK_S / 2
    assert threads.poll() is None  # too soon to look again
    clock.t += 0.5
    assert threads.poll() == (1, 1)
    assert threads.counts == (1, 1)
    ticks.append((300, 230))  # others quiet again
    clock.t += 1
    assert threads.poll() == (2, 2)


def test_where_the_figures_cannot_be_read_the_counts_stay(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(THREADS_VARIABLE, raising=False)
    monkeypatch.setattr(embedded._Threads, "_ticks", lambda self: None)
    clock = Clock()
    monkeypatch.setattr(embedded.time, "monotonic", clock)
    threads = embedded._Threads()
    first = threads.counts
    clock.t += 10
    assert threads.poll() is None and threads.counts == first


def test_the_real_figures_are_read_on_this_system() -> None:
    if not Path("/proc/stat").exists():
        pytest.skip("no /proc here: the counts stay as chosen at start")
    busy, own = embedded._Threads()._ticks() or (None, None)
    assert busy is not None and own is not None and busy >= own >= 0


def test_a_lowered_priority_is_read_from_the_system() -> None:
    """A process that lowered its own priority (as the model worker does) gives way; one at normal priority does
    not. Run in fresh processes, since a priority once lowered cannot be raised again."""
    code = ("import os, sys; os.nice(int(sys.argv[1])); from moot.core.providers.embedded import _Threads; "
            "print(*_Threads().counts)")
    env = {k: v for k, v in os.environ.items() if k != THREADS_VARIABLE}
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    ours = os.getpriority(os.PRIO_PROCESS, 0)
    for nice in (0, 10):
        out = subprocess.run([sys.executable, "-c", code, str(nice)], env=env, capture_output=True, text=True,
                             check=True).stdout.split()
        giving_way = ours + nice > 0
        assert tuple(map(int, out)) == (max(1, cores - 1) if giving_way else cores, cores)


def test_the_engine_is_built_with_those_threads_and_changes_them_between_evaluations(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    built: list[dict[str, Any]] = []
    changed: list[tuple[Any, int, int]] = []
    evaluated: list[Any] = []

    class FakeLlama:
        def __init__(self, **kwargs: Any) -> None:
            built.append(kwargs)
            self._ctx = types.SimpleNamespace(ctx="the context")

        def eval(self, tokens: Any) -> None:
            evaluated.append(tokens)

        def close(self) -> None:
            pass

    fake = types.SimpleNamespace(Llama=FakeLlama, llama_set_n_threads=lambda ctx, d, p: changed.append((ctx, d, p)))
    monkeypatch.setitem(sys.modules, "llama_cpp", fake)
    monkeypatch.setenv(THREADS_VARIABLE, "1,2")
    backend = EmbeddedBackend()
    engine = backend._engine(tmp_path / "model.gguf", 512)
    assert built[0]["n_threads"] == 1 and built[0]["n_threads_batch"] == 2
    assert built[0]["n_ctx"] == 512
    engine.llm.eval([1, 2])
    assert evaluated == [[1, 2]] and not changed  # fixed by the setting: never changed
    monkeypatch.setattr(engine.llm.threads, "poll", lambda: (1, 1))
    engine.llm.eval([3])
    assert changed == [("the context", 1, 1)] and evaluated[-1] == [3]
    backend._close_engines()
