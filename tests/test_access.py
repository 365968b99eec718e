"""Access: loopback by default, TLS and bcrypt basic auth from a web config, no secret leaks."""

from __future__ import annotations

import base64
import contextlib
import socket
import ssl
import subprocess
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import bcrypt

from exporters.webconfig import BasicAuth
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


def make_cert(folder: Path, name: str = "server") -> Path:
    """A self-signed certificate for 127.0.0.1: folder/name.crt and folder/name.key."""
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
            f"/CN={name}",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
            "-keyout",
            str(folder / f"{name}.key"),
            "-out",
            str(folder / f"{name}.crt"),
        ],
        check=True,
        capture_output=True,
    )
    return folder / f"{name}.crt"


def test_tls_and_basic_auth_from_a_web_config(tmp_path: Path) -> None:
    make_cert(tmp_path)
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
    assert f"serving on https://127.0.0.1:{port}/metrics" in log


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


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def test_an_unknown_user_costs_what_a_wrong_password_costs() -> None:
    # CPU time of this thread, not the clock: bcrypt's work, whatever the machine's load
    auth = BasicAuth({"prometheus": bcrypt.hashpw(b"pw", bcrypt.gensalt(rounds=8))})

    def work(user: str) -> float:
        start = time.thread_time()
        for _ in range(5):
            assert not auth.allows(basic(user, "wrong"))
        return time.thread_time() - start

    wrong, unknown = work("prometheus"), work("nobody")
    assert unknown > wrong / 2, (wrong, unknown)
    assert auth.allows(basic("prometheus", "pw"))


def tls_workdir(tmp_path: Path, server_toml: str = "") -> ssl.SSLContext:
    """A TLS-only service config in tmp_path; the client context that trusts it."""
    make_cert(tmp_path)
    (tmp_path / "web.yml").write_text(
        "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n"
    )
    (tmp_path / "config.toml").write_text(
        CONFIG + BEHIND + f'\n[server]\nweb_config_file = "web.yml"\n{server_toml}',
        encoding="utf-8",
    )
    (tmp_path / "data.csv").write_text(DATA, encoding="utf-8")
    return ssl.create_default_context(cafile=str(tmp_path / "server.crt"))


def dribble(
    conn: socket.socket, data: bytes, stop: threading.Event, closed: list[socket.socket]
) -> None:
    """Send a byte every 0.3 s, slower than any client should; note when the server hangs up."""
    try:
        for byte in data:
            if stop.wait(0.3):
                return
            conn.send(bytes([byte]))
    except OSError:
        closed.append(conn)


def test_idle_and_slow_connections_do_not_stop_scrapes(tmp_path: Path) -> None:
    ctx = tls_workdir(tmp_path, "handshake_timeout_seconds = 5\nidle_timeout_seconds = 5\n")
    port = free_port()
    base = f"https://127.0.0.1:{port}"
    stop = threading.Event()
    with kpiwatch_serve(tmp_path, port):
        wait_for(lambda: https(f"{base}/readyz", ctx)[0] == 200, what="TLS /readyz")
        idle = [socket.create_connection(("127.0.0.1", port)) for _ in range(5)]
        plain = [socket.create_connection(("127.0.0.1", port)) for _ in range(5)]
        slow = [ctx.wrap_socket(c, server_hostname="127.0.0.1") for c in plain[:3]] + plain[3:]
        hello = b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + bytes(300)
        request = b"GET /metrics HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"x" * 300
        closed: list[socket.socket] = []
        for i, conn in enumerate(slow):
            data = request if i < 3 else hello
            threading.Thread(target=dribble, args=(conn, data, stop, closed), daemon=True).start()
        try:
            for _ in range(20):
                code, body = https(f"{base}/metrics", ctx)
                assert code == 200 and b"kpiwatch_kpi_status{" in body
            for conn in idle:  # the silent ones are closed once the handshake timeout ends
                conn.settimeout(30)
                with contextlib.suppress(ConnectionResetError):
                    assert conn.recv(1) == b""
            # and the slow ones once their handshake or request overran its timeout
            wait_for(lambda: len(closed) == len(slow), 30, "slow connections closed")
            text = https(f"{base}/metrics", ctx)[1].decode()
            failed = next(ln for ln in text.splitlines() if ln.startswith("kpiwatch_tls_hand"))
            assert float(failed.split()[1]) >= 7  # five idle, two slow hellos
        finally:
            stop.set()
            for conn in idle + slow:
                conn.close()


def test_a_certificate_that_does_not_load_is_one_clear_line(tmp_path: Path) -> None:
    (tmp_path / "server.crt").write_text("not a certificate\n")
    (tmp_path / "web.yml").write_text(
        "tls_server_config:\n  cert_file: server.crt\n  key_file: missing.key\n"
    )
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
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert "server.crt" in done.stderr and "cannot load the certificate" in done.stderr
