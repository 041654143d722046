"""Inventory bookkeeping for a small shop."""

from __future__ import annotations

from dataclasses import dataclass

MAX_ITEMS = 100


@dataclass
class Item:
    """One line of stock."""

    name: str
    price: float


class Inventory(Store):
    """Holds items and answers questions about them.

    Items are kept in insertion order.
    """

    def __init__(self, items: list[Item] | None = None) -> None:
        self.items = list(items or [])

    def add(self, item: Item) -> None:
        """Add an item, refusing when the shelf is full."""
        if len(self.items) >= MAX_ITEMS:
            raise OverflowError("shelf full")
        self.items.append(item)

    # Sum of every price.
    def total(self) -> float:
        return total_price(self.items)


def total_price(items: list[Item]) -> float:
    """Sum the prices of some items."""
    return sum(item.price for item in items)


async def load(path: str,
               strict: bool = False) -> Inventory:
    """Read an inventory from a file.

    The file holds one item per line.
    """
    inventory = Inventory()
    for line in open(path):
        name, price = line.split(",")
        inventory.add(Item(name, float(price)))
    return inventory
