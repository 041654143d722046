"""Ranking files for a task: mentions, the def/ref graph, personalised PageRank, deterministic order."""

from __future__ import annotations

from pathlib import Path

import pytest

from moot.context.index import FileInfo, RepoIndex
from moot.context.mentions import find_mentions, identifiers, path_candidates
from moot.context.rank import build_graph, pagerank, rank_files
from moot.context.tags import extract_tags

SOURCES = {
    "shop/models.py": (
        "class Widget:\n    pass\n\n\n"
        "def make_widget(name):\n    return Widget()\n"
    ),
    "shop/store.py": (
        "from shop.models import Widget, make_widget\n\n\n"
        "class WidgetStore:\n"
        "    def add(self, name):\n        return make_widget(name)\n\n"
        "    def first(self):\n        return Widget()\n"
    ),
    "shop/views.py": (
        "from shop.store import WidgetStore\n\n\n"
        "def render_page():\n    store = WidgetStore()\n    return store.first()\n"
    ),
    "billing/invoice.py": (
        "from util.text import slugify\n\n\n"
        "def compute_invoice_total(lines):\n    return slugify(str(sum(lines)))\n"
    ),
    "util/text.py": "def slugify(text):\n    return text.lower()\n",
    "util/clock.py": "def now_seconds():\n    return 0\n",
    "README.md": "# Shop\n",
}


def make_index(sources: dict[str, str] = SOURCES, order: list[str] | None = None) -> RepoIndex:
    index = RepoIndex(Path("/nonexistent"))
    for rel in order or list(sources):
        data = sources[rel].encode()
        index.files[rel] = FileInfo(rel, None, extract_tags(rel, data), [], len(data))
    return index


def paths(ranking: list[tuple[str, float]]) -> list[str]:
    return [rel for rel, _ in ranking]


# ------------------------------------------------------------------------------------------- mentions


def test_identifiers_kinds_and_stop_words() -> None:
    found = identifiers("Fix WidgetStore so make_widget and `add` use moot.context.rank; the it is on")
    assert {"WidgetStore", "make_widget", "add", "moot.context.rank", "context", "rank"} <= found
    assert not {"the", "it", "is", "on", "Fix", "so"} & found
    assert "add" not in identifiers("add a flag")  # a stop word unless backticked


def test_path_candidates() -> None:
    found = path_candidates("see shop/views.py, README.md and util/ (not e.g. this).")
    assert {"shop/views.py", "README.md", "util/"} <= found
    assert "this" not in found


def test_file_mentions_by_rel_basename_stem_and_module() -> None:
    files = list(SOURCES)
    assert find_mentions("edit shop/views.py", files).files == {"shop/views.py"}
    assert find_mentions("edit views.py", files).files == {"shop/views.py"}
    assert find_mentions("the `invoice` module", files).files == {"billing/invoice.py"}
    assert find_mentions("in shop.models there is", files).files == {"shop/models.py"}
    assert find_mentions("all of util/ please", files).dirs == {"util"}
    assert find_mentions("nothing here", files).files == frozenset()


# ---------------------------------------------------------------------------------------------- graph


def test_graph_edges_point_from_user_to_definer() -> None:
    graph = build_graph(make_index())
    assert set(graph["shop/store.py"]) == {"shop/models.py"}
    assert set(graph["shop/views.py"]) == {"shop/store.py"}
    assert set(graph["billing/invoice.py"]) == {"util/text.py"}
    assert "util/clock.py" not in graph
    mentioned = build_graph(make_index(), ["WidgetStore"])
    assert mentioned["shop/views.py"]["shop/store.py"] > 9 * graph["shop/views.py"]["shop/store.py"]


def test_pagerank_sums_to_one_and_handles_dangling_nodes() -> None:
    scores = pagerank(["a", "b", "c"], {"a": {"b": 1.0}, "b": {"c": 1.0}})
    assert sum(scores.values()) == pytest.approx(1.0)
    assert scores["c"] > scores["b"] > scores["a"]
    assert pagerank([], {}) == {}
    uniform = pagerank(["x", "y"], {})
    assert uniform["x"] == pytest.approx(0.5) == uniform["y"]
    leaning = pagerank(["x", "y"], {}, {"x": 3.0, "y": 1.0})
    assert leaning["x"] == pytest.approx(0.75)


# -------------------------------------------------------------------------------------------- ranking


def test_ranking_covers_every_file() -> None:
    ranking = rank_files(make_index(), task="anything")
    assert sorted(paths(ranking)) == sorted(SOURCES)
    scores = [s for _, s in ranking]
    assert scores == sorted(scores, reverse=True)


def test_without_a_task_the_most_used_definitions_lead() -> None:
    order = paths(rank_files(make_index()))
    assert order.index("shop/models.py") < order.index("shop/views.py")
    assert order.index("util/text.py") < order.index("billing/invoice.py")


@pytest.mark.parametrize("task", ["update shop/views.py to show counts", "views.py is slow"])
def test_a_file_the_task_names_ranks_first(task: str) -> None:
    assert paths(rank_files(make_index(), task=task))[0] == "shop/views.py"


def test_a_file_defining_a_mentioned_identifier_outranks_unrelated_ones() -> None:
    order = paths(rank_files(make_index(), task="compute_invoice_total rounds wrongly"))
    assert order[0] == "billing/invoice.py"
    for unrelated in ("shop/views.py", "shop/store.py", "util/clock.py", "README.md"):
        assert order.index("billing/invoice.py") < order.index(unrelated)
    # A plain word only counts through the graph, never lifted: "slugify" pulls text.py up, nothing else.
    plain = paths(rank_files(make_index(), task="slugify keeps accents"))
    assert plain.index("util/text.py") < plain.index("util/clock.py")


def test_plan_files_and_chosen_files_are_boosted() -> None:
    index = make_index()
    base = paths(rank_files(index))
    assert base.index("util/clock.py") > 0
    assert paths(rank_files(index, plan_files=["util/clock.py"]))[0] == "util/clock.py"
    assert paths(rank_files(index, chosen=["README.md"]))[0] == "README.md"
    # Chosen files pull what they use along: store.py's definitions rank above clock.py's.
    near = paths(rank_files(index, chosen=["shop/views.py"]))
    assert near.index("shop/store.py") < near.index("util/clock.py")


def test_ranking_is_deterministic_and_ties_go_by_path() -> None:
    order = list(SOURCES)
    first = rank_files(make_index(), task="WidgetStore and make_widget")
    again = rank_files(make_index(order=list(reversed(order))), task="WidgetStore and make_widget")
    assert first == again
    twins = {"b.py": "def beta():\n    pass\n", "a.py": "def alpha():\n    pass\n", "c.md": "# c\n"}
    assert paths(rank_files(make_index(twins))) == ["a.py", "b.py", "c.md"]


def test_identifiers_defined_in_many_files_weigh_less() -> None:
    many = {f"m{i}.py": "def run():\n    pass\n" for i in range(7)}
    many["caller.py"] = "from x import run, special_thing\nrun()\nspecial_thing()\n"
    many["special.py"] = "def special_thing():\n    pass\n"
    graph = build_graph(make_index(many))
    assert graph["caller.py"]["special.py"] > 10 * graph["caller.py"]["m0.py"]


@pytest.mark.parametrize("task", ["Slugify keeps accents", "SLUGIFY keeps accents", "slugify keeps accents"])
def test_a_word_of_the_task_matches_a_definition_whatever_its_case(task: str) -> None:
    """Prose capitalises a word that code does not: "Fix the Borda count" finds ``borda()``."""
    plain = paths(rank_files(make_index(), task=task))
    assert plain.index("util/text.py") < plain.index("util/clock.py")
    assert plain.index("util/text.py") < plain.index("shop/models.py")


def test_a_name_defined_as_written_is_not_widened_to_other_cases() -> None:
    from moot.context.rank import defined_names

    defines = {"Widget": ["shop/models.py"], "widget": ["a.py"], "borda": ["r.py"]}
    assert defined_names({"Widget"}, defines) == {"Widget"}
    assert defined_names({"WIDGET"}, defines) == {"Widget", "widget"}
    assert defined_names({"Borda", "nothing"}, defines) == {"borda", "nothing"}


def test_the_kept_graph_walks_as_the_graph_does() -> None:
    """The ranking's arrays, kept with the index, give the scores of ``pagerank`` over ``build_graph``; they are
    worked out again when a file changes."""
    from moot.context.rank import edges, walk_for

    index = make_index()
    teleport = {rel: 1.0 + (rel == "shop/views.py") * 5 for rel in index.files}
    for mentioned in ((), ("make_widget",)):
        fast = walk_for(index, mentioned, teleport)
        slow = pagerank(index.files, build_graph(index, mentioned), teleport)
        assert fast.keys() == slow.keys()
        assert all(abs(fast[k] - slow[k]) < 1e-12 for k in fast)
    first = edges(index)
    assert edges(index) is first  # kept
    data = b"def slugify(text):\n    return text\n\n\ndef shout(text):\n    return text.upper()\n"
    index.files["util/text.py"] = FileInfo("util/text.py", None, extract_tags("util/text.py", data), [], len(data))
    assert edges(index) is not first and "shout" in index.defines()
