"""Declarative workflows: phases in YAML (``model``), found by name (``loader``), run by one engine
(``engine``, with ``phases`` carrying out each type), stored as they go (``store``) and written with their
provenance (``provenance``). Checkpoints, thresholds and effort come from the config's policy sections."""
