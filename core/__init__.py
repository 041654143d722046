"""moot's core: config, providers, events, storage, the ensemble engine and the command line.

Nothing here imports Textual; the workbench in ``moot.tui`` is one consumer of this layer, the CLI another.
"""

__version__ = "0.1.0"
