"""Storage: the SQLite database, its migrations, and key redaction."""

from .db import CallRecord, Store, Tables
from .migrations import Schema
from .redact import redact, register_secret_env

__all__ = ["CallRecord", "Schema", "Store", "Tables", "redact", "register_secret_env"]
