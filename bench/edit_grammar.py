"""Edit grammar figures: how long it takes to build for files of 100 to 10,000 lines, how large it is, how long
llama.cpp takes to read it, and how fast the embedded model decodes under it compared with no grammar.

The files are real Python modules of this Python's standard library (the first N lines of the smallest
module that has N lines; several modules one after another when none has). The llama.cpp figures need the
'local' extra; without it only the build figures are printed.

Target: a few milliseconds to build for a few thousand lines.

Run: .venv/bin/python bench/edit_grammar.py [rounds]
"""

from __future__ import annotations

import os
import statistics
import sys
import sysconfig
import time
from pathlib import Path

from moot.agents.edit_grammar import MAX_CHARS, MAX_LINES, edit_grammar, file_lines, run_ends
from moot.agents.prompts import task_messages
from moot.core.providers.embedded import engine_installed, shipped_model_path

SIZES = (100, 1_000, 3_000, 10_000)
CALC = "def add(a, b):\n    return a + b\n\n\ndef sub(a, b):\n    return a - b\n"
ANSWER_TOKENS = 96


def modules() -> list[tuple[int, Path]]:
    """The standard library's modules (no tests), with their line counts, smallest first."""
    root = Path(sysconfig.get_paths()["stdlib"])
    found = []
    for path in root.rglob("*.py"):
        rel = path.relative_to(root).parts
        if "site-packages" in rel or "test" in rel or "tests" in rel or "pydoc_data" in rel:
            continue
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            continue
        found.append((text.count("\n"), path))
    return sorted(found)


def source(lines: int, mods: list[tuple[int, Path]]) -> tuple[str, str]:
    """``lines`` lines of real source, and where they come from."""
    root = Path(sysconfig.get_paths()["stdlib"])
    one = next((p for n, p in mods if n >= lines), None)
    paths = [one] if one else [p for _, p in reversed(mods)]
    text, used = "", []
    for path in paths:
        text += path.read_text(encoding="utf-8")
        used.append(str(path.relative_to(root)))
        if text.count("\n") >= lines:
            break
    return "".join(text.splitlines(keepends=True)[:lines]), " + ".join(used)


def build_figures(rounds: int) -> dict[int, tuple[str, str]]:
    mods = modules()
    grammars: dict[int, tuple[str, str]] = {}
    print(f"{'lines':>6} {'build ms':>9} {'grammar KB':>11} {'rules':>6} {'default':>8}  file")
    for lines in SIZES:
        text, where = source(lines, mods)
        times = []
        for _ in range(rounds):
            t0 = time.perf_counter()
            grammar = edit_grammar({"mod.py": text}, max_lines=10**9, max_chars=10**9)
            times.append(time.perf_counter() - t0)
        assert grammar is not None
        grammars[lines] = (text, grammar)
        default = "None" if edit_grammar({"mod.py": text}) is None else "built"
        print(f"{lines:>6} {statistics.median(times) * 1e3:>9.1f} {len(grammar) / 1024:>11.0f} "
              f"{grammar.count(' ::= '):>6} {default:>8}  {where} ({len(text):,} chars)")
    print(f"(default limits: {MAX_LINES:,} lines, {MAX_CHARS:,} characters; 'None' = the caller falls back)")
    return grammars


def parse_figures(grammars: dict[int, tuple[str, str]], rounds: int) -> None:
    """How long llama.cpp takes to read each grammar (at every call), and the CPU time of its check of the
    whole vocabulary, which it makes before every token: at the start of a SEARCH and inside a REPLACE line."""
    import ctypes

    import llama_cpp
    import numpy as np

    llm = llama_cpp.Llama(model_path=str(shipped_model_path()), vocab_only=True, verbose=False)
    vocab = llm._model.vocab
    size = llama_cpp.llama_vocab_n_tokens(vocab)
    dtype = np.dtype([("id", np.int32), ("logit", np.float32), ("p", np.float32)], align=True)

    def check_ms(grammar: str, prefix: str) -> float:
        sampler = llama_cpp.llama_sampler_init_grammar(vocab, grammar.encode("utf-8"), b"root")
        for token in llm.tokenize(prefix.encode("utf-8"), add_bos=False, special=False):
            llama_cpp.llama_sampler_accept(sampler, token)
        times = []
        for _ in range(rounds):
            buf = np.zeros(size, dtype)
            buf["id"] = np.arange(size)
            arr = llama_cpp.llama_token_data_array(buf.ctypes.data_as(llama_cpp.llama_token_data_p), size, -1, False)
            t0 = time.process_time()
            llama_cpp.llama_sampler_apply(sampler, ctypes.byref(arr))
            times.append(time.process_time() - t0)
        llama_cpp.llama_sampler_free(sampler)
        return statistics.median(times) * 1e3

    print(f"\n{'lines':>6} {'llama.cpp reads it, ms':>23} {'check at SEARCH, ms':>20} {'check in REPLACE, ms':>21}"
          f"   (a check: CPU time, {size:,} tokens)")
    for lines, (text, grammar) in grammars.items():
        times = []
        for _ in range(rounds):
            t0 = time.perf_counter()
            sampler = llama_cpp.llama_sampler_init_grammar(vocab, grammar.encode("utf-8"), b"root")
            times.append(time.perf_counter() - t0)
            assert sampler, "llama.cpp cannot parse the grammar"
            llama_cpp.llama_sampler_free(sampler)
        body = file_lines(text)
        i, end = next((i, end) for i, end in enumerate(run_ends(body)) if end is not None)
        search = "".join(line + "\n" for line in body[i:end + 1])
        at_search = check_ms(grammar, "mod.py\n<<<<<<< SEARCH\n")
        in_replace = check_ms(grammar, f"mod.py\n<<<<<<< SEARCH\n{search}=======\n    x = ")
        print(f"{lines:>6} {statistics.median(times) * 1e3:>23.1f} {at_search:>20.1f} {in_replace:>21.1f}")
    llm.close()


def decode_figures(grammars: dict[int, tuple[str, str]], rounds: int) -> None:
    import llama_cpp
    from llama_cpp import Llama, LlamaGrammar

    llm = Llama(model_path=str(shipped_model_path()), n_ctx=4096, n_threads=os.cpu_count() or 1, verbose=False)
    messages = task_messages("backend", "Add a function mul(a, b) that returns a * b to calc.py",
                             files=["calc.py"], context_text=f"calc.py\n```python\n{CALC}```")
    cases: list[tuple[str, str | None]] = [("no grammar", None), ("calc.py (6 lines)", edit_grammar({"calc.py": CALC}))]
    cases += [(f"{lines:,} lines", g) for lines, (_, g) in grammars.items()]

    def once(grammar: str | None, seed: int) -> tuple[float, float, float, float, int]:
        """Time to the first token, decode tokens/s, the model's own ms per token, this process's CPU ms per
        token (what other programs on the machine change least), tokens."""
        ctx = llm._ctx.ctx
        llama_cpp.llama_perf_context_reset(ctx)
        t0 = time.perf_counter()
        first = last = 0.0
        cpu_first = cpu_last = 0.0
        n = 0
        for chunk in llm.create_chat_completion(
            messages=messages, stream=True, max_tokens=ANSWER_TOKENS, temperature=0.7, seed=seed,
            repeat_penalty=1.0 if grammar else 1.1,
            grammar=LlamaGrammar.from_string(grammar) if grammar else None,
        ):
            if chunk["choices"][0]["delta"].get("content"):  # type: ignore[union-attr,index]
                last, cpu_last = time.perf_counter(), time.process_time()
                first, cpu_first = (first, cpu_first) if first else (last, cpu_last)
                n += 1
        perf = llama_cpp.llama_perf_context(ctx)
        model_ms = perf.t_eval_ms / perf.n_eval if perf.n_eval else 0.0
        cpu_ms = (cpu_last - cpu_first) * 1e3 / (n - 1) if n > 1 else 0.0
        return first - t0, (n - 1) / (last - first) if n > 1 else 0.0, model_ms, cpu_ms, n

    once(None, 0)  # the prompt is evaluated once here; later calls reuse it
    runs: dict[str, list[tuple[float, float, float, float, int]]] = {name: [] for name, _ in cases}
    for seed in range(1, rounds + 1):  # interleaved, so that a busy moment of the machine hits every case
        for name, grammar in cases:
            runs[name].append(once(grammar, seed))
    print(f"\n{'grammar':>18} {'first token s':>14} {'tokens/s':>9} {'model ms/token':>15} {'rest ms/token':>14} "
          f"{'CPU ms/token':>13} {'tokens':>7}   ({ANSWER_TOKENS}-token cap, median of {rounds}, "
          f"{os.cpu_count()} threads)")
    for name, _ in cases:
        ttft, rate, model_ms, cpu_ms, tokens = (statistics.median(r[k] for r in runs[name]) for k in range(5))
        rest = 1e3 / rate - model_ms if rate else 0.0
        print(f"{name:>18} {ttft:>14.2f} {rate:>9.1f} {model_ms:>15.1f} {rest:>14.1f} {cpu_ms:>13.1f} {tokens:>7.0f}")
    print("(rest = the wall time per token that is not the model's: sampling, the grammar, Python; CPU = this\n"
          " process's CPU time per token, model threads included)")
    llm.close()


def main() -> None:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    grammars = build_figures(rounds)
    if not (engine_installed() and shipped_model_path()):
        print("\nthe embedded engine is not installed ('local' extra): no llama.cpp figures")
        return
    parse_figures(grammars, rounds)
    decode_figures(grammars, rounds)


if __name__ == "__main__":
    main()
