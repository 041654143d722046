"""``moot serve`` in a real browser: headless Chromium (the distribution's package; ``.ci/install-browser``
installs it) opens the served page, the workbench's prompt appears, a task typed there streams the stand-in
models' proposals back, and a page from another site cannot open the workbench's websocket.

The browser is driven over its DevTools protocol. The terminal is drawn on a canvas, so the page is given a
small hook first that keeps what the workbench sends to it (the bytes the terminal draws).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from gitrepo import hermetic_git, make_repo  # noqa: F401  (hermetic_git is an autouse fixture)
from standins.openai_server import OpenAIStandIn

CHROMIUM = next((p for p in (shutil.which("chromium"), shutil.which("chromium-browser"),
                             shutil.which("google-chrome")) if p), None)
pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(CHROMIUM is None, reason="no Chromium (run .ci/install-browser, or install chromium)"),
]
ANSI = re.compile(r"\x1b\[[0-9;?<>=]*[ -/]*[@-~]|\x1b[()][A-Z0-9]|\x1b[=>]|\x1b\][^\x07]*\x07")
#: Runs before the page's own scripts: keeps the text of every message its websockets receive.
HOOK = """
window.__moot = [];
const Native = window.WebSocket;
window.WebSocket = function (...args) {
  const ws = new Native(...args);
  const decoder = new TextDecoder();
  ws.addEventListener("message", (e) => {
    if (typeof e.data === "string") window.__moot.push(e.data);
    else if (e.data instanceof ArrayBuffer) window.__moot.push(decoder.decode(e.data, {stream: true}));
    else if (e.data && e.data.text) e.data.text().then((t) => window.__moot.push(t));
  });
  return ws;
};
window.WebSocket.prototype = Native.prototype;
Object.assign(window.WebSocket, {CONNECTING: 0, OPEN: 1, CLOSING: 2, CLOSED: 3});
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class DevTools:
    """One page of a headless Chromium, over the DevTools protocol."""

    def __init__(self, ws: Any) -> None:
        self.ws, self.n = ws, 0

    async def send(self, method: str, **params: Any) -> dict[str, Any]:
        self.n += 1
        await self.ws.send_json({"id": self.n, "method": method, "params": params})
        while True:
            msg = await asyncio.wait_for(self.ws.receive_json(), 30)
            if msg.get("id") == self.n:
                if "error" in msg:
                    raise RuntimeError(f"{method}: {msg['error']}")
                return dict(msg.get("result") or {})

    async def js(self, expression: str) -> Any:
        result = await self.send("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        return result.get("result", {}).get("value")

    async def screen(self) -> str:
        """Everything the page's terminal was sent so far, without its escape sequences."""
        return ANSI.sub("", str(await self.js("window.__moot ? window.__moot.join('') : ''") or ""))

    async def until(self, text: str, timeout: float) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            shown = await self.screen()
            if text in shown:
                return shown
            await asyncio.sleep(0.25)
        raise AssertionError(f"{text!r} never reached the browser; it got: {(await self.screen())[-2000:]!r}")

    async def key(self, key: str, code: int) -> None:
        for kind in ("keyDown", "keyUp"):
            await self.send("Input.dispatchKeyEvent", type=kind, key=key, code=key, windowsVirtualKeyCode=code,
                            **({"text": "\r"} if kind == "keyDown" and key == "Enter" else {}))


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, OpenAIStandIn]]:
    """``moot serve`` in a repository, with two stand-in hosted models and a judge."""
    work = make_repo(tmp_path / "repo", {"cli.py": "import argparse\n"})
    with OpenAIStandIn(tokens_per_s=200) as server:
        server.script("alpha", "ZEBRAONE add the flag to the parser.")
        server.script("beta", "ZEBRATWO add a log level.")
        server.script("judge", "## Plan\n1. Add the flag.\n\n## Consensus\n- one flag\n")
        config = tmp_path / "xdg" / "moot"
        config.mkdir(parents=True)
        (config / "config.toml").write_text(
            "".join(f'[[models]]\nname = "{n}"\nmodel = "openai/{n}"\napi_base = "{server.url}"\n\n'
                    for n in ("alpha", "beta", "judge"))
            + '[roles]\njudge = "judge"\n\n[strategies.two]\nmembers = [{model = "alpha"}, {model = "beta"}]\n\n'
            '[ensemble]\ndefault_strategy = "two"\n')
        port = free_port()
        env = {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY")}
        env.update({"XDG_CONFIG_HOME": str(tmp_path / "xdg"), "MOOT_HOME": str(tmp_path / "home"),
                    "MOOT_NO_WATCH": "1", "OLLAMA_HOST": "http://127.0.0.1:9"})
        proc = subprocess.Popen([sys.executable, "-c", "import sys; from moot.cli.entry import main; "
                                 f"sys.exit(main(['serve', '--port', '{port}']))"],
                                cwd=work, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                start_new_session=True)
        try:
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5):
                    break
                time.sleep(0.1)
            yield f"http://127.0.0.1:{port}", server
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(10)


@contextlib.asynccontextmanager
async def browser(tmp_path: Path):  # type: ignore[no-untyped-def]
    import aiohttp

    assert CHROMIUM is not None
    port = free_port()
    proc = subprocess.Popen([CHROMIUM, "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run",
                             "--disable-dev-shm-usage", f"--remote-debugging-port={port}",
                             f"--user-data-dir={tmp_path / 'chromium'}", "--window-size=1280,900", "about:blank"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        async with aiohttp.ClientSession() as http:
            pages: list[dict[str, Any]] = []
            for _ in range(150):
                with contextlib.suppress(aiohttp.ClientError):
                    async with http.get(f"http://127.0.0.1:{port}/json") as r:
                        pages = [p for p in json.loads(await r.text()) if p.get("type") == "page"]
                if pages:
                    break
                await asyncio.sleep(0.2)
            assert pages, "Chromium did not start"
            async with http.ws_connect(pages[0]["webSocketDebuggerUrl"], max_msg_size=0) as ws:
                yield DevTools(ws)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(10)


async def test_the_prompt_appears_and_a_typed_task_streams_proposals(served, tmp_path: Path) -> None:
    url, server = served
    async with browser(tmp_path) as page:
        await page.send("Page.enable")
        await page.send("Page.addScriptToEvaluateOnNewDocument", source=HOOK)
        await page.send("Page.navigate", url=url)
        await page.until("Describe a task and press Enter", timeout=60)
        await page.js("document.querySelector('textarea') && document.querySelector('textarea').focus()")
        await page.send("Input.insertText", text="Add a verbose flag")
        await page.until("Add a verbose flag", timeout=20)  # echoed by the workbench's prompt
        await page.key("Enter", 13)
        await page.until("ZEBRAONE", timeout=60)  # each proposal streams into its own panel
        await page.until("ZEBRATWO", timeout=60)
    asked = [r for r in server.completions if "Add a verbose flag" in json.dumps(r.body)]
    assert len(asked) >= 2


async def test_another_site_cannot_open_the_workbench(served) -> None:
    import aiohttp

    url, _ = served
    async with aiohttp.ClientSession() as http:
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await http.ws_connect(f"{url}/ws", headers={"Origin": "http://evil.example"})
        assert refused.value.status == 403
        async with http.ws_connect(f"{url}/ws?width=80&height=24", headers={"Origin": url}) as ws:
            assert not ws.closed  # its own page may
