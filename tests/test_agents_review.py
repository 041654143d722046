"""The reviewer: reading its verdict and findings in every form, cutting a long diff, the call."""

from __future__ import annotations

import json

import pytest

from moot.agents.review import (
    NO_VERDICT,
    Finding,
    ReviewError,
    fit_diff,
    parse_finding,
    parse_review,
    review_diff,
    split_diff,
)
from moot.core.calls import CallContext
from moot.core.config.models import ModelConfig
from moot.core.storage import Store
from moot.core.tokens import count_tokens

REVIEWER = ModelConfig(name="rev", model="scripted/rev", retries=0)


def test_the_asked_for_form() -> None:
    text = """VERDICT: BLOCK
SUMMARY: The flag is parsed but never used.
FINDINGS:
- core/cli.py:42: `--fast` is read but ignored
- tests/test_cli.py:7: the test asserts nothing
"""
    r = parse_review(text, "rev")
    assert r.verdict == "BLOCK"
    assert r.summary == "The flag is parsed but never used."
    assert r.findings == [
        Finding("core/cli.py", 42, "`--fast` is read but ignored"),
        Finding("tests/test_cli.py", 7, "the test asserts nothing"),
    ]
    assert (r.model, r.raw) == ("rev", text)
    assert r.to_dict() == {
        "model": "rev",
        "verdict": "BLOCK",
        "findings": [
            {"file": "core/cli.py", "line": 42, "text": "`--fast` is read but ignored"},
            {"file": "tests/test_cli.py", "line": 7, "text": "the test asserts nothing"},
        ],
        "summary": "The flag is parsed but never used.",
    }


@pytest.mark.parametrize(
    ("line", "finding"),
    [
        ("core/cli.py:42: text here", Finding("core/cli.py", 42, "text here")),
        ("core/cli.py:42 - text here", Finding("core/cli.py", 42, "text here")),
        ("core/cli.py:42:7: text here", Finding("core/cli.py", 42, "text here")),
        ("core/cli.py:42-50: text here", Finding("core/cli.py", 42, "text here")),
        ("`core/cli.py:42`: text here", Finding("core/cli.py", 42, "text here")),
        ("`core/cli.py`:42: text here", Finding("core/cli.py", 42, "text here")),
        ("**core/cli.py:42**: text here", Finding("core/cli.py", 42, "text here")),
        ("core/cli.py (line 42): text here", Finding("core/cli.py", 42, "text here")),
        ("core/cli.py (line 42) - text here", Finding("core/cli.py", 42, "text here")),
        ("core/cli.py (lines 42-50): text here", Finding("core/cli.py", 42, "text here")),
        ("core/cli.py, line 42: text here", Finding("core/cli.py", 42, "text here")),
        ("core/cli.py line 42: text here", Finding("core/cli.py", 42, "text here")),
        ("core/cli.py: text here", Finding("core/cli.py", None, "text here")),
        ("`setup.cfg` - text here", Finding("setup.cfg", None, "text here")),
        ("Makefile:12: text here", Finding("Makefile", 12, "text here")),
        ("src\\app.py:3: text here", Finding("src/app.py", 3, "text here")),
        ("The error handling is missing", Finding(None, None, "The error handling is missing")),
        ("Note: version 1.2 is old", Finding(None, None, "Note: version 1.2 is old")),
    ],
)
def test_finding_forms(line: str, finding: Finding) -> None:
    assert parse_finding(line) == finding


@pytest.mark.parametrize("line", ["none", "None.", "No issues", "nothing to report", "  "])
def test_nothing_is_no_finding(line: str) -> None:
    assert parse_finding(line) is None


def test_markdown_verdict_and_wrapped_findings() -> None:
    text = """## Review

**Verdict:** concerns — mostly fine.

### Findings
* `api.py`:10: the retry loop
  never gives up
1. No test covers the empty input
"""
    r = parse_review(text)
    assert r.verdict == "CONCERN"
    assert r.findings == [Finding("api.py", 10, "the retry loop never gives up"),
                          Finding(None, None, "No test covers the empty input")]
    assert r.summary == "mostly fine."


def test_verdict_words() -> None:
    assert parse_review("Verdict: PASS").verdict == "PASS"
    assert parse_review("verdict - passed").verdict == "PASS"
    assert parse_review("VERDICT: BLOCKED").verdict == "BLOCK"
    assert parse_review("VERDICT: BLOCKER\n- none").findings == []
    assert parse_review("> VERDICT = concern").verdict == "CONCERN"


def test_findings_without_bullets_and_prose_summary() -> None:
    text = "VERDICT: PASS\nLooks good overall.\napp/models.py:3: unused import\nNothing else."
    r = parse_review(text)
    assert r.verdict == "PASS"
    assert r.findings == [Finding("app/models.py", 3, "unused import")]
    assert r.summary == "Looks good overall. Nothing else."


def test_no_verdict_is_a_concern() -> None:
    r = parse_review("I think this is fine.\n- a.py:1: nit", "rev")
    assert r.verdict == "CONCERN"
    assert r.summary == f"{NO_VERDICT}; I think this is fine."
    assert r.findings == [Finding("a.py", 1, "nit")]
    assert parse_review("").summary == NO_VERDICT


def test_code_fences_are_not_findings() -> None:
    r = parse_review("VERDICT: CONCERN\n```python\n- x = a.py:3: b\n```\n- a.py:2: real")
    assert r.findings == [Finding("a.py", 2, "real")]


def test_json_reply() -> None:
    doc = {"verdict": "block", "summary": "Unsafe.",
           "findings": [{"file": "a.py", "line": 3, "text": "SQL built by hand"},
                        {"file": None, "line": None, "text": "No tests"},
                        {"path": "b.py", "line": "9", "message": "shadowed name"},
                        "c.py:4: string finding"]}
    r = parse_review("```json\n" + json.dumps(doc) + "\n```", "rev")
    assert r.verdict == "BLOCK"
    assert r.summary == "Unsafe."
    assert r.findings == [Finding("a.py", 3, "SQL built by hand"), Finding(None, None, "No tests"),
                          Finding("b.py", 9, "shadowed name"), Finding("c.py", 4, "string finding")]


def test_json_reply_with_an_unknown_verdict() -> None:
    r = parse_review('{"verdict": "maybe", "findings": []}')
    assert r.verdict == "CONCERN"
    assert r.summary == f"{NO_VERDICT} (it said 'maybe')"


def test_broken_json_falls_back_to_lines() -> None:
    r = parse_review('{"verdict": "PASS", "findings": [}')
    assert r.verdict == "PASS"


# -------------------------------------------------------------------------------------------- the diff


def file_diff(path: str, lines: int) -> str:
    body = "".join(f"+line {i} of {path} with some words in it\n" for i in range(lines))
    return f"diff --git a/{path} b/{path}\n--- a/{path}\n+++ b/{path}\n@@ -0,0 +1,{lines} @@\n{body}"


def test_split_diff() -> None:
    diff = file_diff("a.py", 2) + file_diff("b/c.py", 3)
    assert [p for p, _ in split_diff(diff)] == ["a.py", "b/c.py"]
    assert "".join(s for _, s in split_diff(diff)) == diff
    created = "diff --git a/n.py b/n.py\nnew file mode 100644\n--- /dev/null\n+++ b/n.py\n@@ -0,0 +1 @@\n+x\n"
    deleted = "diff --git a/o.py b/o.py\ndeleted file mode 100644\n--- a/o.py\n+++ /dev/null\n@@ -1 +0,0 @@\n-x\n"
    assert [p for p, _ in split_diff(created + deleted)] == ["n.py", "o.py"]
    assert split_diff("--- a/x\n+++ b/x\n@@\n-a\n+b\n")[0][0] == "x"
    assert split_diff("") == []


def test_fit_diff_keeps_whole_files_and_names_the_rest() -> None:
    small, big, small2 = file_diff("a.py", 5), file_diff("big.py", 400), file_diff("c.py", 5)
    budget = count_tokens(small + small2) + 10
    shown, omitted, note = fit_diff(small + big + small2, budget)
    assert shown == small + small2
    assert omitted == ["big.py"]
    assert f"big.py ({count_tokens(big)} tokens)" in note and f"{budget} tokens" in note
    assert fit_diff(small, 10_000) == (small, [], "")


def test_fit_diff_cuts_one_huge_file() -> None:
    big = file_diff("big.py", 400)
    shown, omitted, note = fit_diff(big, 200)
    assert big.startswith(shown) and 0 < count_tokens(shown) <= 200
    assert omitted[0].startswith("big.py (cut after ")


@pytest.fixture
def store():
    s = Store()
    s.start_run("run-r", "exec", "a task", None, None)
    yield s
    s.close()


async def test_review_diff(scripted, store) -> None:
    scripted.enqueue("rev", "VERDICT: CONCERN\nSUMMARY: mostly right\n- a.py:3: off by one")
    diff = file_diff("a.py", 3)
    review = await review_diff(diff, "1. add the loop", REVIEWER, ctx=CallContext(store, "run-r"))
    assert review.verdict == "CONCERN"
    assert review.findings == [Finding("a.py", 3, "off by one")]
    assert review.model == "rev" and review.omitted_files == []
    (_, messages, _), = scripted.calls
    assert "1. add the loop" in messages[-1]["content"] and diff.strip() in messages[-1]["content"]
    assert "VERDICT: PASS | CONCERN | BLOCK" in messages[-1]["content"]
    rows = store.calls("run-r")
    assert [(r["phase"], r["model_alias"], r["status"]) for r in rows] == [("review", "rev", "done")]
    assert rows[0]["reply"].startswith("VERDICT: CONCERN")


async def test_review_diff_cuts_a_long_diff(scripted) -> None:
    scripted.enqueue("rev", "VERDICT: PASS")
    diff = file_diff("a.py", 3) + file_diff("huge.py", 600)
    review = await review_diff(diff, "plan", REVIEWER, max_diff_tokens=500)
    assert review.verdict == "PASS" and review.omitted_files == ["huge.py"]
    prompt = scripted.calls[0][1][-1]["content"]
    assert "huge.py" in prompt and "left out: huge.py" in prompt
    assert "+line 0 of huge.py" not in prompt


async def test_review_diff_call_failure(scripted, store) -> None:
    scripted.enqueue("rev", error=("rate_limit", False))
    with pytest.raises(ReviewError, match="the review by rev failed: rate_limit: scripted rate_limit"):
        await review_diff("diff --git a/x b/x\n", "plan", REVIEWER, ctx=CallContext(store, "run-r"))
    assert [(r["phase"], r["status"]) for r in store.calls("run-r")] == [("review", "failed")]
