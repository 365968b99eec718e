"""Access: loopback by default, TLS and bcrypt basic auth from a web config, no secret leaks."""

from __future__ import annotations

import base64
import ssl
import subprocess
import urllib.error
import urllib.request
from pathlib import Path

import bcrypt

from kpiwatch.config import load_config
from tests.checks_helpers import CONFIG
from tests.service_helpers import free_port, kpiwatch_serve, wait_for
from tests.test_service import BEHIND, DATA

PASSWORD = "correct horse battery staple"


def https(
    url: str,
    ctx: ssl.SSLContext,
    auth: str | None = None,
    method: str = "GET",
    headers: dict[str, str] | None = None,
) -> tuple[int, bytes]:
    h = dict(headers or {})
    if auth:
        h["Authorization"] = "Basic " + base64.b64encode(auth.encode()).decode()
    req = urllib.request.Request(url, headers=h, method=method)
    try:
        with urllib.request.urlopen(req, context=ctx, timeout=10) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def test_default_listen_is_loopback(tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text(CONFIG, encoding="utf-8")
    assert load_config(tmp_path / "config.toml").server.listen.startswith("127.0.0.1:")


def test_tls_and_basic_auth_from_a_web_config(tmp_path: Path) -> None:
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
            "-keyout",
            str(tmp_path / "server.key"),
            "-out",
            str(tmp_path / "server.crt"),
        ],
        check=True,
        capture_output=True,
    )
    hashed = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(rounds=6)).decode()
    (tmp_path / "web.yml").write_text(
        "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n"
        f"basic_auth_users:\n  prometheus: '{hashed}'\n",
        encoding="utf-8",
    )
    (tmp_path / "config.toml").write_text(
        CONFIG + BEHIND + '\n[server]\nweb_config_file = "web.yml"\n', encoding="utf-8"
    )
    (tmp_path / "data.csv").write_text(DATA, encoding="utf-8")
    ctx = ssl.create_default_context(cafile=str(tmp_path / "server.crt"))
    port = free_port()
    base = f"https://127.0.0.1:{port}"
    token = "refresh-token-never-logged"
    with kpiwatch_serve(tmp_path, port, env={"KPIWATCH_REFRESH_TOKEN": token}):
        wait_for(
            lambda: https(f"{base}/readyz", ctx, f"prometheus:{PASSWORD}")[0] == 200,
            what="TLS /readyz",
        )
        assert https(f"{base}/metrics", ctx)[0] == 401
        assert https(f"{base}/metrics", ctx, "prometheus:wrong")[0] == 401
        assert https(f"{base}/metrics", ctx, "nobody:" + PASSWORD)[0] == 401
        code, body = https(f"{base}/metrics", ctx, f"prometheus:{PASSWORD}")
        assert code == 200 and b"kpiwatch_kpi_status{" in body
        assert https(f"{base}/-/refresh", ctx, f"prometheus:{PASSWORD}", "POST")[0] == 401
        assert (
            https(
                f"{base}/-/refresh",
                ctx,
                f"prometheus:{PASSWORD}",
                "POST",
                {"X-Refresh-Token": token},
            )[0]
            == 202
        )
        plain = urllib.request.Request(f"http://127.0.0.1:{port}/metrics")
        try:
            urllib.request.urlopen(plain, timeout=5)
            raise AssertionError("plain HTTP must not be served on a TLS port")
        except (urllib.error.URLError, ConnectionError):
            pass
        assert PASSWORD.encode() not in body and token.encode() not in body
    log = (tmp_path / "serve.log").read_text()
    assert PASSWORD not in log and token not in log and hashed not in log


def test_a_bad_web_config_is_refused_at_start(tmp_path: Path) -> None:
    (tmp_path / "web.yml").write_text("basic_auth_users:\n  admin: plaintext\nextra: 1\n")
    (tmp_path / "config.toml").write_text(
        CONFIG + '\n[server]\nweb_config_file = "web.yml"\n', encoding="utf-8"
    )
    from tests.service_helpers import KPIWATCH

    done = subprocess.run(
        [KPIWATCH, "serve", "--listen", f"127.0.0.1:{free_port()}"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 1
    assert "basic_auth_users.admin: not a bcrypt hash" in done.stderr
    assert "extra: unknown key" in done.stderr and "Traceback" not in done.stderr
