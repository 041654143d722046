"""The discussion engine: models that answer each other in rounds.

``open`` asks every participant the question in parallel; each later round (``next_round``, ``discuss``)
hands every participant the transcript so far, labelled by speaker (in ``sequential`` mode they speak one after
another, each also seeing the earlier speakers of the same round); ``mention`` asks only the named models, and
their answers join the transcript everyone sees next; ``conclude`` has the judge write the outcome.

A participant that fails shows its error in that round, the others carry on, and it is asked again next round.
Cancelling a round (the interface cancels the task that awaits it) keeps the answers already finished. Before
each ask the prompt is counted exactly; when it would pass the smallest participant's window, the earlier
rounds are condensed into a digest (stored, never larger than what it replaces) instead of being cut.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from moot.core.calls import CallContext, CallResult, run_call
from moot.core.config.models import Config, ModelConfig
from moot.core.providers.base import Message, Params
from moot.core.storage import Store
from moot.core.tokens import count_messages, count_tokens

from . import prompts
from . import store as stored
from .events import (
    Digested,
    DigestFailed,
    Digesting,
    DiscussionEvent,
    RoundDone,
    RoundStarted,
    Speaking,
    Spoke,
)
from .model import USER, Digest, Discussion, Kind, Round, Said, Status

EventSink = Callable[[DiscussionEvent], None]

#: The window assumed for a hosted model the client's model map does not know.
HOSTED_WINDOW = 128_000
#: The window assumed for a local model that does not say its own (the embedded engine's and Ollama's default).
LOCAL_WINDOW = 4096


class DiscussionError(Exception):
    """A discussion cannot do what was asked (an unknown name, no participant, nothing to conclude)."""


@dataclass(frozen=True)
class Limits:
    """How long the answers may be."""

    words: int = 200
    """Asked of each participant, per answer."""
    reply_tokens: int = 512
    """The cap on each answer; counted as reserved when the prompt is fitted to a window."""
    judge_words: int = 350
    judge_tokens: int = 900
    digest_words: int = 250


def window(model: ModelConfig) -> int:
    """The context window ``model`` is counted against."""
    if model.num_ctx:
        return model.num_ctx
    if model.is_local:
        return LOCAL_WINDOW
    from moot.core.providers.context_sizes import hosted_window

    return hosted_window(model.model) or HOSTED_WINDOW


class DiscussionEngine:
    """Runs one discussion; every change is stored as it happens and published to ``on_event``."""

    def __init__(self, config: Config, store: Store | None, discussion: Discussion, *,
                 judge: ModelConfig | None = None, on_event: EventSink | None = None, limits: Limits = Limits()):
        self.config = config
        self.store = store
        self.d = discussion
        self.judge = judge
        self.on_event = on_event or (lambda ev: None)
        self.limits = limits

    @classmethod
    def start(cls, config: Config, store: Store | None, discussion: Discussion, *, project_dir: str | None = None,
              **kw: object) -> DiscussionEngine:
        """A new discussion, recorded at once (so it is in the history even before its first answer)."""
        if not discussion.participants:
            raise DiscussionError("a discussion needs at least one participant")
        for alias in discussion.participants:
            _lookup(config, alias)
        if store is not None:
            stored.create(store, discussion, project_dir=project_dir)
        return cls(config, store, discussion, **kw)  # type: ignore[arg-type]

    # ------------------------------------------------------------------------------------------ rounds

    async def open(self) -> Round:
        """Every participant's first answer to the question, in parallel."""
        return await self._round(Kind.OPEN, list(self.d.participants))

    async def next_round(self) -> Round:
        """One more round: every participant answers the transcript so far."""
        kind = Kind.OPEN if not any(r.kind != Kind.CONCLUSION for r in self.d.rounds) else Kind.ROUND
        return await self._round(kind, list(self.d.participants))

    async def discuss(self, rounds: int) -> list[Round]:
        return [await self.next_round() for _ in range(rounds)]

    async def mention(self, names: Sequence[str], text: str) -> Round:
        """Ask only ``names`` (models from the config; one not yet taking part joins the discussion)."""
        unknown = [n for n in names if self.config.model(n.partition(":")[0]) is None]
        if unknown or not names:
            raise DiscussionError(f"unknown model {', '.join(unknown) or '(none named)'} "
                                  f"(known: {', '.join(self.config.aliases)})")
        joined = [n for n in dict.fromkeys(names) if n not in self.d.participants]
        if joined:
            self.d.participants += joined
            if self.store is not None:
                stored.set_participants(self.store, self.d.id, self.d.participants)
        return await self._round(Kind.MENTION, list(dict.fromkeys(names)), user_text=text)

    async def conclude(self) -> Said:
        """The judge's outcome: what is agreed, what is disputed, and a recommendation."""
        if not any(m.heard for r in self.d.rounds for m in r.messages if m.speaker != USER):
            raise DiscussionError("nothing to conclude yet: no participant has answered")
        judge = self.judge or _lookup(self.config, self.d.participants[0])
        r = Round(self.d.next_n, Kind.CONCLUSION, [Said(judge.name, model=judge.model, status=Status.QUEUED)])
        self.d.rounds.append(r)
        messages = prompts.conclusion_messages(self.d, words=self.limits.judge_words)
        self._emit(RoundStarted(r.n, r.kind, (judge.name,)))
        try:
            said = await self._call(r, judge.name, judge, messages, self.limits.judge_tokens, phase="conclude")
            if said.heard:
                self.d.conclusion = said
        finally:
            self._settle(r)
        return said

    async def _round(self, kind: Kind, speakers: list[str], user_text: str | None = None) -> Round:
        r = Round(self.d.next_n, kind)
        if user_text is not None:
            r.messages.append(Said(USER, text=user_text))
        for alias in speakers:
            r.messages.append(Said(alias, model=_lookup(self.config, alias).model, status=Status.QUEUED))
        self.d.rounds.append(r)
        self._status("running")
        self._emit(RoundStarted(r.n, kind, tuple(speakers)))
        try:
            if self.d.sequential and kind != Kind.MENTION:
                for alias in speakers:
                    await self._ask(r, alias)
            else:
                await self._fit(r, speakers)
                await asyncio.gather(*(self._ask(r, alias, fitted=True) for alias in speakers))
        finally:
            self._settle(r)
        return r

    def _settle(self, r: Round) -> None:
        """The round is over (finished or cancelled): what did not finish is cancelled, and all is stored."""
        for m in r.messages:
            if not m.status.finished:
                m.status = Status.CANCELLED
        cancelled = any(m.status == Status.CANCELLED for m in r.messages)
        if self.store is not None:
            stored.save_round(self.store, self.d.id, r)
        concluded = r.kind == Kind.CONCLUSION and all(m.heard for m in r.messages)
        self._status("done" if concluded else "open")
        self._emit(RoundDone(r, cancelled=cancelled))

    async def _ask(self, r: Round, alias: str, *, fitted: bool = False) -> None:
        model = _lookup(self.config, alias)
        if not fitted:
            await self._fit(r, [alias])
        messages = prompts.participant_messages(self.d, alias, r, words=self.limits.words)
        await self._call(r, alias, model, messages, self.limits.reply_tokens, phase="discuss")

    async def _call(self, r: Round, speaker: str, model: ModelConfig, messages: list[Message], max_tokens: int,
                    *, phase: str) -> Said:
        said = r.by(speaker)
        assert said is not None
        said.prompt, said.status = messages, Status.STREAMING

        def forward(event: object) -> None:
            self._emit(Speaking(r.n, speaker, event))  # type: ignore[arg-type]

        ctx = CallContext(store=self.store, run_id=self.d.id, phase=phase, label=f"round {r.n} · {speaker}")
        params = Params(max_tokens=min(max_tokens, model.max_tokens), role=phase)
        try:
            result = await run_call(model, messages, params, ctx=ctx, on_event=forward)
        except asyncio.CancelledError:
            said.status = Status.CANCELLED
            self._emit(Spoke(r.n, said))
            raise
        except Exception as e:  # a fault of one participant never ends the round for the others
            said.status, said.error = Status.FAILED, f"{type(e).__name__}: {e}"
        else:
            _take(said, result)
        self._emit(Spoke(r.n, said))
        return said

    # ------------------------------------------------------------------------------------------ budget

    async def _fit(self, r: Round, speakers: Sequence[str]) -> None:
        """Condense the earlier rounds when the prompt of any of ``speakers`` would pass its window."""
        over = None
        for alias in speakers:
            model = _lookup(self.config, alias)
            need = (count_messages(prompts.participant_messages(self.d, alias, r, words=self.limits.words),  # type: ignore[arg-type]
                                   model.model) + min(self.limits.reply_tokens, model.max_tokens))
            if need > window(model) and (over is None or window(model) < over[1]):
                over = (need, window(model))
        earlier = [x for x in self.d.transcript_rounds() if x is not r]
        if over is None or not earlier:
            return
        await self._digest(earlier, window=over[1])

    async def _digest(self, rounds: list[Round], *, window: int) -> None:
        previous = self.d.digest.text if self.d.digest else None
        source = "\n\n".join([*([previous] if previous else []), *(prompts.render_round(x) for x in rounds)])
        model = self.judge or _lookup(self.config, self.d.participants[0])
        source_tokens = count_tokens(source, model.model)
        upto = rounds[-1].n
        self._emit(Digesting(upto, source_tokens, window))
        words = max(40, min(self.limits.digest_words, source_tokens // 3))
        messages = prompts.digest_messages(rounds, previous, words=words)
        ctx = CallContext(store=self.store, run_id=self.d.id, phase="distill", label=f"rounds 1-{upto}")
        try:
            result = await run_call(model, messages, Params(max_tokens=min(2 * words, model.max_tokens),
                                                              role="distill"), ctx=ctx)
        except asyncio.CancelledError:
            raise
        except Exception as e:
            self._emit(DigestFailed(f"{type(e).__name__}: {e}"))
            return
        text = result.text.strip()
        if not result.ok or not text:
            why = f"{result.error.kind}: {result.error.message}" if result.error else "an empty answer"
            self._emit(DigestFailed(f"{model.name} could not condense rounds 1-{upto}: {why}"))
            return
        text = _at_most(text, source_tokens - 1, model.model)
        digest = Digest(upto, text, source_tokens, count_tokens(text, model.model), model.name)
        self.d.digest = digest
        if self.store is not None:
            stored.save_digest(self.store, self.d.id, digest)
        self._emit(Digested(digest))

    # ------------------------------------------------------------------------------------------ plumbing

    def _emit(self, event: DiscussionEvent) -> None:
        self.on_event(event)

    def _status(self, status: str) -> None:
        if self.store is None:
            return
        result = None
        if status == "done" and self.d.conclusion is not None:
            result = {"conclusion": self.d.conclusion.text}
        stored.set_status(self.store, self.d.id, status, result)


def _lookup(config: Config, speaker: str) -> ModelConfig:
    """The model of ``speaker``: a model's alias, or ``alias:variant`` (one model speaking from the perspective of
    one of its prompt variants, so that a single model can hold a roundtable)."""
    model = config.model(speaker.partition(":")[0])
    if model is None:
        raise DiscussionError(f"unknown model {speaker!r} (known: {', '.join(config.aliases)})")
    return model


def participants_of(proposers: Sequence[tuple[ModelConfig, str]]) -> list[str]:
    """The speakers for a strategy's proposers (model, variant): each model's alias, or ``alias:variant`` where
    one model proposes under several variants; each once."""
    variants: dict[str, set[str]] = {}
    for model, variant in proposers:
        variants.setdefault(model.name, set()).add(variant)
    names = [f"{model.name}:{variant}" if len(variants[model.name]) > 1 else model.name
             for model, variant in proposers]
    return list(dict.fromkeys(names))


def _take(said: Said, result: CallResult) -> None:
    said.text = result.text
    said.prompt_tokens = result.usage.prompt_tokens
    said.completion_tokens = result.usage.completion_tokens
    said.cost_usd = result.cost_usd
    said.latency_s = result.latency_s
    said.call_id = result.call_id
    if result.perf is not None and result.perf.eval_rate:
        said.tokens_per_s = result.perf.eval_rate
    elif result.latency_s and result.usage.completion_tokens:
        said.tokens_per_s = result.usage.completion_tokens / max(result.latency_s - (result.ttft_s or 0.0), 1e-3)
    if result.cancelled:
        said.status = Status.CANCELLED
    elif result.error is not None:
        said.status, said.error = Status.FAILED, f"{result.error.kind}: {result.error.message}"
    else:
        said.status = Status.DONE


def _at_most(text: str, tokens: int, model: str) -> str:
    """``text`` cut to at most ``tokens`` tokens (a digest is never larger than what it replaces)."""
    if tokens <= 0:
        return ""
    while count_tokens(text, model) > tokens:
        text = text[: max(0, int(len(text) * 0.9) - 1)].rstrip()
    return text
