"""The command palette: every binding of the current screen (and the app's) is a command."""

from __future__ import annotations

from functools import partial

from textual.command import DiscoveryHit, Hit, Hits, Provider


class BindingCommands(Provider):
    """Offers each of the active screen's actions by its description and tooltip."""

    def _commands(self) -> list[tuple[str, str | None, str]]:
        screen = self.screen
        seen: set[str] = set()
        out = []
        for _key, active in screen.active_bindings.items():
            b = active.binding
            if b.description and b.action not in seen:
                seen.add(b.action)
                # a tooltip that only repeats the name is not help: the name would show twice
                help_text = b.tooltip if b.tooltip and b.tooltip != b.description else None
                out.append((b.description, help_text, b.action))
        return out

    async def discover(self) -> Hits:
        for name, help_text, action in self._commands():
            yield DiscoveryHit(name, partial(self.screen.run_action, action), help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for name, help_text, action in self._commands():
            if (score := matcher.match(name)) > 0:
                yield Hit(score, matcher.highlight(name), partial(self.screen.run_action, action), help=help_text)
