"""Tags, outlines and text summaries from tree-sitter: one small real-looking sample per language."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest

from moot.context.languages import (
    EXTENSIONS,
    GRAMMARS,
    language,
    language_for_path,
    parser_for,
    query_for,
    query_source,
    supported_languages,
)
from moot.context.outline import OutlineItem, outline, render_outline
from moot.context.summaries import json_keys, summarise
from moot.context.tags import Tag, extract_tags

SAMPLES = Path(__file__).parent / "data" / "samples"
SAMPLE_FILES = {
    "python": "sample.py", "javascript": "sample.js", "typescript": "sample.ts", "tsx": "sample.tsx",
    "go": "sample.go", "rust": "sample.rs", "java": "sample.java", "c": "sample.c", "cpp": "sample.cpp",
    "ruby": "sample.rb", "php": "sample.php", "c_sharp": "sample.cs",
}
CAPTURE = re.compile(r"^(name\.(definition|reference)\.[a-z]+|definition\.[a-z]+|_\w+)$")

# Every definition in each sample: (name, category, line).
DEFS = {
    "python": [
        ("MAX_ITEMS", "constant", 7), ("Item", "class", 11), ("Inventory", "class", 18),
        ("__init__", "method", 24), ("add", "method", 27), ("total", "method", 34),
        ("total_price", "function", 38), ("load", "function", 43),
    ],
    "javascript": [
        ("RETRY_LIMIT", "constant", 5), ("EventQueue", "class", 10), ("constructor", "method", 11),
        ("push", "method", 18), ("flush", "method", 26), ("sendWithRetry", "function", 38),
        ("makeQueue", "function", 46),
    ],
    "typescript": [
        ("Entity", "interface", 6), ("label", "method", 8), ("UserId", "class", 11), ("Role", "class", 13),
        ("UserRepository", "class", 21), ("constructor", "method", 24), ("find", "method", 27),
        ("toUser", "function", 36), ("isAdmin", "function", 40),
    ],
    "tsx": [
        ("ListProps", "interface", 6), ("ItemList", "function", 14), ("choose", "function", 24),
        ("Row", "function", 31), ("Counter", "class", 37), ("render", "method", 39),
    ],
    "go": [
        ("cache", "module", 2), ("DefaultTTL", "constant", 10), ("Store", "interface", 13),
        ("Load", "method", 14), ("Cache", "class", 18), ("entry", "class", 24), ("New", "function", 30),
        ("Get", "method", 35), ("expiry", "function", 49),
    ],
    "rust": [
        ("MAX_LEN", "constant", 6), ("Token", "class", 10), ("Lexer", "class", 16),
        ("Tokenize", "interface", 22), ("tokens", "method", 23), ("new", "method", 28),
        ("next_token", "method", 33), ("fmt", "method", 42), ("classify", "function", 48),
        ("tests", "module", 55), ("lexes_words", "function", 56),
    ],
    "java": [
        ("Chargeable", "interface", 9), ("amountCents", "method", 10), ("Invoice", "class", 16),
        ("MAX_LINES", "constant", 17), ("Invoice", "method", 22), ("add", "method", 27),
        ("amountCents", "method", 35), ("LineItem", "class", 40),
    ],
    "c": [
        ("RING_CAPACITY", "constant", 5), ("ring", "class", 8), ("ring_t", "class", 14),
        ("ring_status", "class", 16), ("RING_OK", "constant", 16), ("RING_FULL", "constant", 16),
        ("RING_EMPTY", "constant", 16), ("ring_push", "function", 18), ("ring_new", "function", 21),
        ("ring_push", "function", 29), ("ring_write", "function", 40),
    ],
    "cpp": [
        ("geo", "module", 5), ("Point", "class", 8), ("Polygon", "class", 14), ("Polygon", "method", 16),
        ("area", "method", 19), ("corners", "method", 22), ("area", "method", 28), ("cross", "function", 37),
        ("clamp", "function", 42),
    ],
    "ruby": [
        ("Feeds", "module", 6), ("DEFAULT_LIMIT", "constant", 7), ("Entry", "class", 10),
        ("initialize", "method", 13), ("to_h", "method", 19), ("Reader", "class", 25),
        ("initialize", "method", 26), ("read", "method", 31), ("from_file", "method", 36),
        ("shorten", "method", 42),
    ],
    "php": [
        ("App\\Billing", "module", 3), ("Payable", "interface", 10), ("amount", "method", 12),
        ("Order", "class", 18), ("STATUS_OPEN", "constant", 20), ("__construct", "method", 24),
        ("addLine", "method", 29), ("amount", "method", 37), ("total_cents", "function", 44),
    ],
    "c_sharp": [
        ("Shop.Catalog", "module", 4), ("ICatalog", "interface", 9), ("Find", "method", 11),
        ("MemoryCatalog", "class", 15), ("MaxProducts", "constant", 17), ("Add", "method", 22),
        ("Find", "method", 30), ("Normalize", "method", 35), ("Product", "class", 39), ("Money", "class", 41),
    ],
}

# Some references in each sample: (name, category, line); a call to another function of the file among them.
REFS = {
    "python": [("Store", "class", 18), ("total_price", "call", 35), ("Item", "class", 38),
               ("add", "call", 52), ("dataclass", "call", 10)],
    "javascript": [("BaseQueue", "class", 10), ("sendWithRetry", "call", 28), ("send", "call", 40),
                   ("EventQueue", "class", 46)],
    "typescript": [("Repository", "class", 21), ("Database", "class", 24), ("toUser", "call", 31),
                   ("User", "class", 37)],
    "tsx": [("ListProps", "class", 14), ("Row", "class", 19), ("choose", "call", 19),
            ("formatLabel", "call", 33), ("CounterProps", "class", 37)],
    "go": [("Store", "class", 21), ("Cache", "class", 35), ("Load", "call", 41), ("expiry", "call", 45)],
    "rust": [("Lexer", "class", 26), ("classify", "call", 37), ("Token", "class", 41), ("write", "call", 43)],
    "java": [("Chargeable", "class", 16), ("IllegalStateException", "class", 29), ("Totals", "class", 36),
             ("sum", "call", 36)],
    "c": [("ring_t", "class", 21), ("malloc", "call", 23), ("ring_push", "call", 43)],
    "cpp": [("Shape", "class", 14), ("Polygon", "class", 28), ("cross", "call", 31), ("abs", "call", 33)],
    "ruby": [("Struct", "class", 10), ("JSON", "class", 32), ("Entry", "class", 33), ("read", "call", 37)],
    "php": [("Model", "class", 18), ("Payable", "class", 18), ("Line", "class", 31),
            ("total_cents", "call", 39)],
    "c_sharp": [("ICatalog", "class", 15), ("InvalidOperationException", "class", 25),
                ("Normalize", "call", 32)],
}

# The outline of each sample: (line, end_line, kind, name, depth, signature, doc).
OUTLINES = {
    "python": [
        (11, 15, "class", "Item", 0, "class Item:", "One line of stock."),
        (18, 35, "class", "Inventory", 0, "class Inventory(Store):",
         "Holds items and answers questions about them."),
        (24, 25, "method", "__init__", 1, "def __init__(self, items: list[Item] | None = None) -> None:", ""),
        (27, 31, "method", "add", 1, "def add(self, item: Item) -> None:",
         "Add an item, refusing when the shelf is full."),
        (34, 35, "method", "total", 1, "def total(self) -> float:", "Sum of every price."),
        (38, 40, "function", "total_price", 0, "def total_price(items: list[Item]) -> float:",
         "Sum the prices of some items."),
        (43, 53, "function", "load", 0, "async def load(path: str, strict: bool = False) -> Inventory:",
         "Read an inventory from a file."),
    ],
    "javascript": [
        (10, 32, "class", "EventQueue", 0, "export class EventQueue extends BaseQueue",
         "A queue of events waiting to be sent."),
        (11, 15, "method", "constructor", 1, "constructor(limit)", ""),
        (18, 23, "method", "push", 1, "push(event)", "Add an event, dropping the oldest when full."),
        (26, 31, "method", "flush", 1, "async flush()", "Send every queued event."),
        (38, 43, "function", "sendWithRetry", 0,
         "export async function sendWithRetry(event, attempts = RETRY_LIMIT)",
         "Send one event, retrying on failure."),
        (46, 46, "function", "makeQueue", 0, "export const makeQueue = (limit = 50) =>",
         "Make a queue with the default limit."),
    ],
    "typescript": [
        (6, 9, "interface", "Entity", 0, "export interface Entity", "Something with an id."),
        (8, 8, "method", "label", 1, "label(): string", ""),
        (11, 11, "class", "UserId", 0, "export type UserId = number", ""),
        (13, 16, "class", "Role", 0, "export enum Role", ""),
        (21, 33, "class", "UserRepository", 0, "export class UserRepository implements Repository<User>",
         "Users kept in a database table."),
        (24, 24, "method", "constructor", 1, "constructor(private readonly db: Database)", ""),
        (27, 32, "method", "find", 1, "async find(id: UserId): Promise<User | undefined>",
         "Find a user by id, caching the result."),
        (36, 38, "function", "toUser", 0, "export function toUser(row: Record<string, unknown>): User",
         "Turn a database row into a user."),
        (40, 40, "function", "isAdmin", 0, "export const isAdmin = (user: User): boolean =>", ""),
    ],
    "tsx": [
        (6, 9, "interface", "ListProps", 0, "interface ListProps", "Props of the item list."),
        (14, 28, "function", "ItemList", 0,
         "export function ItemList({ items, onPick }: ListProps): JSX.Element",
         "Shows items and remembers the picked one."),
        (31, 35, "function", "Row", 0, "const Row = ({ label, active, onClick }: RowProps) =>",
         "One row of the list."),
        (37, 42, "class", "Counter", 0, "export class Counter extends React.Component<CounterProps>", ""),
        (39, 41, "method", "render", 1, "render()", "Render the current count."),
    ],
    "go": [
        (2, 2, "module", "cache", 0, "package cache", "Package cache keeps recently used values in memory."),
        (13, 15, "interface", "Store", 0, "type Store interface",
         "Store is anything that can load a value by key."),
        (14, 14, "method", "Load", 1, "Load(key string) ([]byte, error)", ""),
        (18, 22, "class", "Cache", 0, "type Cache struct", "Cache is a thread-safe map with expiry."),
        (24, 27, "class", "entry", 0, "type entry struct", ""),
        (30, 32, "function", "New", 0, "func New(backing Store) *Cache",
         "New makes a cache in front of a store."),
        (35, 47, "method", "Get", 0, "func (c *Cache) Get(key string) ([]byte, error)",
         "Get returns the cached value or loads it."),
        (49, 51, "function", "expiry", 0, "func expiry(ttl time.Duration) time.Time", ""),
    ],
    "rust": [
        (10, 13, "class", "Token", 0, "pub enum Token", "One lexical token."),
        (16, 19, "class", "Lexer", 0, "pub struct Lexer<'a>", "Splits text into tokens."),
        (22, 24, "interface", "Tokenize", 0, "pub trait Tokenize",
         "Something that can be turned into tokens."),
        (23, 23, "method", "tokens", 1, "fn tokens(&self) -> Vec<Token>", ""),
        (26, 39, "impl", "Lexer", 0, "impl<'a> Lexer<'a>", ""),
        (28, 30, "method", "new", 1, "pub fn new(text: &'a str) -> Self", "Make a lexer over some text."),
        (33, 38, "method", "next_token", 1, "pub fn next_token(&mut self) -> Option<Token>",
         "Read the next token, if any."),
        (41, 45, "impl", "Token", 0, "impl fmt::Display for Token", ""),
        (42, 44, "method", "fmt", 1, "fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result", ""),
        (48, 53, "function", "classify", 0, "fn classify(word: &str) -> Token",
         "Decide whether a word is a number."),
        (55, 59, "module", "tests", 0, "mod tests", ""),
        (56, 58, "function", "lexes_words", 1, "fn lexes_words()", ""),
    ],
    "java": [
        (9, 11, "interface", "Chargeable", 0, "interface Chargeable", "Something that can be charged."),
        (10, 10, "method", "amountCents", 1, "long amountCents()", ""),
        (16, 41, "class", "Invoice", 0, "public class Invoice implements Chargeable",
         "Collects line items and totals them."),
        (22, 24, "method", "Invoice", 1, "public Invoice(String customer)",
         "Create an empty invoice for a customer."),
        (27, 32, "method", "add", 1, "public void add(LineItem item)",
         "Add one line, refusing past the limit."),
        (34, 37, "method", "amountCents", 1, "@Override public long amountCents()", ""),
        (40, 40, "class", "LineItem", 1, "public record LineItem(String label, long cents)",
         "A single priced line."),
    ],
    "c": [
        (8, 12, "class", "ring", 0, "struct ring", "A ring of bytes."),
        (14, 14, "class", "ring_t", 0, "typedef struct ring ring_t", ""),
        (16, 16, "class", "ring_status", 0, "enum ring_status", ""),
        (21, 26, "function", "ring_new", 0, "ring_t *ring_new(void)", "Make an empty ring on the heap."),
        (29, 37, "function", "ring_push", 0, "int ring_push(ring_t *ring, unsigned char byte)",
         "Append one byte; fails when full."),
        (40, 47, "function", "ring_write", 0, "static int ring_write(ring_t *ring, const char *text)",
         "Copy a string into the ring."),
    ],
    "cpp": [
        (5, 46, "module", "geo", 0, "namespace geo", ""),
        (8, 11, "class", "Point", 1, "struct Point", "A point in the plane."),
        (14, 26, "class", "Polygon", 1, "class Polygon : public Shape", "A closed polygon."),
        (16, 16, "method", "Polygon", 2,
         "explicit Polygon(std::vector<Point> points) : points_(std::move(points))",
         ""),
        (19, 19, "method", "area", 2, "double area() const override", "Area by the shoelace formula."),
        (22, 22, "method", "corners", 2, "std::size_t corners() const", "Number of corners."),
        (28, 34, "method", "area", 1, "double Polygon::area() const", ""),
        (37, 39, "function", "cross", 1, "double cross(const Point &a, const Point &b)",
         "Cross product of two points."),
        (42, 44, "function", "clamp", 1, "T clamp(T value, T low, T high)", ""),
    ],
    "ruby": [
        (6, 45, "module", "Feeds", 0, "module Feeds", "Tools for reading feeds."),
        (10, 22, "class", "Entry", 1, "class Entry < Struct", "A parsed feed entry."),
        (13, 16, "method", "initialize", 2, "def initialize(title, url)", ""),
        (19, 21, "method", "to_h", 2, "def to_h", "The entry as a hash for JSON."),
        (25, 39, "class", "Reader", 1, "class Reader", "Reads entries from a JSON document."),
        (26, 28, "method", "initialize", 2, "def initialize(limit = DEFAULT_LIMIT)", ""),
        (31, 34, "method", "read", 2, "def read(text)", "Parse a document into entries."),
        (36, 38, "method", "from_file", 2, "def self.from_file(path)", ""),
        (42, 44, "method", "shorten", 1, "def self.shorten(title, width = 40)",
         "Shorten a title for display."),
    ],
    "php": [
        (3, 3, "module", "App\\Billing", 0, "namespace App\\Billing", ""),
        (10, 13, "interface", "Payable", 0, "interface Payable", "Anything that can be paid."),
        (12, 12, "method", "amount", 1, "public function amount(): Money", ""),
        (18, 41, "class", "Order", 0, "class Order extends Model implements Payable",
         "An order with its lines."),
        (24, 26, "method", "__construct", 1, "public function __construct(private string $customer)", ""),
        (29, 32, "method", "addLine", 1, "public function addLine(string $sku, int $cents): void",
         "Add a line to the order."),
        (37, 40, "method", "amount", 1, "public function amount(): Money", "The sum of every line."),
        (44, 47, "function", "total_cents", 0, "function total_cents(array $lines): int",
         "Sum the cents of some lines."),
    ],
    "c_sharp": [
        (4, 45, "module", "Shop.Catalog", 0, "namespace Shop.Catalog", ""),
        (9, 12, "interface", "ICatalog", 1, "public interface ICatalog", "Looks products up by their code."),
        (11, 11, "method", "Find", 2, "Product Find(string code)", ""),
        (15, 36, "class", "MemoryCatalog", 1, "public class MemoryCatalog : ICatalog",
         "A catalog held in memory."),
        (22, 27, "method", "Add", 2, "public void Add(Product product)",
         "Add a product, replacing one with the same code."),
        (30, 33, "method", "Find", 2, "public Product Find(string code)", "Find a product or return null."),
        (35, 35, "method", "Normalize", 2, "private static string Normalize(string code)", ""),
        (39, 39, "class", "Product", 1, "public record Product(string Code, decimal Price)",
         "A thing for sale."),
        (41, 44, "class", "Money", 1, "public struct Money", ""),
    ],
}


def _sample(lang: str) -> tuple[str, bytes]:
    name = SAMPLE_FILES[lang]
    return name, (SAMPLES / name).read_bytes()


def test_every_language_has_a_sample_and_expectations() -> None:
    assert supported_languages() == sorted(SAMPLE_FILES)
    assert set(DEFS) == set(REFS) == set(OUTLINES) == set(GRAMMARS)


@pytest.mark.parametrize("lang", sorted(GRAMMARS))
def test_query_compiles_with_well_named_captures(lang: str) -> None:
    query = query_for(lang)
    assert query.pattern_count > 0
    names = {query.capture_name(i) for i in range(query.capture_count)}
    assert all(CAPTURE.match(name) for name in names), names
    assert any(name.startswith("name.definition.") for name in names)
    assert any(name.startswith("name.reference.") for name in names)
    assert query_for(lang) is query  # compiled once


@pytest.mark.parametrize("lang", sorted(GRAMMARS))
def test_sample_defs(lang: str) -> None:
    path, source = _sample(lang)
    tags = extract_tags(path, source)
    assert all(isinstance(t, Tag) and t.path == path for t in tags)
    assert [(t.name, t.category, t.line) for t in tags if t.kind == "def"] == DEFS[lang]


@pytest.mark.parametrize("lang", sorted(GRAMMARS))
def test_sample_refs(lang: str) -> None:
    path, source = _sample(lang)
    refs = {(t.name, t.category, t.line) for t in extract_tags(path, source) if t.kind == "ref"}
    assert set(REFS[lang]) <= refs
    defs = {(t.name, t.line) for t in extract_tags(path, source) if t.kind == "def"}
    assert not {(name, line) for name, _, line in refs} & defs  # a name being defined is not also a use


@pytest.mark.parametrize("lang", sorted(GRAMMARS))
def test_sample_outline(lang: str) -> None:
    path, source = _sample(lang)
    items = outline(path, source)
    got = [(i.line, i.end_line, i.kind, i.name, i.depth, i.signature, i.doc) for i in items]
    assert got == OUTLINES[lang]


def test_tags_are_sorted_frozen_and_hashable() -> None:
    path, source = _sample("python")
    tags = extract_tags(path, source)
    assert [t.line for t in tags] == sorted(t.line for t in tags)
    assert len(set(tags)) == len(tags)
    with pytest.raises(AttributeError):
        tags[0].name = "other"  # type: ignore[misc]


def test_explicit_language_overrides_the_extension() -> None:
    source = (SAMPLES / "sample.py").read_bytes()
    by_name = [(t.name, t.kind, t.category, t.line) for t in extract_tags("sample.py", source)]
    forced = extract_tags("notes.txt", source, "python")
    assert [(t.name, t.kind, t.category, t.line) for t in forced] == by_name
    assert {t.path for t in forced} == {"notes.txt"}


def test_extensions_map_to_languages() -> None:
    expected = {
        "a.py": "python", "a.pyi": "python", "a.js": "javascript", "a.mjs": "javascript",
        "a.cjs": "javascript", "a.jsx": "javascript", "a.ts": "typescript", "a.tsx": "tsx", "a.go": "go",
        "a.rs": "rust", "a.java": "java", "a.c": "c", "a.h": "c", "a.cc": "cpp", "a.cpp": "cpp",
        "a.cxx": "cpp", "a.hpp": "cpp", "a.hh": "cpp", "a.hxx": "cpp", "a.rb": "ruby", "a.php": "php",
        "a.cs": "c_sharp", "src/A.PY": "python", "Rakefile": "ruby", "README": None, "a.txt": None,
        "a.md": None, ".py": None,
    }
    assert {path: language_for_path(path) for path in expected} == expected
    assert set(EXTENSIONS.values()) == set(GRAMMARS)


def test_grammars_load_once_and_parse() -> None:
    assert language("python") is language("python")
    tree = parser_for("go").parse(b"package main\n")
    assert tree.root_node.type == "source_file"
    assert "; inherits: typescript" in query_source("tsx")
    assert "interface_declaration" in query_source("tsx")  # the TypeScript patterns come along


def test_unknown_language_yields_nothing() -> None:
    source = b"def looks_like_python():\n    pass\n"
    assert extract_tags("notes.txt", source) == []
    assert extract_tags("Makefile", source) == []
    assert extract_tags("a.py", source, "cobol") == []
    assert outline("notes.txt", source) == []
    assert summarise("notes.txt", source) is None


def test_syntax_errors_keep_the_readable_tags() -> None:
    source = (b"def good():\n    return helper()\n\ndef broken(:\n    pass\n\n"
              b"class Later(Base):\n    def method(self):\n        pass\n")
    defs = {(t.name, t.category) for t in extract_tags("broken.py", source) if t.kind == "def"}
    assert {("good", "function"), ("Later", "class"), ("method", "method")} <= defs
    assert [i.name for i in outline("broken.py", source) if i.name != "broken"] == ["good", "Later", "method"]
    js = b"function ok() { return 1 }\nfunction bad( { \nclass After { run() { ok() } }\n"
    assert "ok" in {t.name for t in extract_tags("broken.js", js) if t.kind == "def"}


@pytest.mark.parametrize("source", [
    b"",
    b"\x00\x01\x02\xff\xfe",
    "# caf\xe9\ndef caf\xe9(): pass\n".encode("latin-1"),
    "def naïve():\n    '''Ünïcödé döc.'''\n".encode("utf-16"),
    b"\xef\xbb\xbfclass WithBom:\n    pass\n",
])
def test_odd_bytes_never_crash(source: bytes) -> None:
    for path in ("odd.py", "odd.go", "odd.rs", "odd.cs", "odd.php"):
        tags = extract_tags(path, source)
        items = outline(path, source)
        assert isinstance(tags, list) and isinstance(items, list)
        render_outline(path, items)


def test_utf8_names_and_bom() -> None:
    tags = extract_tags("u.py", "class Café:\n    def naïve(self): pass\n".encode())
    assert [(t.name, t.line) for t in tags] == [("Café", 1), ("naïve", 2)]
    assert [t.name for t in extract_tags("b.py", b"\xef\xbb\xbfclass WithBom:\n    pass\n")] == ["WithBom"]


def test_nested_functions_stay_out_of_the_outline() -> None:
    source = (b"def outer():\n    def inner():\n        pass\n"
              b"    class Local:\n        pass\n    return inner\n")
    assert [(i.name, i.depth) for i in outline("n.py", source)] == [("outer", 0)]
    assert {t.name for t in extract_tags("n.py", source) if t.kind == "def"} == {"outer", "inner", "Local"}


def _docs(path: str, source: bytes) -> list[tuple[str, str]]:
    return [(i.name, i.doc) for i in outline(path, source)]


def test_doc_comments_must_touch_the_definition() -> None:
    rust = (b"//! Crate doc.\n\n/// Doc of f.\n/// More.\n#[inline]\nfn f() {}\n// not g's\n\nfn g() {}\n")
    assert _docs("a.rs", rust) == [("f", "Doc of f."), ("g", "")]
    ts = (b"const x = 1; // about x\nfunction f() {}\n\nclass A {\n  // Handles clicks.\n"
          b"  @HostListener('click')\n  onClick() {}\n}\n")
    assert _docs("a.ts", ts) == [("f", ""), ("A", ""), ("onClick", "Handles clicks.")]
    go = b"package main\n\n// The group.\ntype (\n\t// A is first.\n\tA struct{}\n\tB int\n)\n"
    assert [(i.name, i.signature, i.doc) for i in outline("a.go", go)][1:] == [
        ("A", "A struct", "A is first."), ("B", "B int", "")]
    c = b"/**\n * Adds.\n *\n * Really.\n */\nint add(int a, int b);\n"
    assert _docs("a.h", c) == [("add", "Adds.")]


def test_long_signatures_are_capped_and_collapsed() -> None:
    params = ",\n    ".join(f"argument_{n}: int = {n}" for n in range(20))
    source = f"def wide(\n    {params},\n) -> None:\n    pass\n".encode()
    (item,) = outline("w.py", source)
    assert len(item.signature) <= 160 and item.signature.endswith("…")
    assert "\n" not in item.signature and "  " not in item.signature


def test_render_outline() -> None:
    path, source = _sample("python")
    text = render_outline(path, outline(path, source))
    assert text.splitlines()[:4] == [
        "sample.py:",
        "  L11 class Item:  # One line of stock.",
        "  L18 class Inventory(Store):  # Holds items and answers questions about them.",
        "    L24 def __init__(self, items: list[Item] | None = None) -> None:",
    ]
    assert render_outline("empty.py", []) == "empty.py:"


def _summary(name: str) -> list[tuple[str, str, int, int, int, str]]:
    items = summarise(name, (SAMPLES / name).read_bytes())
    assert items is not None
    return [(i.kind, i.name, i.line, i.end_line, i.depth, i.doc) for i in items]


def test_markdown_headings() -> None:
    assert _summary("sample.md") == [
        ("heading", "Feed reader", 6, 34, 0, "Reads RSS and JSON feeds and keeps the newest entries."),
        ("heading", "Install", 10, 16, 1, ""),
        ("heading", "Usage", 17, 26, 1, "Run `feeds fetch` to pull every configured feed."),
        ("heading", "Options", 21, 26, 2, ""),
        ("heading", "Configuration", 27, 31, 1, "Settings live in `feeds.toml`."),
        ("heading", "Licence", 32, 34, 1, "MIT."),
    ]
    items = summarise("README.markdown", b"Title\n=====\n\n## Part ##\n")
    assert items is not None and [(i.signature, i.depth) for i in items] == [("# Title", 0), ("## Part", 1)]


def test_yaml_keys() -> None:
    assert _summary("sample.yaml") == [
        ("key", "name", 2, 2, 0, "CI workflow for the feed reader."),
        ("key", "on", 5, 8, 0, "Run on pushes and pull requests."),
        ("key", "env", 10, 11, 0, ""),
        ("key", "jobs", 13, 21, 0, ""),
        ("key", "quoted key", 22, 22, 0, ""),
    ]


def test_toml_tables_and_top_level_keys() -> None:
    assert _summary("sample.toml") == [
        ("key", "title", 2, 2, 0, "Feed reader settings."),
        ("key", "refresh_minutes", 3, 3, 0, ""),
        ("key", "description", 4, 7, 0, ""),
        ("table", "feeds.python", 10, 12, 0, "One section per feed."),
        ("table", 'feeds."rust lang"', 14, 15, 0, ""),
        ("table", "filters", 17, 18, 0, ""),
        ("table", "filters", 20, 21, 0, ""),
    ]


def test_json_keys() -> None:
    assert _summary("sample.json") == [
        ("key", "name", 2, 2, 0, ""), ("key", "version", 3, 3, 0, ""), ("key", "private", 4, 4, 0, ""),
        ("key", "scripts", 5, 8, 0, ""), ("key", "keywords", 9, 9, 0, ""),
        ("key", "description", 10, 10, 0, ""), ("key", "main", 11, 11, 0, ""),
    ]
    items = summarise("package.json", (SAMPLES / "sample.json").read_bytes())
    assert items is not None
    assert items[3].signature == '"scripts": {…}'
    assert items[5].signature == '"description": "Reads \\"feeds\\": RSS, Atom and JSON."'


@pytest.mark.parametrize(("text", "keys"), [
    ('{"a": 1, "b": [1, 2', ["a", "b"]),
    ('{"a": {"nested": 1}, "b": "unterminated', ["a", "b"]),
    ("[1, 2, 3]", []),
    ("", []),
    ("not json at all", []),
    ('{"a": 1}} trailing {"z": 2}', ["a"]),
])
def test_broken_json_returns_what_it_can(text: str, keys: list[str]) -> None:
    assert [i.name for i in json_keys(text)] == keys
    assert [i.name for i in summarise("x.json", text.encode()) or []] == keys


def test_summaries_tolerate_garbage() -> None:
    for name in ("x.md", "x.yaml", "x.yml", "x.toml", "x.json"):
        items = summarise(name, b"\xff\xfe\x00garbage [ { :\n\t- - ]]\n")
        assert isinstance(items, list)
        assert all(isinstance(i, OutlineItem) for i in items)


def test_the_whole_set_is_fast() -> None:
    start = time.perf_counter()
    for lang in GRAMMARS:
        path, source = _sample(lang)
        extract_tags(path, source)
        outline(path, source)
    assert time.perf_counter() - start < 1.0
