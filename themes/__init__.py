"""moot's colour themes: Textual ``Theme``s plus the variables moot's stylesheets use.

Our variables: ``$proposal-1`` … ``$proposal-6`` (one accent per proposer column), ``$judge`` (the
synthesis), ``$diff-added`` / ``$diff-removed`` (diffs). ``VARIABLE_DEFAULTS`` gives every one a fallback, so
any theme (Textual's own included) can be selected without breaking the stylesheets.
"""

from __future__ import annotations

from textual.theme import Theme

VARIABLE_DEFAULTS: dict[str, str] = {
    "proposal-1": "#5fafff",
    "proposal-2": "#d787ff",
    "proposal-3": "#5fd7af",
    "proposal-4": "#ffaf5f",
    "proposal-5": "#ff87af",
    "proposal-6": "#afd75f",
    "judge": "#ffd75f",
    "diff-added": "#2e7d32",
    "diff-removed": "#c62828",
}

DARK = Theme(
    name="moot-dark",
    primary="#5fafff",
    secondary="#d787ff",
    accent="#ffd75f",
    warning="#ffaf5f",
    error="#ff5f5f",
    success="#5fd787",
    foreground="#e4e4e4",
    background="#1c1c1c",
    surface="#262626",
    panel="#303030",
    dark=True,
    variables=dict(VARIABLE_DEFAULTS),
)

LIGHT = Theme(
    name="moot-light",
    primary="#005fd7",
    secondary="#8700af",
    accent="#af5f00",
    warning="#af5f00",
    error="#d70000",
    success="#008700",
    foreground="#1c1c1c",
    background="#fafafa",
    surface="#eeeeee",
    panel="#e4e4e4",
    dark=False,
    variables={
        **VARIABLE_DEFAULTS,
        "proposal-1": "#005fd7",
        "proposal-2": "#8700af",
        "proposal-3": "#00875f",
        "proposal-4": "#af5f00",
        "proposal-5": "#d7005f",
        "proposal-6": "#5f8700",
        "judge": "#875f00",
        "diff-added": "#c8e6c9",
        "diff-removed": "#ffcdd2",
    },
)

HIGH_CONTRAST = Theme(
    name="moot-high-contrast",
    primary="#ffff00",
    secondary="#00ffff",
    accent="#ff00ff",
    warning="#ffff00",
    error="#ff0000",
    success="#00ff00",
    foreground="#ffffff",
    background="#000000",
    surface="#000000",
    panel="#000000",
    dark=True,
    variables={
        **VARIABLE_DEFAULTS,
        "proposal-1": "#ffff00",
        "proposal-2": "#00ffff",
        "proposal-3": "#00ff00",
        "proposal-4": "#ff00ff",
        "proposal-5": "#ffffff",
        "proposal-6": "#ff8700",
        "judge": "#ffffff",
        "diff-added": "#00af00",
        "diff-removed": "#d70000",
    },
)

THEMES: tuple[Theme, ...] = (DARK, LIGHT, HIGH_CONTRAST)
DEFAULT_THEME = DARK.name
