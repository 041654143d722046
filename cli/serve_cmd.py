"""``moot serve``: the workbench in a browser, served with Textual's own serving package.

Each browser tab that opens the page gets a workbench of its own, run in this directory as you (with your keys).
So the server listens on 127.0.0.1 unless told otherwise, and its websocket answers only pages it served
itself: another site open in the same browser cannot drive it.
"""

from __future__ import annotations

import argparse
import shlex
import sys
from typing import Any

from moot.core.config import LoadedConfig

from .commands import err
from .main import EXIT_OK, EXIT_USAGE

LOOPBACK = ("127.0.0.1", "localhost", "::1")
#: What each served tab runs: the workbench, with this interpreter.
COMMAND = shlex.join([sys.executable, "-c", "import sys; from moot.cli.entry import main; sys.exit(main([]))"])


def allowed_origins(host: str, port: int, public_url: str) -> set[str]:
    """The pages that may open the workbench's websocket: the served page's own address (and, on a loopback
    address, the other names of this machine)."""
    origins = {public_url.rstrip("/")}
    if host in LOOPBACK:
        origins |= {f"http://{name}:{port}" for name in ("127.0.0.1", "localhost", "[::1]")}
    return origins


def serve(args: argparse.Namespace, loaded: LoadedConfig) -> int:
    try:
        from aiohttp import web
        from textual_serve.server import Server
    except ImportError:
        err("moot: serving needs the textual-serve package (pip install textual-serve)")
        return EXIT_USAGE
    if not 0 < args.port < 65536:
        err("moot: --port must be between 1 and 65535")
        return EXIT_USAGE
    if args.host not in LOOPBACK:
        err(f"moot: serving on {args.host}: anyone who can reach {args.host}:{args.port} runs moot here, as you, "
            "with your keys; put it behind something that authenticates")

    class Served(Server):  # type: ignore[misc]
        """Textual's server, whose websocket answers only the pages it served."""

        origins: set[str] = set()

        async def handle_websocket(self, request: Any) -> Any:
            origin = request.headers.get("Origin")
            if origin is not None and origin.rstrip("/") not in self.origins:
                return web.Response(status=403, text="moot: this workbench answers only the page it served")
            return await super().handle_websocket(request)

        async def on_startup(self, app: Any) -> None:  # moot says where it serves (below), without the banner
            return None

    server = Served(COMMAND, host=args.host, port=args.port, title="moot", public_url=args.public_url)
    server.origins = allowed_origins(args.host, args.port, server.public_url)
    from rich.console import Console

    server.console = Console(file=sys.stderr, color_system=None, highlight=False)  # its log lines, plain
    print(f"moot: serving the workbench of {loaded.project_dir} on {server.public_url} (Ctrl+C stops)",
          file=sys.stderr, flush=True)
    server.serve()
    return EXIT_OK
