"""The context inspector: what the proposers would be handed, token bars, pin and drop, and the next run."""

from __future__ import annotations

import subprocess
from pathlib import Path

from textual.widgets import DataTable

from moot.tui.screens.context import ContextChoice, ContextScreen, bar


def make_project(root: Path) -> None:
    files = {
        "src/billing/invoice.py": "def total_amount(lines):\n    \"\"\"Sum of the lines.\"\"\"\n    return sum(lines)\n",
        "src/billing/tax.py": "from .invoice import total_amount\n\ndef with_tax(lines):\n    return total_amount(lines) * 1.2\n",
        "src/cli.py": "import argparse\n\ndef main():\n    parser = argparse.ArgumentParser()\n    return parser\n",
        "README.md": "# Shop\n\n## Billing\n\nInvoices and taxes.\n",
    }
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    subprocess.run(["git", "init", "-q"], cwd=root, check=True)
    subprocess.run(["git", "add", "-A"], cwd=root, check=True)


async def open_inspector(pilot, task: str) -> ContextScreen:
    await pilot.click("#prompt")
    await pilot.press(*task, "f11")
    screen = pilot.app.screen
    assert isinstance(screen, ContextScreen)
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()
    return screen


def test_bar_never_exceeds_its_width_and_shows_a_sliver() -> None:
    assert bar(0, 100) == "" and bar(5, 0) == ""
    assert bar(1, 10_000, width=10) == "▏"
    assert bar(50, 100, width=10) == "█████"
    assert bar(500, 100, width=10) == "█" * 10


def test_why_names_each_signal() -> None:
    from moot.tui.screens.context import why_text

    text = why_text({"rank": 2, "score": 0.31, "walk": 0.02, "lexical": 1.5, "cochange": 2.0})
    assert text.startswith("rank 2, score 0.310") and "BM25 1.50" in text
    assert "changed together with the task's files in the history (2.00)" in text


async def test_inspector_lists_items_with_tokens_and_the_total(workbench, tmp_path: Path) -> None:
    app = workbench()
    make_project(Path.cwd())
    async with app.run_test(size=(120, 34)) as pilot:
        screen = await open_inspector(pilot, "change total_amount in invoice.py to round")
        result = screen.result
        assert result is not None and result.items
        assert result.items[0].path == "src/billing/invoice.py"  # named in the task: first
        table = screen.query_one(DataTable)
        rows = [table.get_row_at(i) for i in range(table.row_count)]
        assert str(rows[0][1]) == "src/billing/invoice.py" and rows[0][3] == str(result.items[0].tokens)
        assert sum(i.tokens for i in result.items) <= result.total_tokens <= result.budget
        summary = str(screen.query_one("#context-summary").render())
        assert f"Total {result.total_tokens} of {result.budget} tokens" in summary
        table.focus()
        await pilot.press("w")  # why: the first file's reasons, on demand
        await pilot.pause()
        shown = [n for n in app._notifications if n.title == "src/billing/invoice.py"]
        assert shown and shown[-1].message.startswith("rank 1, score ")
        assert "named by the task" in shown[-1].message and "its path and names match" in shown[-1].message


async def test_pin_and_drop_are_kept_and_the_next_run_uses_them(workbench, scripted, tmp_path: Path) -> None:
    app = workbench()
    make_project(Path.cwd())
    task = "change total_amount in invoice.py to round"
    async with app.run_test(size=(120, 34)) as pilot:
        screen = await open_inspector(pilot, task)
        table = screen.query_one(DataTable)
        keys = [table.coordinate_to_cell_key((i, 0)).row_key.value for i in range(table.row_count)]
        table.move_cursor(row=keys.index("src/billing/invoice.py"))
        await pilot.press("d")  # drop the file the task names
        await app.workers.wait_for_complete()
        table.move_cursor(row=[table.coordinate_to_cell_key((i, 0)).row_key.value
                               for i in range(table.row_count)].index("src/cli.py"))
        await pilot.press("p")  # pin an unrelated one
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert ContextChoice.load(app) == ContextChoice(pinned=["src/cli.py"], dropped=["src/billing/invoice.py"])
        assert screen.result is not None
        assert screen.result.items[0].path == "src/cli.py"
        assert all("src/billing/invoice.py" not in i.covers for i in screen.result.items)
        await pilot.press("escape")
        await pilot.press("enter")  # the task is still in the prompt: run it
        await app.workers.wait_for_complete()
    prompt = next(m for name, m, _ in scripted.calls if name == "beta")
    text = "\n".join(str(part["content"]) for part in prompt)
    assert "import argparse" in text  # the pinned file, whole
    assert "return sum(lines)" not in text  # the dropped one, nowhere


async def test_without_a_task_the_inspector_asks_for_one(workbench) -> None:
    app = workbench()
    async with app.run_test(size=(120, 34)) as pilot:
        await pilot.press("f11")
        await pilot.pause()
        assert not isinstance(app.screen, ContextScreen)
