"""Storage: the SQLite database, its migrations, and key redaction."""

from .db import CallRecord, Store
from .redact import redact, register_secret_env

__all__ = ["CallRecord", "Store", "redact", "register_secret_env"]
