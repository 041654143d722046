"""Reading the config layers and reporting their mistakes by file, line and key.

Layers, later wins: built-in defaults < user file (``MOOT_CONFIG``, else ``$XDG_CONFIG_HOME/moot/config.toml``)
< project file ``.moot/config.toml`` < overrides from the command line.

Importing this module does not import pydantic (the schema in ``models``, 0.1 s to import and build): the paths
are needed by everything that opens the database, and a config with nothing to check (no file, no override) is
built only when first used, so the workbench draws its first frame without it.
"""

from __future__ import annotations

import os
import re
import subprocess
import threading
import tomllib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..providers.kinds import OLLAMA

if TYPE_CHECKING:
    from .models import Config, ModelConfig
    from .trust import ProjectTrust

PROJECT_FILE = Path(".moot") / "config.toml"
"""A repository's own config file, relative to its root (what it may set untrusted: see ``trust``)."""

#: The hosted model offered by default for each provider whose key is in the environment.
class ConfigError(Exception):
    """A config mistake, with where it is. ``str()`` is the message a user sees."""

    def __init__(self, message: str, *, file: str | None = None, line: int | None = None, key: str | None = None):
        self.file, self.line, self.key, self.detail = file, line, key, message
        where = ""
        if file:
            where = f"{file}:{line}: " if line else f"{file}: "
        super().__init__(f"{where}{key + ': ' if key else ''}{message}")


@dataclass
class Layer:
    """One config file's contents and where it came from."""

    path: Path
    text: str
    data: dict[str, Any]


class LoadedConfig:
    """The merged config plus what it was made of.

    Give ``config``, or ``build``: a function that makes it when ``config`` is first read (``load_config`` does
    this for a config with nothing to check, so the workbench can draw its first frame before the schema is
    imported)."""

    def __init__(self, config: Config | None = None, layers: list[Layer] | None = None,
                 project_dir: Path | None = None, defaulted_models: bool = False, *,
                 build: Callable[[], Config] | None = None, project_trust: ProjectTrust | None = None) -> None:
        if (config is None) == (build is None):
            raise TypeError("LoadedConfig needs either config or build")
        self._config = config
        self._build = build
        self._lock = threading.Lock()
        self.layers: list[Layer] = layers if layers is not None else []
        self.project_dir: Path = project_dir if project_dir is not None else Path.cwd()
        self.defaulted_models = defaulted_models
        """True when no model was configured and the built-in defaults were used."""
        self.project_trust = project_trust
        """The repository's own config file and what of it is not applied until the user trusts it; None when
        there is no such file."""

    @property
    def config(self) -> Config:
        if self._config is None:
            with self._lock:  # read from a thread and the event loop at once, it is still built only once
                if self._config is None:
                    assert self._build is not None
                    self._config, self._build = self._build(), None
        return self._config

    @config.setter
    def config(self, config: Config) -> None:
        self._config, self._build = config, None

    @property
    def built(self) -> bool:
        """Whether ``config`` exists yet (reading it builds it)."""
        return self._config is not None

    def __repr__(self) -> str:
        config = repr(self._config) if self._config is not None else "(not built yet)"
        return (f"LoadedConfig(config={config}, layers={self.layers!r}, project_dir={self.project_dir!r}, "
                f"defaulted_models={self.defaulted_models!r}, project_trust={self.project_trust!r})")


# ---------------------------------------------------------------------------------------------- paths


def user_config_path() -> Path:
    if env := os.environ.get("MOOT_CONFIG"):
        return Path(env).expanduser()
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "moot" / "config.toml"


def data_dir() -> Path:
    """Where moot keeps its database and caches: ``MOOT_HOME``, else ``$XDG_DATA_HOME/moot``."""
    if env := os.environ.get("MOOT_HOME"):
        return Path(env).expanduser()
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "moot"


def project_root(start: Path | None = None) -> Path:
    """The git top level containing ``start``, else ``start`` itself."""
    start = (start or Path.cwd()).resolve()
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--show-toplevel"], cwd=start, capture_output=True, text=True, timeout=5
        )
        if out.returncode == 0 and out.stdout.strip():
            return Path(out.stdout.strip())
    except (OSError, subprocess.SubprocessError):
        pass
    return start


# --------------------------------------------------------------------------------------- locating keys

_HEADER = re.compile(r"^\s*(\[\[?)\s*([^\]]+?)\s*\]\]?\s*(#.*)?$")
_KEY = re.compile(r"""^\s*((?:[A-Za-z0-9_-]+|"[^"]*"|'[^']*')(?:\s*\.\s*(?:[A-Za-z0-9_-]+|"[^"]*"|'[^']*'))*)\s*=""")


def _split_dotted(s: str) -> tuple[str, ...]:
    parts = re.findall(r"""[A-Za-z0-9_-]+|"[^"]*"|'[^']*'""", s)
    return tuple(p.strip("\"'") for p in parts)


def key_lines(text: str) -> dict[tuple[Any, ...], int]:
    """Map each table and key path in a TOML text to the line (1-based) where it is written."""
    lines: dict[tuple[Any, ...], int] = {}
    table: tuple[Any, ...] = ()
    counts: dict[tuple[Any, ...], int] = {}
    for n, raw in enumerate(text.splitlines(), start=1):
        if m := _HEADER.match(raw):
            path = _split_dotted(m.group(2))
            if m.group(1) == "[[":
                idx = counts.get(path, 0)
                counts[path] = idx + 1
                table = (*path, idx)
            else:
                table = path
            lines.setdefault(table, n)
            continue
        if m := _KEY.match(raw):
            lines.setdefault((*table, *_split_dotted(m.group(1))), n)
    return lines


def locate(text: str, loc: Sequence[Any]) -> int | None:
    """The line of the longest prefix of ``loc`` written in ``text``."""
    table = key_lines(text)
    for end in range(len(loc), 0, -1):
        if (line := table.get(tuple(loc[:end]))) is not None:
            return line
    return None


def dotted_key(loc: Sequence[Any]) -> str:
    """A pydantic error location as the key a user reads (``phases[0].rounds``, ``models[1].model``)."""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def friendly_error(err: Mapping[str, Any]) -> str:
    """A pydantic error in a user's words."""
    if err.get("type") == "extra_forbidden":
        return "unknown key"
    if err.get("type") == "missing":
        return "required key is missing"
    return str(err.get("msg", "invalid value"))


# --------------------------------------------------------------------------------------------- loading


def named_user_config(path: Path) -> Path:
    """``path``, checked: a file named outright by ``MOOT_CONFIG`` must exist (a misspelt name is not quietly
    the defaults). ``MOOT_CONFIG=/dev/null`` (``os.devnull``) says there is none."""
    if os.environ.get("MOOT_CONFIG") and str(path) != os.devnull and not path.exists():
        raise ConfigError("MOOT_CONFIG names this file and it does not exist (unset MOOT_CONFIG for "
                          f"{Path(os.environ.get('XDG_CONFIG_HOME') or '~/.config') / 'moot' / 'config.toml'}, "
                          f"or set it to {os.devnull} for none)", file=str(path))
    return path


def read_layer(path: Path) -> Layer | None:
    if not path.is_file():
        return None
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"cannot read: {e}", file=str(path)) from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        m = re.search(r"\(at line (\d+), column (\d+)\)", str(e))
        line = int(m.group(1)) if m else None
        msg = re.sub(r"\s*\(at line \d+, column \d+\)", "", str(e))
        raise ConfigError(f"not valid TOML: {msg}", file=str(path), line=line) from None
    layer = Layer(path, text, data)
    _validate_layer(layer)
    return layer


def _validate_layer(layer: Layer) -> None:
    """Check one file alone, so its mistakes are reported against it. A ``[[models]]`` entry may leave out
    ``model`` here (it may refine an alias from an earlier layer); the merged config is checked for that."""
    from pydantic import ValidationError

    from .models import Config

    try:
        Config.model_validate(layer.data)
    except ValidationError as e:
        errors = [
            x for x in e.errors()
            if not (x["type"] == "missing" and len(x["loc"]) == 3 and x["loc"][0] == "models" and x["loc"][2] == "model")
        ]
        if errors:
            loc = errors[0]["loc"]
            raise ConfigError(
                friendly_error(errors[0]), file=str(layer.path), line=locate(layer.text, loc), key=dotted_key(loc)
            ) from None
    names = [m.get("name") for m in layer.data.get("models", []) if isinstance(m, Mapping)]
    for j, name in enumerate(names):
        if name in names[:j]:
            raise ConfigError(f"model alias {name!r} is defined twice", file=str(layer.path),
                              line=locate(layer.text, ("models", j, "name")), key=f"models[{j}].name")


def merge(base: dict[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    """Merge one layer over another: tables key by key, ``models`` by alias, other arrays replaced."""
    out = dict(base)
    for key, value in over.items():
        if key == "models" and isinstance(value, list):
            by_name = {m.get("name"): dict(m) for m in out.get("models", [])}
            for m in value:
                by_name[m.get("name")] = {**by_name.get(m.get("name"), {}), **m}
            out["models"] = list(by_name.values())
        elif isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            if key in ("strategies", "variants"):
                out[key] = {**out[key], **value}
            else:
                out[key] = merge(out[key], value)
        else:
            out[key] = value
    return out


def default_models(environ: Mapping[str, str] | None = None) -> list[ModelConfig]:
    """The models offered when none is configured: the embedded one, plus one per provider key present.

    Ollama's pulled models are added by discovery, which needs the network.
    """
    from ..providers.kinds import HOSTED_PROVIDERS, KINDS
    from .models import ModelConfig

    env = os.environ if environ is None else environ
    models = [ModelConfig(**kind.default_model) for kind in KINDS if kind.default_model]
    for provider in HOSTED_PROVIDERS:
        if env.get(provider.key_env) and provider.default_model:
            models.append(ModelConfig(name=provider.prefix, model=provider.default_model))
    return models


def load_config(project_dir: Path | None = None, overrides: Mapping[str, Any] | None = None, *,
                trust: bool | None = None) -> LoadedConfig:
    """Read, merge and check every layer. Raises ``ConfigError`` naming the file, line and key at fault.

    The project file applies whole only when the user trusts it (``trust`` None: as remembered; True or False
    decides for this load); otherwise what it may not set untrusted is left out, and listed in
    ``project_trust``. With no file and no override there is nothing that could be wrong: the defaults are built
    when the config is first read, from the environment as it is now."""
    root = project_root(project_dir)
    user = read_layer(named_user_config(user_config_path()))
    project = read_layer(root / PROJECT_FILE)
    project_trust = None
    if project is not None:
        project, project_trust = _guarded(project, user, root, trust)
    layers = [layer for layer in (user, project) if layer]
    if not layers and not overrides:
        environ = dict(os.environ)
        return LoadedConfig(build=lambda: _checked({}, [], environ), project_dir=root, defaulted_models=True)
    merged: dict[str, Any] = {}
    for layer in layers:
        merged = merge(merged, layer.data)
    if overrides:
        merged = merge(merged, overrides)
    config = _checked(merged, layers)
    return LoadedConfig(config=config, layers=layers, project_dir=root, defaulted_models=not merged.get("models"),
                        project_trust=project_trust)


def _guarded(project: Layer, user: Layer | None, root: Path, trust: bool | None) -> tuple[Layer, ProjectTrust]:
    """The project layer as far as trust allows, and the account of what was left out."""
    from . import trust as trusting

    sha = trusting.digest(project.text.encode("utf-8"))
    state = trusting.remembered(root, sha)
    pt = trusting.ProjectTrust(root, project.path, sha, state)
    if trust is True or (trust is None and state == "trusted"):
        return project, pt
    earlier = user.data if user is not None else {}
    defaults = [] if earlier.get("models") else [m.name for m in default_models()]
    kept, pt.ignored = trusting.split(project.data, earlier, defaults)
    return Layer(project.path, project.text, kept), pt


def _checked(merged: dict[str, Any], layers: list[Layer], environ: Mapping[str, str] | None = None) -> Config:
    """The merged layers as a ``Config``, completed (default models, Ollama hosts) and checked."""
    from pydantic import ValidationError

    from .models import Config

    try:
        config = Config.model_validate(merged)
    except ValidationError as e:  # a model no layer completes, or a bad override from the command line
        first = e.errors()[0]
        f, line = _where(layers, tuple(first["loc"]), merged.get("models", []))
        raise ConfigError(friendly_error(first), file=f or "command line", line=line, key=dotted_key(first["loc"])) from None
    if not config.models:
        config.models = default_models(environ)
    from ..storage.redact import register_secret_env

    for m in config.models:  # a key in a variable whose name does not say so is redacted all the same
        if m.api_key_env:
            register_secret_env(m.api_key_env)
    for m in config.models:  # an Ollama model without a host of its own uses [ollama] host
        if m.provider_kind is OLLAMA and not m.api_base and config.ollama.host:
            m.api_base = config.ollama.host
    _check_references(config, layers)
    return config


def _has(data: Any, loc: Sequence[Any]) -> bool:
    for part in loc:
        if isinstance(part, int) and isinstance(data, list) and part < len(data) or isinstance(data, Mapping) and part in data:
            data = data[part]
        else:
            return False
    return True


def _where(layers: list[Layer], loc: tuple[Any, ...], models: list[dict[str, Any]] | None = None) -> tuple[str | None, int | None]:
    """The last layer that writes ``loc`` (the one that won), and the line. A ``models[i]`` of the merged
    config is found in each layer by its alias, since layers number their models differently."""
    for layer in reversed(layers):
        local = loc
        if models is not None and len(loc) >= 2 and loc[0] == "models" and isinstance(loc[1], int):
            alias = models[loc[1]].get("name") if loc[1] < len(models) else None
            own = [j for j, m in enumerate(layer.data.get("models", [])) if m.get("name") == alias]
            if not own:
                continue
            local = ("models", own[-1], *loc[2:])
            if not _has(layer.data, local):
                local = ("models", own[-1])
        elif not _has(layer.data, loc):
            continue
        return str(layer.path), locate(layer.text, local)
    return None, None


def _check_references(config: Config, layers: list[Layer]) -> None:
    from .models import ROLE_NAMES

    aliases = set(config.aliases)

    def missing(alias: str, loc: tuple[Any, ...], what: str) -> ConfigError:
        f, line = _where(layers, loc)
        known = ", ".join(sorted(aliases)) or "none"
        return ConfigError(f"{what} {alias!r} is not a configured model (known: {known})", file=f, line=line,
                           key=dotted_key(loc))

    for role, alias in config.roles.items():
        if role not in ROLE_NAMES:
            f, line = _where(layers, ("roles", role))
            raise ConfigError(f"unknown role (roles are: {', '.join(ROLE_NAMES)})", file=f, line=line,
                              key=f"roles.{role}")
        if alias not in aliases:
            raise missing(alias, ("roles", role), "role points to")
    for name, strat in config.strategies.items():
        for j, member in enumerate(strat.members):
            if member.model not in aliases:
                raise missing(member.model, ("strategies", name, "members", j, "model"), "member")
        for key in ("model", "judge"):
            alias = getattr(strat, key)
            if alias and alias not in aliases:
                raise missing(alias, ("strategies", name, key), key)
    if config.agents.escalation and config.agents.escalation not in aliases:
        raise missing(config.agents.escalation, ("agents", "escalation"), "escalation model")
    for role, alias in config.router.hosted.items():
        if alias not in aliases:
            raise missing(alias, ("router", "hosted", role), "hosted model")
    for role in config.context.budgets:
        if role not in ROLE_NAMES and role != "proposer":
            f, line = _where(layers, ("context", "budgets", role))
            raise ConfigError(f"unknown role (roles are: proposer, {', '.join(ROLE_NAMES)})", file=f, line=line,
                              key=f"context.budgets.{role}")
