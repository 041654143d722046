"""Which files matter for a task: personalised PageRank over the graph of who uses whose definitions.

Nodes are files. For every identifier referenced in one file and defined in another there is an edge from
the referencing file to each defining file, weighted by: the square root of how often
it is referenced, times 10 for identifiers the task mentions and for long snake/Camel names, a tenth for
``_private`` names and for names defined in more than five files. The random walk teleports toward the
files the task names, the files defining identifiers it names, the files already chosen, the files a plan
names and, more weakly, files whose name or folder is a plain word of the task, with a small share for every
file so that unrelated files still order by importance. Files
named outright then go first, and files defining code-like names the task uses next.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from moot.context.history import History
from moot.context.index import RepoIndex
from moot.context.mentions import Mentions, find_mentions, is_strong

Graph = dict[str, dict[str, float]]

#: Teleport mass of each kind of hint, as a multiple of the mass every file gets by default (1 each).
PATH_MASS = 8.0
IDENT_MASS = 4.0
CHOSEN_MASS = 4.0
PLAN_MASS = 6.0
DIR_MASS = 2.0
WORD_MASS = 3.0
MENTIONED_MUL = 10.0
#: The lexical match (``lexical``): its mass, shared by the best-matching ``LEX_TOP`` files by their scores.
LEX_MASS = 6.0
LEX_TOP = 20
#: Added to a lexically matching file's final score, in proportion to its match (the best gets all of it).
LEX_LIFT = 0.2
#: The history (``history``): the mass of the files that changed together with the task's files (those it names or
#: defines, and its best lexical matches), shared by the ``CO_TOP`` best by how often; the lift of the best.
CO_MASS = 4.0
CO_TOP = 20
CO_LIFT = 0.1
#: How many of the best lexical matches count as the task's files for the history, and their weight.
CO_LEX_SEEDS = 5
CO_LEX_WEIGHT = 0.5
#: The mass of files changed lately, shared in proportion to how lately and often.
RECENT_MASS = 1.0
#: Added to the score of files named outright, which puts them ahead of every other file.
NAMED_LIFT = 2.0
#: Added to the score of the few files (at most FEW_DEFINERS) that define a code-like name the task uses.
DEFINES_LIFT = 1.0
FEW_DEFINERS = 3
DAMPING = 0.85


def reference_counts(index: RepoIndex) -> dict[str, Counter[str]]:
    """Identifier -> how many times each file references it."""
    refs: dict[str, Counter[str]] = {}
    for rel in sorted(index.files):
        for tag in index.files[rel].tags:
            if tag.kind == "ref":
                refs.setdefault(tag.name, Counter())[rel] += 1
    return refs


def identifier_weight(name: str, definers: int, mentioned: bool) -> float:
    """The multiplier of one identifier's edges (how strongly its references tie files together)."""
    mul = 1.0
    if mentioned:
        mul *= MENTIONED_MUL
    if is_strong(name) and len(name) >= 8:
        mul *= 10.0
    if name.startswith("_"):
        mul *= 0.1
    if definers > 5:
        mul *= 0.1
    return mul


def build_graph(index: RepoIndex, mentioned: Iterable[str] = ()) -> Graph:
    """Referencing file -> defining file -> weight; self-references are left out."""
    wanted = set(mentioned)
    defines = index.defines()
    graph: Graph = {}
    for name, users in sorted(reference_counts(index).items()):
        definers = defines.get(name)
        if not definers:
            continue
        mul = identifier_weight(name, len(definers), name in wanted)
        for user, count in sorted(users.items()):
            weight = mul * math.sqrt(count)
            for definer in sorted(definers):
                if definer != user:
                    edges = graph.setdefault(user, {})
                    edges[definer] = edges.get(definer, 0.0) + weight
    return graph


def pagerank(nodes: Iterable[str], graph: Mapping[str, Mapping[str, float]],
             personalization: Mapping[str, float] | None = None, *, damping: float = DAMPING,
             tol: float = 1e-10, max_iter: int = 200) -> dict[str, float]:
    """Personalised PageRank by power iteration; the scores sum to 1.

    Nodes without outgoing edges (dangling) hand their score back through the personalisation, as
    networkx does by default. Edges to nodes outside ``nodes`` are ignored.
    """
    import numpy as np

    order = sorted(set(nodes))
    pos = {n: i for i, n in enumerate(order)}
    edges = [(pos[src], pos[dst], w) for src in order for dst, w in sorted(graph.get(src, {}).items())
             if dst in pos and w > 0]
    src = np.array([e[0] for e in edges], dtype=np.int64)
    dst = np.array([e[1] for e in edges], dtype=np.int64)
    weight = np.array([e[2] for e in edges], dtype=np.float64)
    return walk(order, src, dst, weight, personalization, damping=damping, tol=tol, max_iter=max_iter)


def walk(order: list[str], src: Any, dst: Any, weight: Any, personalization: Mapping[str, float] | None,
         *, damping: float = DAMPING, tol: float = 1e-10, max_iter: int = 200) -> dict[str, float]:
    """PageRank over ``order`` with edges given as arrays (``src[i] -> dst[i]`` of ``weight[i]``, several edges
    between two nodes adding up); see ``pagerank``."""
    import numpy as np

    n = len(order)
    if not n:
        return {}
    teleport = np.array([max(0.0, (personalization or {}).get(node, 0.0)) for node in order], dtype=np.float64)
    total = teleport.sum()
    teleport = teleport / total if total > 0 else np.full(n, 1 / n)
    norm = np.bincount(src, weights=weight, minlength=n)
    dangling = norm <= 0
    share = weight / np.where(norm > 0, norm, 1.0)[src]
    score = teleport.copy()
    for _ in range(max_iter):
        new = (1 - damping + damping * score[dangling].sum()) * teleport
        new += damping * np.bincount(dst, weights=score[src] * share, minlength=n)
        change = np.abs(new - score).sum()
        score = new
        if change < tol * n:
            break
    return dict(zip(order, score.tolist(), strict=True))


@dataclass(frozen=True)
class Edges:
    """The reference graph as arrays (kept with the index: the same for every task but for the weight of the
    names the task mentions)."""

    order: list[str]
    src: Any
    dst: Any
    weight: Any
    """Each edge's weight for a task that mentions none of its names."""
    name: Any
    """Each edge's identifier, as an index into ``names``."""
    names: dict[str, int]


def edges(index: RepoIndex) -> Edges:
    return index.derived("edges", _edges)


def _edges(index: RepoIndex) -> Edges:
    import numpy as np

    order = sorted(index.files)
    pos = {rel: i for i, rel in enumerate(order)}
    defines = index.defines()
    src: list[int] = []
    dst: list[int] = []
    weight: list[float] = []
    name_of: list[int] = []
    names: dict[str, int] = {}
    for name, users in sorted(reference_counts(index).items()):
        definers = defines.get(name)
        if not definers:
            continue
        mul = identifier_weight(name, len(definers), False)
        nid = names.setdefault(name, len(names))
        for user, count in sorted(users.items()):
            for definer in sorted(definers):
                if definer != user:
                    src.append(pos[user])
                    dst.append(pos[definer])
                    weight.append(mul * math.sqrt(count))
                    name_of.append(nid)
    return Edges(order, np.array(src, dtype=np.int64), np.array(dst, dtype=np.int64),
                 np.array(weight, dtype=np.float64), np.array(name_of, dtype=np.int64), names)


def walk_for(index: RepoIndex, mentioned: Iterable[str], personalization: Mapping[str, float]) -> dict[str, float]:
    """PageRank of the index's graph (``build_graph``'s, from the kept arrays) for a task mentioning
    ``mentioned``."""
    import numpy as np

    g = edges(index)
    weight = g.weight
    ids = [g.names[name] for name in set(mentioned) if name in g.names]
    if ids:
        weight = np.where(np.isin(g.name, ids), weight * MENTIONED_MUL, weight)
    return walk(g.order, g.src, g.dst, weight, personalization)


def personalization(index: RepoIndex, mentions: Mentions, chosen: Iterable[str] = (),
                    plan_files: Iterable[str] = (), lexical: Mapping[str, float] | None = None,
                    cochange: Mapping[str, float] | None = None,
                    recent: Mapping[str, float] | None = None) -> dict[str, float]:
    """Teleport weights: 1 for every file, plus each hint's mass shared among the files it names."""
    n = len(index.files)
    weights = dict.fromkeys(index.files, 1.0)

    def spread(files: Iterable[str], mass: float) -> None:
        hit = sorted({f for f in files if f in weights})
        for f in hit:
            weights[f] += mass * n / len(hit)

    spread(mentions.files, PATH_MASS)
    spread(chosen, CHOSEN_MASS)
    spread(plan_files, PLAN_MASS)
    spread((f for f in index.files if any(f.startswith(d + "/") for d in mentions.dirs)), DIR_MASS)
    spread(mentions.related, WORD_MASS)
    defines = index.defines()
    named = sorted(name for name in mentions.identifiers if name in defines)
    for name in named:
        spread(defines[name], IDENT_MASS / len(named))
    best = sorted((lexical or {}).items(), key=lambda kv: (-kv[1], kv[0]))[:LEX_TOP]
    total = sum(score for _, score in best)
    for f, score in best:  # the files whose own words are the task's, by how well they match
        weights[f] += LEX_MASS * n * score / total
    for mass, found, top in ((CO_MASS, cochange, CO_TOP), (RECENT_MASS, recent, None)):
        picked = sorted(((f, s) for f, s in (found or {}).items() if f in weights), key=lambda kv: (-kv[1], kv[0]))
        picked = picked[:top] if top else picked
        total = sum(s for _, s in picked)
        for f, s in picked:  # the history: what changes with the task's files, and what changed lately
            weights[f] += mass * n * s / total
    return weights


def history_signals(index: RepoIndex, history: History | None, seeds: Mapping[str, float]) -> tuple[
        dict[str, float], dict[str, float]]:
    """(co-change with ``seeds``, recency) of the files in the index, from the repository's history."""
    if history is None:
        return {}, {}
    present = index.files
    cochange = {f: s for f, s in history.cochange(seeds).items() if f in present} if seeds and CO_MASS else {}
    recent = {f: s for f, s in history.recency().items() if f in present} if RECENT_MASS else {}
    return cochange, recent


def defined_names(mentioned: Iterable[str], defines: Mapping[str, object]) -> frozenset[str]:
    """The names a task's words stand for: each as written where the repository defines it so, else every
    defined name that differs from it only in case ("the Borda count" -> ``borda``, "the ranking Engine" ->
    ``engine``). Prose capitalises words that code does not."""
    folded: dict[str, list[str]] = {}
    for name in defines:
        folded.setdefault(name.casefold(), []).append(name)
    out: set[str] = set()
    for name in mentioned:
        out.update([name] if name in defines else folded.get(name.casefold(), [name]))
    return frozenset(out)


def rank_files(index: RepoIndex, *, task: str = "", chosen: Iterable[str] = (),
               plan_files: Iterable[str] = (), history: History | None = None,
               signals: dict[str, dict[str, float]] | None = None) -> list[tuple[str, float]]:
    """Every file of the index with its score, best first; ties by path, so the order is deterministic.

    Files named outright (by path in the task, chosen, or in the plan) come first, then the few files
    defining a code-like name the task uses (``snake_case``, ``CamelCase``, dotted or in backticks): PageRank
    carries score away from a file toward what it uses, so a named file could otherwise trail the modules
    it imports. Their scores are lifted by :data:`NAMED_LIFT` and :data:`DEFINES_LIFT`; PageRank scores
    sum to 1, so each lift puts a file above every file without it.

    ``signals``, when given, is filled with what put each file where it is: ``walk`` (its PageRank),
    ``lexical`` (its BM25 match, when it has one), ``cochange`` (how often it changed with the task's files,
    from ``history``), ``defines`` and ``named`` (the lifts it got).
    """
    chosen, plan_files = list(chosen), list(plan_files)
    defines = index.defines()
    mentions = find_mentions(task, index.files)
    mentions = replace(mentions, identifiers=defined_names(mentions.identifiers, defines),
                       explicit=defined_names(mentions.explicit, defines))
    from moot.context.lexical import lexical_scores

    lexical = lexical_scores(index, task) if task.strip() else {}
    few = {rel for name in mentions.explicit if 0 < len(defines.get(name, ())) <= FEW_DEFINERS
           for rel in defines[name]}
    seeds = dict.fromkeys([*mentions.files, *chosen, *plan_files, *few], 1.0)
    if lexical:
        peak = max(lexical.values())
        for rel, score in sorted(lexical.items(), key=lambda kv: (-kv[1], kv[0]))[:CO_LEX_SEEDS]:
            seeds.setdefault(rel, CO_LEX_WEIGHT * score / peak)
    cochange, recent = history_signals(index, history, seeds)
    scores = walk_for(index, mentions.identifiers,
                      personalization(index, mentions, chosen, plan_files, lexical, cochange, recent))
    why: dict[str, dict[str, float]] = {rel: {"walk": round(score, 6)} for rel, score in scores.items()}
    if cochange and CO_LIFT:
        peak = max(cochange.values())
        for rel, score in sorted(cochange.items(), key=lambda kv: (-kv[1], kv[0]))[:CO_TOP]:
            scores[rel] += CO_LIFT * score / peak
            why[rel]["cochange"] = round(score, 3)
    if lexical:  # the walk carries a file's share on to what it uses: its own match keeps part of it
        peak = max(lexical.values())
        for rel, score in sorted(lexical.items(), key=lambda kv: (-kv[1], kv[0]))[:LEX_TOP]:
            scores[rel] += LEX_LIFT * score / peak
            why[rel]["lexical"] = round(score, 3)
    for rel in few:
        scores[rel] += DEFINES_LIFT
        why[rel]["defines"] = DEFINES_LIFT
    for rel in {*mentions.files, *chosen, *plan_files}:
        if rel in scores:
            scores[rel] += NAMED_LIFT
            why[rel]["named"] = NAMED_LIFT
    if signals is not None:
        signals.update(why)
    return sorted(scores.items(), key=lambda kv: (-round(kv[1], 12), kv[0]))
