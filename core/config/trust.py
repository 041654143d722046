"""Trust in a repository's own config file (``.moot/config.toml``).

The user's config is trusted. A repository's is not, for anything that makes moot send a key, contact a host, run
a program or read a file outside the repository: a cloned repository could otherwise point the user's model alias
at its own server with the user's ``api_key_env``, or have its ``test_command`` run on ``moot run``.

What a project file may always set (an allow-list: a key not named here is trusted-only, so a key added to the
schema later is safe until someone decides otherwise):

* ``[ensemble]``: ``default_strategy``, ``max_proposers``, ``rank``, ``context_budget``, ``embedded_target_s``,
  and ``max_usd`` when it lowers the user's own limit (a project may not raise it);
* ``[context]``: everything (``budgets``, ``default_budget``, ``strategy``);
* ``[roles]``, ``[strategies]``, ``[router] hosted``, ``[agents] escalation``: which of the configured models does
  what (a name of a model this file defines but which is not applied is dropped with it);
* ``[agents]``: ``debug_limit``, ``edit_retries``, ``accept``, ``candidates``;
* ``[router]``: ``local_max_latency_s``;  ``[project]``: ``test_timeout_s``;
* ``[variants.<name>]``: ``prompt`` (text written into the prompt, as the repository's own files are);
* ``[[models]]`` naming an alias of the user's own: ``max_tokens``, ``temperature``, ``timeout_s``, ``retries``,
  ``num_ctx``;
* ``[[models]]`` adding a model that needs no key and no host of its own: ``local/<name>`` without ``path``, or
  ``ollama/<tag>`` without ``api_base`` (it runs on the user's own Ollama host).

Trusted-only (applied once the user trusts this very file):

* ``[[models]]`` naming an alias of the user's own: ``model``, ``api_base``, ``api_key_env``, ``path`` (where its
  calls go, which key they carry, which file the engine loads);
* ``[[models]]`` adding any other model: a hosted one (it would be called with the user's provider key), one with an
  ``api_base`` (a host) or a ``path`` (a file for the engine to load);
* ``[ollama] host`` (where every Ollama model's requests go);
* ``[project] test_command`` (a shell command moot runs);
* ``[agents] test_env_allow`` (secret-holding variables the test command would see);
* ``[variants.<name>] file`` (a file read from anywhere, and sent to the models);
* ``[keys]`` (what the user's keys do: a hostile file could put accept on a key pressed for something else);
* ``[ensemble] max_usd`` above the user's own limit;
* anything else not in the list above.

Trust is remembered per repository together with the SHA-256 of the file, in ``trust.json`` in moot's data dir
(never in the repository), so a changed file is asked about again. So is a "no", so the user is asked once.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import os
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from ..providers.kinds import kind_of
from .loader import data_dir

State = Literal["trusted", "declined", "unknown"]

#: Keys a project file may set in each table, trusted or not (``"*"``: every key of the table).
HARMLESS: dict[str, frozenset[str]] = {
    "ensemble": frozenset({"default_strategy", "max_proposers", "max_usd", "rank", "context_budget",
                           "embedded_target_s"}),
    "context": frozenset({"*"}),
    "roles": frozenset({"*"}),
    "strategies": frozenset({"*"}),
    "agents": frozenset({"debug_limit", "escalation", "edit_retries", "accept", "candidates", "workflow"}),
    "router": frozenset({"local_max_latency_s", "hosted"}),
    "project": frozenset({"test_timeout_s"}),
    "thresholds": frozenset({"*"}),
    "effort_policy": frozenset({"*"}),
}
#: Fields of one of the user's own models that a project file may tune.
MODEL_TUNING = frozenset({"name", "max_tokens", "temperature", "seed", "timeout_s", "retries", "num_ctx"})

_WHY = {
    "api_base": "sends this model's requests, and its key, to that host",
    "hosts": "sends requests, and keys, to those hosts",
    "pool": "sends this model's requests, and its key, to those hosts",
    "api_key_env": "hands this model the key in that variable",
    "model": "changes which provider, and which key, this model uses",
    "path": "has the engine load that file",
    "ollama.host": "sends every Ollama request to that host",
    "project.test_command": "a command moot would run",
    "agents.test_env_allow": "hands those secrets to the test command",
    "keys": "changes what your keys do",
    "checkpoints": "changes where moot stops to ask you",
    "file": "reads that file and sends it to the models",
}


@dataclass(frozen=True)
class Ignored:
    """One thing a project file says that is not applied until the file is trusted."""

    key: str
    """Where it is, e.g. ``models[gpt].api_base`` or ``project.test_command``."""
    value: Any
    """What the file sets it to (show it with ``shown``)."""
    why: str
    """Why it waits for trust, in a few words."""

    def line(self) -> str:
        """``key = value  (why)``, safe to print on a terminal."""
        return f"{safe(self.key)} = {shown(self.value)}  ({self.why})"


@dataclass
class ProjectTrust:
    """The project config file and what trust decides about it."""

    root: Path
    """The repository."""
    path: Path
    """Its ``.moot/config.toml``."""
    digest: str
    """SHA-256 of the file's bytes, as it was read."""
    state: State
    """What the user said about this very file: trusted, declined, or not asked yet."""
    ignored: list[Ignored] = field(default_factory=list)
    """What is not applied (empty when the file is trusted, or says nothing that needs trust)."""

    @property
    def applied(self) -> bool:
        """Whether every key of the file applies."""
        return not self.ignored

    @property
    def should_ask(self) -> bool:
        """Whether to ask the user: something waits for trust and the user was never asked about this file."""
        return bool(self.ignored) and self.state == "unknown"

    def summary(self) -> str:
        """One line naming what is ignored, safe for a terminal or a notice."""
        keys = ", ".join(safe(i.key) for i in self.ignored[:6])
        more = f" and {len(self.ignored) - 6} more" if len(self.ignored) > 6 else ""
        return f"ignored from the untrusted {safe(str(self.path))}: {keys}{more}"


# ------------------------------------------------------------------------------------------ showing


_UNSAFE = {"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"}


def safe(text: str, limit: int = 200) -> str:
    """``text`` with every control, format (bidirectional overrides, zero-width) and unassigned character written
    as an escape, cut to ``limit`` characters: nothing in it can move the cursor, set a title or the clipboard."""
    out = []
    for ch in text:
        if unicodedata.category(ch) in _UNSAFE:
            code = ord(ch)
            out.append(f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}")
        else:
            out.append(ch)
    s = "".join(out)
    return s if len(s) <= limit else s[: limit - 1] + "…"


def shown(value: Any) -> str:
    """A TOML-like rendering of a value from the file, safe for a terminal."""
    if isinstance(value, str):
        return '"' + safe(value.replace("\\", "\\\\").replace('"', '\\"')) + '"'
    if isinstance(value, Mapping):
        return "{ " + ", ".join(f"{safe(str(k))} = {shown(v)}" for k, v in value.items()) + " }"
    if isinstance(value, list):
        return "[" + ", ".join(shown(v) for v in value) + "]"
    if isinstance(value, bool):
        return "true" if value else "false"
    return safe(str(value))


# -------------------------------------------------------------------------------------- remembering


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def trust_file() -> Path:
    """Where the user's answers are kept: ``trust.json`` in moot's data dir."""
    return data_dir() / "trust.json"


def _read() -> dict[str, Any]:
    try:
        data = json.loads(trust_file().read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data.get("projects", {}) if isinstance(data, dict) and isinstance(data.get("projects"), dict) else {}


def _write(projects: dict[str, Any]) -> None:
    path = trust_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        json.dump({"version": 1, "projects": projects}, f, indent=1, sort_keys=True)
    os.replace(tmp, path)


_FOR_NOW: set[tuple[str, str]] = set()
"""(repository, digest) trusted for this process only (``--trust``)."""


def remembered(root: Path, sha: str) -> State:
    """What the user said about this repository's config file with this digest."""
    if (str(root), sha) in _FOR_NOW:
        return "trusted"
    entry = _read().get(str(root))
    if not isinstance(entry, dict) or entry.get("sha256") != sha:
        return "unknown"
    return "trusted" if entry.get("trusted") is True else "declined"


def remember(root: Path, sha: str, trusted: bool) -> None:
    """Keep the user's answer about this repository's config file (only the latest file is remembered)."""
    projects = _read()
    projects[str(root)] = {"sha256": sha, "trusted": trusted,
                           "at": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")}
    _write(projects)


def forget(root: Path) -> bool:
    """Forget any answer about this repository; True when there was one."""
    projects = _read()
    if projects.pop(str(root), None) is None:
        return False
    _write(projects)
    return True


def trust_for_now(root: Path, sha: str) -> None:
    """Trust this repository's config file with this digest for the rest of this process (``--trust``)."""
    _FOR_NOW.add((str(root), sha))


# ---------------------------------------------------------------------------------------- splitting


def split(data: Mapping[str, Any], earlier: Mapping[str, Any],
          default_aliases: Iterable[str] = ()) -> tuple[dict[str, Any], list[Ignored]]:
    """Split an untrusted project file's ``data`` into what applies and what waits for trust.

    ``earlier`` is the merged data of the layers below (the user's file); ``default_aliases`` the models offered
    when no layer configures one."""
    kept: dict[str, Any] = {}
    ignored: list[Ignored] = []
    own = {m.get("name") for m in earlier.get("models", []) if isinstance(m, Mapping)}
    dropped: set[str] = set()

    models = []
    for m in data.get("models", []):
        alias = str(m.get("name"))
        if alias in own:
            models.append({k: v for k, v in m.items() if k in MODEL_TUNING})
            ignored += [Ignored(f"models[{alias}].{k}", v, _WHY.get(k, "not known to be harmless"))
                        for k, v in m.items() if k not in MODEL_TUNING]
            continue
        kind = kind_of(str(m.get("model", "")))
        extra = set(m) - MODEL_TUNING - {"model"}
        if "model" in m and kind.local and not extra:
            models.append(dict(m))
        else:
            dropped.add(alias)
            why = ("a new model sending its requests to that host" if "api_base" in m else
                   "a new model called with your provider key" if not kind.local else
                   "a new model with a file of its own")
            ignored.append(Ignored(f"models[{alias}]", {k: v for k, v in m.items() if k != "name"}, why))
    if models:
        kept["models"] = models
    aliases = own | {m["name"] for m in models}
    if not aliases:
        aliases = set(default_aliases)

    def gone(alias: Any) -> bool:  # a name of a model this file defines but which is not applied
        return alias in dropped and alias not in aliases

    for table, value in data.items():
        if table == "models":
            continue
        if table == "variants":
            for name, v in value.items():
                if "file" in v:
                    ignored.append(Ignored(f"variants.{name}.file", v["file"], _WHY["file"]))
                rest = {k: x for k, x in v.items() if k != "file"}
                if rest:
                    kept.setdefault("variants", {})[name] = rest
            continue
        allowed = HARMLESS.get(table)
        if allowed is None or not isinstance(value, Mapping):
            for k, v in (value.items() if isinstance(value, Mapping) else [("", value)]):
                key = f"{table}.{k}" if k else table
                ignored.append(Ignored(key, v, _WHY.get(key) or _WHY.get(table) or "not known to be harmless"))
            continue
        for k, v in value.items():
            if "*" not in allowed and k not in allowed:
                key = f"{table}.{k}"
                ignored.append(Ignored(key, v, _WHY.get(key, "not known to be harmless")))
            else:
                kept.setdefault(table, {})[k] = v

    # names of models that are not applied go with them
    def drop(table: str, key: str, why: str) -> None:
        value = kept[table].pop(key)
        ignored.append(Ignored(f"{table}.{key}", value, why))
        if not kept[table]:
            del kept[table]

    for role, alias in list(kept.get("roles", {}).items()):
        if gone(alias):
            drop("roles", role, f"names the new model {safe(str(alias))}")
    for name, strat in list(kept.get("strategies", {}).items()):
        names = [m.get("model") for m in strat.get("members", [])] + [strat.get("model"), strat.get("judge")]
        if any(gone(a) for a in names):
            drop("strategies", name, "names a new model")
    if gone(kept.get("agents", {}).get("escalation")):
        drop("agents", "escalation", "names a new model")
    for role, alias in list(kept.get("router", {}).get("hosted", {}).items()):
        if gone(alias):
            hosted = kept["router"]["hosted"]
            ignored.append(Ignored(f"router.hosted.{role}", hosted.pop(role), "names a new model"))
    if "strategies" in data and kept.get("ensemble", {}).get("default_strategy") in set(data["strategies"]) - set(
            kept.get("strategies", {})):
        drop("ensemble", "default_strategy", "names a strategy that is not applied")
    limit = earlier.get("ensemble", {}).get("max_usd")
    asked = kept.get("ensemble", {}).get("max_usd")
    if limit is not None and asked is not None and asked > limit:
        drop("ensemble", "max_usd", f"raises your own cost limit of {limit}")
    return kept, ignored

