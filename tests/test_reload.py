"""Reloading like Prometheus: SIGHUP and POST /-/reload; a bad config keeps the old one."""

from __future__ import annotations

import shutil
import signal
import socket
import ssl
from pathlib import Path

import bcrypt

from tests.checks_helpers import CONFIG
from tests.service_helpers import free_port, get, kpiwatch_serve, ready, wait_for
from tests.test_access import make_cert, tls_workdir
from tests.test_service import BEHIND, DATA

EASY = BEHIND.replace("annual = 600", "annual = 100").replace("Q1 = 257", "Q1 = 50")


def status_is(port: int, status: str) -> bool:
    """The year status of projects_started in west_coast, as /metrics serves it."""
    for line in get(f"http://127.0.0.1:{port}/metrics")[2].decode().splitlines():
        if (
            line.startswith("kpiwatch_kpi_status{")
            and 'indicator="projects_started"' in line
            and 'region="west_coast"' in line
            and 'horizon="year"' in line
            and f'status="{status}"' in line
        ):
            return line.endswith(" 1.0")
    return False


def gauge(port: int, name: str) -> float:
    text = get(f"http://127.0.0.1:{port}/metrics")[2].decode()
    return float(next(ln for ln in text.splitlines() if ln.startswith(name + " ")).split()[1])


def test_sighup_and_reload_endpoint_apply_a_good_config_and_keep_the_old_on_a_bad_one(
    tmp_path: Path,
) -> None:
    config = tmp_path / "config.toml"
    config.write_text(CONFIG + BEHIND, encoding="utf-8")
    (tmp_path / "data.csv").write_text(DATA, encoding="utf-8")
    port = free_port()
    reload_url = f"http://127.0.0.1:{port}/-/reload"
    token = {"Authorization": "Bearer t"}
    with kpiwatch_serve(tmp_path, port, env={"KPIWATCH_REFRESH_TOKEN": "t"}) as proc:
        wait_for(lambda: status_is(port, "behind"), what="behind before the reload")
        config.write_text(CONFIG + EASY, encoding="utf-8")
        proc.send_signal(signal.SIGHUP)
        wait_for(lambda: status_is(port, "on_track"), what="on track after SIGHUP")
        assert proc.poll() is None
        config.write_text(CONFIG + EASY + "\n[server]\nlisten = 3\n", encoding="utf-8")
        proc.send_signal(signal.SIGHUP)
        name = "kpiwatch_config_last_reload_successful"
        wait_for(lambda: gauge(port, name) == 0, what="the failed reload reported")
        assert proc.poll() is None and status_is(port, "on_track")
        assert get(reload_url, method="POST")[0] == 401
        code, _, body = get(reload_url, token, method="POST")
        assert code == 500 and b"server.listen" in body
        config.write_text(CONFIG + BEHIND, encoding="utf-8")
        assert get(reload_url, token, method="POST")[0] == 200
        assert gauge(port, name) == 1
        wait_for(lambda: status_is(port, "behind"), what="behind after POST /-/reload")
    log = (tmp_path / "serve.log").read_text()
    assert "config reload failed, keeping the old config" in log and "Traceback" not in log


def test_a_reload_applies_new_basic_auth_users(tmp_path: Path) -> None:
    (tmp_path / "web.yml").write_text("basic_auth_users: {}\n")
    (tmp_path / "config.toml").write_text(
        CONFIG + BEHIND + '\n[server]\nweb_config_file = "web.yml"\n', encoding="utf-8"
    )
    (tmp_path / "data.csv").write_text(DATA, encoding="utf-8")
    port = free_port()
    with kpiwatch_serve(tmp_path, port) as proc:
        wait_for(lambda: ready(port), what="/readyz")
        hashed = bcrypt.hashpw(b"pw", bcrypt.gensalt(rounds=4)).decode()
        (tmp_path / "web.yml").write_text(f"basic_auth_users:\n  prometheus: '{hashed}'\n")
        proc.send_signal(signal.SIGHUP)
        wait_for(lambda: get(f"http://127.0.0.1:{port}/metrics")[0] == 401, what="auth on")
        (tmp_path / "web.yml").write_text("basic_auth_users:\n  prometheus: plaintext\n")
        proc.send_signal(signal.SIGHUP)
        wait_for(lambda: "reload failed" in (tmp_path / "serve.log").read_text(), what="refusal")
        assert get(f"http://127.0.0.1:{port}/metrics")[0] == 401  # the old users stay


def served_certificate(port: int) -> bytes:
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    with (
        socket.create_connection(("127.0.0.1", port), timeout=10) as raw,
        ctx.wrap_socket(raw) as conn,
    ):
        der = conn.getpeercert(binary_form=True)
    assert der is not None
    return der


def test_a_rotated_certificate_is_served_to_new_connections(tmp_path: Path) -> None:
    tls_workdir(tmp_path)
    first = ssl.PEM_cert_to_DER_cert((tmp_path / "server.crt").read_text())
    rotated = tmp_path / "rotated"
    rotated.mkdir()
    make_cert(rotated)
    second = ssl.PEM_cert_to_DER_cert((rotated / "server.crt").read_text())
    port = free_port()
    with kpiwatch_serve(tmp_path, port) as proc:
        wait_for(lambda: served_certificate(port) == first, what="the first certificate")
        shutil.copy(rotated / "server.key", tmp_path / "server.key")
        shutil.copy(rotated / "server.crt", tmp_path / "server.crt")
        wait_for(lambda: served_certificate(port) == second, what="the rotated certificate")
        (tmp_path / "server.key").write_text("not a key\n")  # a rotation gone wrong
        proc.send_signal(signal.SIGHUP)
        wait_for(lambda: "reload failed" in (tmp_path / "serve.log").read_text(), what="refusal")
        assert served_certificate(port) == second and proc.poll() is None
