"""TLS and basic auth configured as Prometheus exporters do: a web config YAML file.

tls_server_config:
  cert_file: server.crt
  key_file: server.key
basic_auth_users:
  prometheus: $2y$10$...        # bcrypt hash, e.g. from `htpasswd -nBC 10 ""`
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import logging
import os
import re
import secrets
import ssl
import threading
from dataclasses import dataclass, field
from pathlib import Path

import bcrypt
import yaml

from ingest.errors import ConfigError, Problem

log = logging.getLogger(__name__)
BCRYPT = re.compile(r"\$2[aby]\$\d\d\$[./A-Za-z0-9]{53}")


@dataclass(frozen=True)
class WebConfig:
    """What the web config file asks for."""

    cert_file: Path | None = None
    key_file: Path | None = None
    users: dict[str, bytes] = field(default_factory=dict)

    def tls(self) -> TlsContext | None:
        """The server TLS context, or None for plain HTTP; ConfigError if it cannot load."""
        if self.cert_file is None or self.key_file is None:
            return None
        return TlsContext(self.cert_file, self.key_file)


class TlsContext:
    """A server TLS context, rebuilt when the certificate or key file changes (rotation)."""

    def __init__(self, cert_file: Path, key_file: Path) -> None:
        self._files = (cert_file, key_file)
        self._lock = threading.Lock()
        self._stamp = self._stat()
        try:
            self._context = self._build()
        except (OSError, ssl.SSLError) as exc:
            problem = Problem("tls_server_config", f"cannot load the certificate: {exc}")
            raise ConfigError(str(cert_file), [problem]) from exc

    def get(self) -> ssl.SSLContext:
        """The context for a new connection: the newest certificate that loads."""
        stamp = self._stat()
        with self._lock:
            if stamp != self._stamp:
                # remembered even when it fails: a half-written pair is tried once per change
                self._stamp = stamp
                try:
                    self._context = self._build()
                    log.info("TLS certificate reloaded from %s", self._files[0])
                except (OSError, ssl.SSLError) as exc:
                    log.error("new TLS certificate not loaded, keeping the old one: %s", exc)
            return self._context

    def _build(self) -> ssl.SSLContext:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        ctx.load_cert_chain(*self._files)
        return ctx

    def _stat(self) -> tuple[tuple[int, int, int], ...]:
        stamps = []
        for path in self._files:
            try:
                st = os.stat(path)
            except OSError:
                stamps.append((0, 0, 0))
            else:
                stamps.append((st.st_mtime_ns, st.st_size, st.st_ino))
        return tuple(stamps)


def load_web_config(path: Path) -> WebConfig:
    """Read and check the web config file; ConfigError names what is wrong."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(str(path), [Problem("", f"cannot read: {exc}")]) from exc
    problems = [
        Problem(k, "unknown key") for k in raw if k not in ("tls_server_config", "basic_auth_users")
    ]
    tls = raw.get("tls_server_config") or {}
    problems += [
        Problem(f"tls_server_config.{k}", "unknown key")
        for k in tls
        if k not in ("cert_file", "key_file")
    ]
    if bool(tls.get("cert_file")) != bool(tls.get("key_file")):
        problems.append(Problem("tls_server_config", "cert_file and key_file go together"))
    users = raw.get("basic_auth_users") or {}
    for user, hashed in users.items():
        if not BCRYPT.fullmatch(str(hashed)):
            problems.append(Problem(f"basic_auth_users.{user}", "not a bcrypt hash"))
    if problems:
        raise ConfigError(str(path), problems)
    base = path.parent

    def resolve(p: str | None) -> Path | None:
        return None if not p else (Path(p) if Path(p).is_absolute() else base / p)

    return WebConfig(
        resolve(tls.get("cert_file")),
        resolve(tls.get("key_file")),
        {str(u): str(h).replace("$2y$", "$2b$", 1).encode() for u, h in users.items()},
    )


class BasicAuth:
    """Checks Authorization headers; bcrypt runs once per distinct credential."""

    def __init__(self, users: dict[str, bytes]) -> None:
        self._users = users
        self._verified: set[bytes] = set()
        self._lock = threading.Lock()
        # Unknown users are checked against this, so that they cost what a wrong password
        # costs and the answer's timing does not tell which user names exist.
        cost = max((_cost(h) for h in users.values()), default=4)
        self._dummy = bcrypt.hashpw(secrets.token_bytes(16), bcrypt.gensalt(rounds=cost))

    @property
    def enabled(self) -> bool:
        return bool(self._users)

    def allows(self, header: str | None) -> bool:
        if not self._users:
            return True
        if not header or not header.startswith("Basic "):
            return False
        try:
            user, _, password = base64.b64decode(header[6:]).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return False
        hashed = self._users.get(user)
        if hashed is None:
            bcrypt.checkpw(password.encode(), self._dummy)
            return False
        # a keyed digest of the credential, so the cache never holds a password
        key = hmac.new(hashed, password.encode(), hashlib.sha256).digest()
        with self._lock:
            if key in self._verified:
                return True
        if bcrypt.checkpw(password.encode(), hashed):
            with self._lock:
                self._verified.add(key)
            return True
        return False


def _cost(hashed: bytes) -> int:
    """The work factor of a bcrypt hash ($2b$10$… is 10)."""
    try:
        return min(max(int(hashed.split(b"$")[2]), 4), 31)
    except (IndexError, ValueError):
        return 12
