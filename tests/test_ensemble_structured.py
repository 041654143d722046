"""Peer rankings and the judge's sections asked for with their JSON schema: the schemas, reading the answers
(whole or cut short), the streaming JSON-to-Markdown transducer, and what the engine sends and shows.

A scripted model served as a local engine stands in for the engines that decode under a schema; the Ollama
stand-in shows what goes over the wire; the real embedded model shows the schemas hold for a small model.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from moot.core.calls import run_call
from moot.core.config import ModelConfig, load_config
from moot.core.ensemble import Ensemble, PlanOptions
from moot.core.ensemble.engine import Progress
from moot.core.ensemble.judge import STRING_LIMIT, JsonToMarkdown, judge_schema, parse_synthesis
from moot.core.ensemble.prompts import rank_messages
from moot.core.ensemble.ranking import PERMUTED_UP_TO, parse_ranking, ranking_schema
from moot.core.events import TextDelta
from moot.core.providers import builtin
from moot.core.providers.base import Params, close_backends, register_backend
from moot.core.providers.embedded import engine_installed, shipped_model_path
from moot.core.storage import Store
from scripted import ScriptedBackend
from standins.ollama_server import OllamaStandIn

FAST = Params(backoff_s=0.001)
JUDGE_JSON = {
    "plan": "1. Add a `--verbose` flag.\n2. Test it.",
    "consensus": ["Plans A and B change `cli.py`.", "Both add a test."],
    "divergent_approaches": ["Plan A uses argparse, Plan B uses click."],
    "resolution_rationale": "Argparse is already a dependency.",
    "unique_insights": ["Plan B documents the flag."],
}
JUDGE_MARKDOWN = """## Plan

1. Add a `--verbose` flag.
2. Test it.

## Consensus

- Plans A and B change `cli.py`.
- Both add a test.

## Divergent approaches

- Plan A uses argparse, Plan B uses click.

## Resolution rationale

Argparse is already a dependency.

## Unique insights

- Plan B documents the flag.
"""


def markdown_of(*pieces: str) -> str:
    md = JsonToMarkdown()
    return "".join(md.feed(p) for p in pieces) + md.finish()


def every_schema() -> dict[str, dict]:
    return {
        "judge": judge_schema(),
        "judge, shaped": judge_schema(plan_chars=600, item_chars=120, items=3, rationale_chars=300),
        "judge, past the limit": judge_schema(plan_chars=50_000, item_chars=5_000, items=20, rationale_chars=9_000),
        **{f"ballot of {n}": ranking_schema("ABCDEFGH"[:n]) for n in (2, 3, PERMUTED_UP_TO, PERMUTED_UP_TO + 1, 7)},
    }


# ------------------------------------------------------------------------------------------------ schemas


def test_schemas_are_json_schemas_that_accept_their_answers() -> None:
    jsonschema = pytest.importorskip("jsonschema", reason="jsonschema is not installed")
    for name, schema in every_schema().items():
        jsonschema.Draft202012Validator.check_schema(schema)
        assert schema["additionalProperties"] is False, name
    jsonschema.validate(JUDGE_JSON, judge_schema())
    jsonschema.validate({"ranking": "C > A", "comments": {"A": "fine", "C": "better"}}, ranking_schema("AC"))
    jsonschema.validate({"ranking": list("FEDCBA"), "comments": dict.fromkeys("ABCDEF", "")}, ranking_schema("ABCDEF"))
    with pytest.raises(jsonschema.ValidationError):  # a label twice is no ordering
        jsonschema.validate({"ranking": "A > A > B", "comments": dict.fromkeys("ABC", "")}, ranking_schema("ABC"))


def test_judge_schema_bounds() -> None:
    shaped = judge_schema(plan_chars=600, item_chars=120, items=3, rationale_chars=300)["properties"]
    assert shaped["plan"] == {"type": "string", "minLength": 1, "maxLength": 600}
    assert shaped["consensus"] == {"type": "array", "items": {"type": "string", "maxLength": 120}, "maxItems": 3}
    assert shaped["resolution_rationale"]["maxLength"] == 300
    assert "maxLength" not in judge_schema()["properties"]["plan"]  # by default the token cap bounds the plan
    huge = judge_schema(plan_chars=50_000, item_chars=5_000, rationale_chars=9_000)["properties"]
    assert huge["plan"]["maxLength"] == huge["resolution_rationale"]["maxLength"] == STRING_LIMIT
    assert huge["consensus"]["items"]["maxLength"] == STRING_LIMIT
    assert list(judge_schema()["properties"]) == ["plan", "consensus", "divergent_approaches",
                                                  "resolution_rationale", "unique_insights"]


def test_ballot_schema_lists_every_ordering_of_few_plans() -> None:
    three = ranking_schema("ABC")
    orders = three["properties"]["ranking"]["enum"]
    assert len(orders) == len(set(orders)) == 6 and "B > C > A" in orders
    for order in orders:  # every answer the schema allows is a whole ranking
        assert parse_ranking(json.dumps({"ranking": order, "comments": {}}), "ABC") == order.split(" > ")
    assert list(three["required"]) == ["ranking", "comments"]  # the ranking first: a cut answer still has it
    assert three["properties"]["comments"]["required"] == ["A", "B", "C"]
    many = ranking_schema("ABCDEF")["properties"]["ranking"]
    assert many["type"] == "array" and many["items"]["enum"] == list("ABCDEF")
    assert many["minItems"] == many["maxItems"] == 6


def test_llama_cpp_converts_the_schemas() -> None:
    llama_cpp = pytest.importorskip("llama_cpp", reason="the embedded engine is not installed (moot[local])")
    for name, schema in every_schema().items():
        grammar = llama_cpp.LlamaGrammar.from_json_schema(json.dumps(schema), verbose=False)
        assert "root ::=" in grammar._grammar, name


@pytest.mark.skipif(not (engine_installed() and shipped_model_path()), reason="the embedded model is not installed")
def test_llama_cpp_parses_the_schemas_grammars() -> None:
    """Conversion alone proves little: llama.cpp parses the grammar when a call starts, and a grammar it refuses
    takes the process down. Its own parser (with the shipped model's vocabulary) accepts every schema here,
    and refuses one string bound past ``STRING_LIMIT``: the reason the schema lowers them."""
    import llama_cpp

    llm = llama_cpp.Llama(model_path=str(shipped_model_path()), vocab_only=True, verbose=False)

    def parses(schema: dict) -> bool:
        grammar = llama_cpp.LlamaGrammar.from_json_schema(json.dumps(schema), verbose=False)
        sampler = llama_cpp.llama_sampler_init_grammar(llm._model.vocab, grammar._grammar.encode(), b"root")
        if not sampler:
            return False
        llama_cpp.llama_sampler_free(sampler)
        return True

    try:
        for name, schema in every_schema().items():
            assert parses(schema), name
        past = {"type": "object", "properties": {"plan": {"type": "string", "maxLength": STRING_LIMIT + 1}}}
        assert not parses(past)
    finally:
        llm.close()


# ------------------------------------------------------------------------------------------- ballots read


def test_parse_json_ballots() -> None:
    whole = '{"ranking": "C > A > B", "comments": {"A": "fine", "B": "vague", "C": "tests first"}}'
    assert parse_ranking(whole, "ABC") == ["C", "A", "B"]
    assert parse_ranking('{"ranking": ["C", "A", "C", "B"], "comments": {}}', "ABC") == ["C", "A", "B"]
    assert parse_ranking('```json\n{"ranking": "B > A", "comments": {}}\n```', "AB") == ["B", "A"]
    assert parse_ranking('{"ranking": "Plan B > Plan A", "comments": {}}', "AB") == ["B", "A"]


def test_parse_json_ballots_cut_short() -> None:
    assert parse_ranking('{"ranking": "C > A > B", "comments": {"A": "fi', "ABC") == ["C", "A", "B"]
    assert parse_ranking('{"ranking": "C > A', "ABC") == ["C", "A", "B"]  # the one left out comes last
    assert parse_ranking('{"ranking": "C >', "ABC") is None  # one plan named is no ranking
    assert parse_ranking('{"comments": {"A": "Plan B is better', "AB") is None  # no ranking yet
    assert parse_ranking('{"rank', "AB") is None


def test_text_ballots_still_read() -> None:
    assert parse_ranking("Plan B is best.\nRANKING: B > A > C", "ABC") == ["B", "A", "C"]
    assert parse_ranking("I prefer Plan C, then Plan A.", "AC") == ["C", "A"]


def test_ranking_prompt_asks_for_json_only_when_decoded() -> None:
    plans = [("A", "plan a"), ("C", "plan c")]
    as_json = rank_messages("task", plans, as_json=True)[-1]["content"]
    assert '"ranking": "A > C"' in as_json and "RANKING:" not in as_json
    assert "RANKING: A > C" in rank_messages("task", plans)[-1]["content"]


# ------------------------------------------------------------------------------------------ the transducer


def test_json_to_markdown_writes_the_markdown_sections() -> None:
    assert markdown_of(json.dumps(JUDGE_JSON)) == JUDGE_MARKDOWN
    assert markdown_of(json.dumps(JUDGE_JSON, indent=2)) == JUDGE_MARKDOWN
    s = parse_synthesis(JUDGE_MARKDOWN)
    assert s.plan == JUDGE_JSON["plan"] and s.consensus == JUDGE_JSON["consensus"]
    assert s.divergence == JUDGE_JSON["divergent_approaches"] and s.resolution == JUDGE_JSON["resolution_rationale"]
    assert s.unique_insights == JUDGE_JSON["unique_insights"]


def test_json_to_markdown_any_order_and_unknown_keys() -> None:
    doc = ('{"notes": {"plan": "not this", "x": ["nor this"]}, "unique_insights": ["C caches."], "score": 7, '
           '"plan": "Do it.", "extra": [1, true, null, {"consensus": "no"}], "consensus": []}')
    assert markdown_of(doc) == "## Unique insights\n\n- C caches.\n\n## Plan\n\nDo it.\n\n## Consensus\n\n"


def test_json_to_markdown_trims_and_indents() -> None:
    doc = {"plan": "  \n1. One\n   - detail\n\n2. Two \n ", "consensus": ["  ", "first line\nsecond line", ""],
           "resolution_rationale": ""}
    assert markdown_of(json.dumps(doc)) == (
        "## Plan\n\n1. One\n   - detail\n\n2. Two\n\n## Consensus\n\n- first line\n  second line\n\n"
        "## Resolution rationale\n\n"
    )
    # a point's later lines stay in its bullet when the Markdown is read back
    assert parse_synthesis(markdown_of(json.dumps(doc))).consensus == ["first line second line"]


def test_json_to_markdown_cut_short() -> None:
    assert markdown_of('{"plan": "Step one", "consensus": ["A and B') == (
        "## Plan\n\nStep one\n\n## Consensus\n\n- A and B\n")
    assert markdown_of('{"plan": "Step one", "conse') == "## Plan\n\nStep one\n"  # a cut key is dropped
    assert markdown_of('{"plan": "Step one\\') == "## Plan\n\nStep one\n"  # and a cut escape
    assert markdown_of('{"plan": "x\\u00') == "## Plan\n\nx\n"
    assert markdown_of("") == markdown_of("{") == ""
    md = JsonToMarkdown()
    md.feed('{"plan": "a')
    assert md.finish() == "\n" and md.finish() == "" and md.text == "## Plan\n\na\n"


def test_json_to_markdown_decodes_escapes_split_anywhere() -> None:
    doc = r'{"plan": "caf\u00e9 \ud83d\ude00 \"quoted\" back\\slash\ttab\/ \u2014 end"}'
    expected = '## Plan\n\ncafé 😀 "quoted" back\\slash\ttab/ — end\n'
    assert markdown_of(doc) == expected
    assert markdown_of(*doc) == expected  # one character at a time
    for cut in range(len(doc)):
        assert markdown_of(doc[:cut], doc[cut:]) == expected
    assert markdown_of(r'{"plan": "a\ud83d b"}') == "## Plan\n\na\ufffd b\n"  # a lone surrogate
    assert markdown_of(r'{"consensus": ["\u0041", "\u00"]}') == "## Consensus\n\n- A\n- \\u00\n"


_TEXT = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=40)
_VALUE = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | _TEXT,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_TEXT, inner, max_size=3),
    max_leaves=12,
)
_KEY = st.sampled_from(["plan", "consensus", "divergent_approaches", "resolution_rationale", "unique_insights",
                        "divergence", "notes"]) | _TEXT


@given(doc=st.dictionaries(_KEY, _VALUE, max_size=6), ascii_only=st.booleans(), indent=st.sampled_from([None, 1]),
       data=st.data())
def test_json_to_markdown_does_not_depend_on_the_split(doc, ascii_only, indent, data) -> None:
    text = json.dumps(doc, ensure_ascii=ascii_only, indent=indent)
    text = text[: data.draw(st.integers(0, len(text)), label="cut")]  # whole, or cut short anywhere
    cuts = sorted(data.draw(st.lists(st.integers(0, len(text)), max_size=8), label="splits"))
    pieces = [text[a:b] for a, b in zip([0, *cuts], [*cuts, len(text)], strict=True)]
    assert markdown_of(*pieces) == markdown_of(text)


_POINT = st.from_regex(r"[A-Za-z][A-Za-z0-9 ,.()`]{0,30}[A-Za-z0-9.)`]", fullmatch=True).filter(
    lambda s: s.lower().strip(". ") not in ("none", "n/a"))


@given(plan=st.lists(_POINT, min_size=1, max_size=4), consensus=st.lists(_POINT, max_size=3),
       divergence=st.lists(_POINT, max_size=3), resolution=_POINT, insights=st.lists(_POINT, max_size=3))
def test_json_sections_read_back_from_their_markdown(plan, consensus, divergence, resolution, insights) -> None:
    steps = "\n".join(f"{i}. {p}" for i, p in enumerate(plan, 1))
    doc = {"plan": steps, "consensus": consensus, "divergent_approaches": divergence,
           "resolution_rationale": resolution, "unique_insights": insights}
    s = parse_synthesis(markdown_of(json.dumps(doc)))
    assert (s.plan, s.consensus, s.divergence, s.resolution, s.unique_insights) == (
        steps, [c.strip() for c in consensus], [d.strip() for d in divergence], resolution.strip(),
        [i.strip() for i in insights])


# ------------------------------------------------------------------------------------------- the engine

LOCAL_CONFIG = """
[[models]]
name = "alpha"
model = "{kind}/alpha"

[[models]]
name = "beta"
model = "{kind}/beta"

[[models]]
name = "gamma"
model = "{kind}/gamma"

[[models]]
name = "tiny"
model = "local/tiny"

[roles]
judge = "{judge}"
"""


@pytest.fixture
def local_scripted():
    """A scripted backend serving ``local/…`` models, so they count as engines that decode under a schema."""
    backend = ScriptedBackend()
    register_backend("local", lambda: backend)
    try:
        yield backend
    finally:
        register_backend("local", builtin.FACTORIES["local"])


@pytest.fixture
def store():
    s = Store()
    yield s
    s.close()


def load(tmp_path: Path, user_config, kind: str = "scripted", judge: str = "tiny"):
    user_config(LOCAL_CONFIG.format(kind=kind, judge=judge))
    return load_config(tmp_path)


async def plan(loaded, store, usable=("alpha", "beta", "gamma"), params: Params = FAST, **opts):
    seen: list[Progress] = []
    ens = Ensemble(loaded, store, list(usable), on_progress=seen.append)
    result = await ens.plan("add a --verbose flag", PlanOptions(params=params, **opts))
    judge_text = [p.event.text for p in seen if p.phase == "judge" and isinstance(p.event, TextDelta)]
    return result, judge_text


async def test_local_judge_is_asked_for_json_and_streams_markdown(
    tmp_path, user_config, scripted, local_scripted, store
) -> None:
    for name in ("alpha", "beta", "gamma"):
        scripted.enqueue(name, f"plan by {name}")
    raw = json.dumps(JUDGE_JSON)
    local_scripted.enqueue("tiny", raw)
    result, streamed = await plan(load(tmp_path, user_config), store)

    name, messages, params = local_scripted.calls[-1]
    assert name == "tiny" and params.schema == judge_schema()
    assert '"divergent_approaches"' in messages[-1]["content"] and "## Consensus" not in messages[-1]["content"]
    # what the workbench and the CLI receive is Markdown, one event per piece of the answer
    assert "".join(streamed) == JUDGE_MARKDOWN
    assert len(streamed) == len(raw.split(" ")) and not any("{" in t or '"plan"' in t for t in streamed)
    assert result.synthesis is not None and result.synthesis.text == JUDGE_MARKDOWN
    assert result.plan == JUDGE_JSON["plan"] and result.synthesis.consensus == JUDGE_JSON["consensus"]
    assert result.synthesis.divergence == JUDGE_JSON["divergent_approaches"]
    # the call itself is kept as the model wrote it
    assert result.judge is not None and result.judge.text == raw
    [judge_row] = [r for r in store.calls(result.run_id) if r["phase"] == "judge"]
    assert judge_row["reply"] == raw


async def test_local_judge_cut_short_still_gives_a_synthesis(
    tmp_path, user_config, scripted, local_scripted, store
) -> None:
    for name in ("alpha", "beta", "gamma"):
        scripted.enqueue(name, f"plan by {name}")
    raw = json.dumps(JUDGE_JSON)
    cut = raw[: raw.index("click") + 2]  # the token cap stopped it inside the divergences
    local_scripted.enqueue("tiny", cut)
    result, streamed = await plan(load(tmp_path, user_config), store)
    assert result.synthesis is not None and result.plan == JUDGE_JSON["plan"]
    assert result.synthesis.divergence == ["Plan A uses argparse, Plan B uses cl"]
    assert result.synthesis.resolution == "" and result.synthesis.unique_insights == []
    assert "".join(streamed) == result.synthesis.text and result.synthesis.text.endswith("- Plan A uses "
                                                                                          "argparse, Plan B uses cl\n")


async def test_hosted_judge_keeps_markdown_and_no_schema(tmp_path, user_config, scripted, store) -> None:
    for name in ("alpha", "beta", "gamma"):
        scripted.enqueue(name, f"plan by {name}")
    scripted.enqueue("alpha", JUDGE_MARKDOWN)
    result, streamed = await plan(load(tmp_path, user_config, judge="alpha"), store)
    _, messages, params = scripted.calls[-1]
    assert params.schema is None and "## Divergent approaches" in messages[-1]["content"]
    assert "".join(streamed) == JUDGE_MARKDOWN and result.synthesis is not None
    assert result.synthesis.text == result.judge.text == JUDGE_MARKDOWN


async def test_local_rankers_send_json_ballots_under_their_schema(
    tmp_path, user_config, local_scripted, store
) -> None:
    for name in ("alpha", "beta", "gamma"):
        local_scripted.enqueue(name, f"plan by {name}")
    for name in ("alpha", "beta", "gamma"):  # every ranker's ballot is cut off by the token cap in its comments
        local_scripted.enqueue(name, '{"ranking": "C > B > A", "comments": {"')
    local_scripted.enqueue("tiny", json.dumps(JUDGE_JSON))
    result, _ = await plan(load(tmp_path, user_config, kind="local"), store, rank=True)

    rank_calls = [c for c in local_scripted.calls if '"ranking"' in c[1][-1]["content"]]
    assert len(rank_calls) == 3
    for _, messages, params in rank_calls:
        assert "RANKING:" not in messages[-1]["content"]
        shown = [line[len("=== Plan "):-len(" ===")] for line in messages[-1]["content"].splitlines()
                 if line.startswith("=== Plan ")]
        assert params.schema == ranking_schema(shown)
    assert result.ranking is not None and not result.ranking.notes
    # each ballot is read without the voter's own plan: A gives C > B, B gives C > A, C gives B > A
    assert result.ranking.order == ["C", "B", "A"] and result.ranking.scores == {"A": 0, "B": 1, "C": 2}


async def test_hosted_rankers_keep_the_text_prompt_but_get_the_schema(
    tmp_path, user_config, scripted, local_scripted, store
) -> None:
    for name in ("alpha", "beta", "gamma"):
        scripted.enqueue(name, f"plan by {name}")
        scripted.default[name] = "RANKING: A > B > C"
    local_scripted.enqueue("tiny", json.dumps(JUDGE_JSON))
    result, _ = await plan(load(tmp_path, user_config), store, rank=True)
    rank_calls = [c for c in scripted.calls if "RANKING:" in c[1][-1]["content"]]
    assert len(rank_calls) == 3 and all(c[2].schema is not None for c in rank_calls)
    assert all(set(c[2].schema["properties"]["comments"]["required"]) < set("ABC") for c in rank_calls)
    assert result.ranking is not None and result.ranking.order[0] == "A"


async def test_ollama_judge_sends_the_schema_as_format(tmp_path, user_config, scripted, store) -> None:
    raw = json.dumps(JUDGE_JSON)
    pieces = [raw[i:i + 7] for i in range(0, len(raw), 7)]  # pieces that split words, keys and escapes
    with OllamaStandIn() as server:
        server.add_model("judge:1b", pieces=pieces)
        user_config(LOCAL_CONFIG.format(kind="scripted", judge="ojudge")
                    + f'\n[[models]]\nname = "ojudge"\nmodel = "ollama/judge:1b"\napi_base = "{server.url}"\n')
        for name in ("alpha", "beta", "gamma"):
            scripted.enqueue(name, f"plan by {name}")
        try:
            result, streamed = await plan(load_config(tmp_path), store)
        finally:
            await close_backends()
        [chat] = server.requests_to("/api/chat")
    assert chat.body["format"] == judge_schema()
    assert '"resolution_rationale"' in chat.body["messages"][-1]["content"]
    assert "".join(streamed) == JUDGE_MARKDOWN
    assert result.synthesis is not None and result.synthesis.text == JUDGE_MARKDOWN
    assert result.synthesis.unique_insights == JUDGE_JSON["unique_insights"]


# --------------------------------------------------------------------------------------- the real engine

needs_engine = pytest.mark.skipif(not (engine_installed() and shipped_model_path()),
                                  reason="the embedded engine is not installed (pip install 'moot[local]')")
SMOL_CONFIG = """
[[models]]
name = "alpha"
model = "scripted/alpha"

[[models]]
name = "beta"
model = "scripted/beta"

[[models]]
name = "smollm2"
model = "local/smollm2"
num_ctx = 2048

[roles]
judge = "smollm2"
"""
PLAN_A = ("1. Add a `--verbose` option to the argparse parser in cli.py.\n"
          "2. Set the logging level to DEBUG when it is given.\n3. Add a test that runs the CLI with --verbose.")
PLAN_B = "1. Use click and add a `-v/--verbose` flag.\n2. Print extra progress lines.\n3. Document the flag."


@pytest.mark.embedded
@needs_engine
@pytest.mark.parametrize("max_tokens", [600, 60])
async def test_smollm2_judge_under_the_schema_gives_a_plan(
    tmp_path, user_config, scripted, store, max_tokens, capsys
) -> None:
    user_config(SMOL_CONFIG)
    scripted.enqueue("alpha", PLAN_A)
    scripted.enqueue("beta", PLAN_B)
    t0 = time.monotonic()
    result, streamed = await plan(load_config(tmp_path), store, usable=("alpha", "beta"),
                                  params=Params(max_tokens=max_tokens, backoff_s=0.001))
    wall = time.monotonic() - t0
    judge = result.judge
    assert judge is not None and judge.ok, judge and judge.error
    assert result.synthesis is not None and result.synthesis.plan.strip()
    assert "".join(streamed) == result.synthesis.text and not result.synthesis.text.lstrip().startswith("{")
    assert judge.text.lstrip().startswith("{")
    with capsys.disabled():
        print(f"\nSmolLM2 judge, max_tokens={max_tokens}: {judge.usage.completion_tokens} tokens in "
              f"{judge.latency_s:.1f} s ({wall:.1f} s with the run), finish {judge.finish_reason}, "
              f"{len(result.synthesis.plan)} plan characters, {len(result.synthesis.consensus)} consensus points")


@pytest.mark.embedded
@needs_engine
@pytest.mark.parametrize("labels", ["AB", "ABC"])
async def test_smollm2_ballots_under_the_schema_always_parse(labels) -> None:
    smol = ModelConfig(name="smollm2", model="local/smollm2", num_ctx=2048)
    plans = [(label, text) for label, text in zip(labels, [PLAN_A, PLAN_B, "1. Print more."], strict=False)]
    messages = rank_messages("Add a --verbose flag to the CLI.", plans, as_json=True)
    for temperature in (0.2, 0.7, 1.2):
        for max_tokens in (200, 30):  # whole, and cut short by the token cap (in the comments)
            r = await run_call(smol, messages, Params(max_tokens=max_tokens, temperature=temperature,
                                                      schema=ranking_schema(labels)))
            assert r.ok, r.error
            order = parse_ranking(r.text, labels)
            assert order is not None and sorted(order) == list(labels), r.text
