"""API tokens (stored hashed) and the audit log, in the site's SQLite database.

Tokens are 256-bit random secrets (``secrets.token_urlsafe(32)``). Only their SHA-256 is stored:
for a secret of that entropy a slow password hash adds nothing, and lookup stays a single
indexed query per request.

Example:
    >>> tokens = TokenStore(":memory:")
    >>> token_id, secret = tokens.create("console", "operator")
    >>> tokens.verify(secret).role
    'operator'
    >>> tokens.verify("wrong") is None
    True
"""

from __future__ import annotations

import hashlib
import json
import secrets
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

__all__ = ["Role", "ROLES", "Principal", "TokenStore", "AuditLog"]

Role = Literal["viewer", "operator", "admin"]
ROLES: tuple[Role, ...] = ("viewer", "operator", "admin")
_RANK = {role: i for i, role in enumerate(ROLES)}

_SCHEMA = """
CREATE TABLE IF NOT EXISTS api_tokens (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('viewer', 'operator', 'admin')),
    token_sha256 TEXT NOT NULL UNIQUE,
    created_t REAL NOT NULL,
    revoked_t REAL
);
CREATE TABLE IF NOT EXISTS audit_log (
    id INTEGER PRIMARY KEY,
    t REAL NOT NULL,           -- UNIX seconds UTC (wall clock)
    actor TEXT NOT NULL,       -- the token's name
    role TEXT NOT NULL,
    action TEXT NOT NULL,      -- e.g. alert.acknowledge, zone.create, token.revoke
    target TEXT NOT NULL,
    detail TEXT NOT NULL       -- JSON
);
"""


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: a token's id, name and role."""

    token_id: int
    name: str
    role: Role

    def allows(self, role: Role) -> bool:
        """Whether this principal has at least ``role``."""
        return _RANK[self.role] >= _RANK[role]


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


class _Db:
    def __init__(self, path: str | Path) -> None:
        self._db = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.executescript(_SCHEMA)
        self._lock = threading.Lock()

    def execute(self, sql: str, params: tuple = ()) -> sqlite3.Cursor:
        with self._lock:
            return self._db.execute(sql, params)

    def close(self) -> None:
        self._db.close()


class TokenStore:
    """Creates, verifies, lists and revokes API tokens."""

    def __init__(self, path: str | Path) -> None:
        self._db = _Db(path)

    def create(self, name: str, role: Role) -> tuple[int, str]:
        """A new token; returns ``(id, secret)``. The secret is not stored and cannot be shown again."""
        if role not in _RANK:
            raise ValueError(f"role must be one of {', '.join(ROLES)}, got {role!r}")
        if not name.strip():
            raise ValueError("a token needs a name (who or what uses it)")
        secret = secrets.token_urlsafe(32)
        cur = self._db.execute(
            "INSERT INTO api_tokens (name, role, token_sha256, created_t) VALUES (?, ?, ?, ?)",
            (name.strip(), role, _digest(secret), time.time()),
        )
        return int(cur.lastrowid), secret

    def verify(self, secret: str | None) -> Principal | None:
        if not secret:
            return None
        row = self._db.execute(
            "SELECT id, name, role FROM api_tokens WHERE token_sha256 = ? AND revoked_t IS NULL", (_digest(secret),)
        ).fetchone()
        return Principal(int(row[0]), row[1], row[2]) if row else None

    def list(self) -> list[dict[str, Any]]:
        rows = self._db.execute("SELECT id, name, role, created_t, revoked_t FROM api_tokens ORDER BY id").fetchall()
        return [{"id": r[0], "name": r[1], "role": r[2], "created_t": r[3], "revoked": r[4] is not None} for r in rows]

    def revoke(self, token_id: int) -> bool:
        cur = self._db.execute("UPDATE api_tokens SET revoked_t = ? WHERE id = ? AND revoked_t IS NULL", (time.time(), token_id))
        return cur.rowcount == 1

    def count_active(self, role: Role | None = None) -> int:
        if role is None:
            return int(self._db.execute("SELECT count(*) FROM api_tokens WHERE revoked_t IS NULL").fetchone()[0])
        return int(self._db.execute("SELECT count(*) FROM api_tokens WHERE revoked_t IS NULL AND role = ?", (role,)).fetchone()[0])

    def close(self) -> None:
        self._db.close()


class AuditLog:
    """Append-only record of who did what and when."""

    def __init__(self, path: str | Path) -> None:
        self._db = _Db(path)

    def record(self, actor: Principal, action: str, target: str, detail: dict[str, Any] | None = None) -> None:
        self._db.execute(
            "INSERT INTO audit_log (t, actor, role, action, target, detail) VALUES (?, ?, ?, ?, ?, ?)",
            (time.time(), actor.name, actor.role, action, target, json.dumps(detail or {}, sort_keys=True)),
        )

    def entries(self, limit: int = 100) -> list[dict[str, Any]]:
        rows = self._db.execute(
            "SELECT t, actor, role, action, target, detail FROM audit_log ORDER BY id DESC LIMIT ?", (limit,)
        ).fetchall()
        return [{"t": r[0], "actor": r[1], "role": r[2], "action": r[3], "target": r[4], "detail": json.loads(r[5])} for r in rows]

    def close(self) -> None:
        self._db.close()
