"""``moot doctor``: what works, what is missing, and the command that fixes each."""

from __future__ import annotations

import asyncio
import sys

from moot.core.config import LoadedConfig, data_dir
from moot.core.config.loader import user_config_path
from moot.core.providers.kinds import KEY_ENV
from moot.core.words import plural

from .main import EXIT_FAILED, EXIT_OK

OK, BAD, INFO = "✓", "✗", "·"


def _line(mark: str, text: str, fix: str = "") -> None:
    print(f"{mark} {text}")
    if fix:
        print(f"    fix: {fix}")


async def _ollama(loaded: LoadedConfig) -> None:
    from moot.core.discovery import ollama_host
    from moot.core.events import ProviderError
    from moot.core.providers.ollama import list_models, server_version

    host = ollama_host(loaded)
    try:
        version = await asyncio.wait_for(server_version(host), 3)
        tags = await asyncio.wait_for(list_models(host), 3)
    except (ProviderError, TimeoutError, OSError):
        _line(INFO, f"Ollama: not reachable at {host}",
              "install and start Ollama (ollama serve), or set [ollama] host / OLLAMA_HOST")
        return
    _line(OK if tags else INFO, f"Ollama {version} at {host}: {plural(len(tags), 'model')} pulled",
          "" if tags else "ollama pull qwen2.5-coder:7b")


def run_doctor(loaded: LoadedConfig) -> int:
    from moot.core.discovery import model_statuses
    from moot.core.providers.embedded import engine_installed, shipped_model_path

    print(f"moot doctor (Python {sys.version.split()[0]})\n")
    user = user_config_path()
    project = loaded.project_dir / ".moot" / "config.toml"
    for label, path in (("user config", user), ("project config", project)):
        _line(OK if path.is_file() else INFO, f"{label}: {path}" + ("" if path.is_file() else " (none)"))
    _line(OK, f"data directory: {data_dir()}")

    if engine_installed() and shipped_model_path():
        _line(OK, f"embedded engine: llama-cpp-python with {shipped_model_path().name}")  # type: ignore[union-attr]
    else:
        _line(BAD, "embedded engine: not installed", "pip install 'moot[local]'")

    statuses = asyncio.run(model_statuses(loaded))
    asyncio.run(_ollama(loaded))

    import os

    present = [env for env in KEY_ENV.values() if os.environ.get(env)]
    if present:
        _line(OK, "provider keys in the environment: " + ", ".join(present))
    else:
        _line(INFO, "no provider keys in the environment",
              "export OPENAI_API_KEY=… (or ANTHROPIC_API_KEY, GEMINI_API_KEY, OPENROUTER_API_KEY)")

    print("\nmodels:")
    for s in statuses:
        av = s.availability
        _line(OK if s.usable else BAD, f"{s.model.name} ({s.model.model}): "
              + ("usable" if s.usable else av.reason), "" if s.usable else av.fix)
    usable = [s for s in statuses if s.usable]
    if loaded.defaulted_models:
        print(f"\nNo models are configured, so moot uses the defaults above. To add your own, write {user}:\n"
              '  [[models]]\n  name = "gpt"\n  model = "openai/gpt-4o"\n  api_key_env = "OPENAI_API_KEY"\n'
              '  [[models]]\n  name = "qwen"\n  model = "ollama/qwen2.5-coder:7b"')
    print(f"\n{len(usable)} of {plural(len(statuses), 'model')} usable.")
    return EXIT_OK if usable else EXIT_FAILED
