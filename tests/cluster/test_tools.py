"""The recipe's tools without starting anything: nginx's configuration, the load generator's guard and
bookkeeping, the benchmark's capacity rule (the services themselves are tested in test_class_server.py)."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest

from deploy.loadgen import Answer, Tally, Visitor, check_loopback
from deploy.stack import IDENTITY_HEADERS, ROUTE_COOKIE, ClassServer, nginx_conf, ray_cpus_for


def test_nginx_listens_on_loopback_and_sticks_by_cookie_with_the_websocket_upgrade(tmp_path):
    conf = nginx_conf(tmp_path, 8080, [9001, 9002])
    assert "listen 127.0.0.1:8080;" in conf
    assert "server 127.0.0.1:9001 max_fails=1 fail_timeout=5s;" in conf and "server 127.0.0.1:9002 max_fails" in conf
    assert f"map $cookie_{ROUTE_COOKIE} $playground_route" in conf and "hash $playground_route consistent;" in conf
    assert "proxy_set_header Upgrade $http_upgrade;" in conf and "proxy_set_header Connection $connection_upgrade;" in conf
    assert f"Set-Cookie \"{ROUTE_COOKIE}=$playground_route; Path=/; HttpOnly; SameSite=Lax\"" in conf
    assert "client_max_body_size 12m;" in conf  # above the app's 10 MB upload limit
    assert "0.0.0.0" not in conf
    # The client's address is what nginx saw, never what the client claimed; identity headers are removed.
    assert "proxy_set_header X-Real-IP $remote_addr;" in conf and "proxy_set_header X-Forwarded-For $remote_addr;" in conf
    assert "$proxy_add_x_forwarded_for" not in conf
    for header in IDENTITY_HEADERS:
        assert f'proxy_set_header {header} "";' in conf


def test_ray_cpus_default_to_the_machines_cores_and_more_is_a_warning():
    assert ray_cpus_for(None, replicas=2, cpus=2) == (4, "")  # 2 jobs at once, plus a warm actor a replica
    cpus, warning = ray_cpus_for(6, replicas=2, cpus=2)
    assert cpus == 8 and "more than this machine's 2 cores" in warning
    assert ray_cpus_for(2, replicas=1, cpus=2) == (3, "")
    with pytest.raises(ValueError):
        ray_cpus_for(0, replicas=1, cpus=2)


def test_supervisord_runs_each_piece_on_its_own_restarted_on_failure_with_state_that_persists(tmp_path):
    server = ClassServer(tmp_path / "state", replicas=2, ray=True, postgres=False, ray_cpus=2)
    server.write()
    conf = server.conf_path.read_text()
    programs = [line for line in conf.splitlines() if line.startswith("[program:")]
    assert programs == ["[program:ray-head]", "[program:replica-0]", "[program:replica-1]", "[program:nginx]"]
    assert conf.count("autorestart=true") == 4 and "chmod=0700" in conf and "inet_http_server" not in conf
    ports = dict(server.ports)
    again = ClassServer(tmp_path / "state", replicas=2, ray=True, postgres=False, ray_cpus=2)
    again.write()
    assert again.ports == ports  # a restart reuses the ports (kept in stack.json)
    assert (tmp_path / "state" / "ray" / "auth_token").stat().st_mode & 0o077 == 0  # the token is private


@pytest.mark.parametrize("url", ["http://10.0.0.5:8501", "http://example.com", "http://192.168.1.2"])
def test_the_load_generator_refuses_anything_but_loopback(url):
    with pytest.raises(ValueError, match="loopback"):
        check_loopback(url)
    with pytest.raises(ValueError):
        Visitor(url, Tally())
    with pytest.raises(ValueError, match="loopback"):  # nor from anywhere else
        Visitor("http://127.0.0.1:8080", Tally(), source=url.removeprefix("http://").split(":")[0])


def test_the_tally_reads_percentiles_of_page_answers_apart_from_live_views():
    tally = Tally([Answer("open", "", s) for s in (0.1, 0.2, 0.3, 0.4, 5.0)] + [Answer("fragment", "mb", 9.0)])
    assert tally.median() == 0.3 and tally.percentile(1.0) == 5.0 and tally.percentile(0.0) == 0.1
    assert tally.percentile(0.5, ("fragment",)) == 9.0


def test_the_capacity_is_the_largest_level_under_the_target_without_errors():
    cluster = importlib.import_module("bench.cluster")
    levels = [{"level": 2, "p90": 0.5, "errors": []}, {"level": 4, "p90": 1.9, "errors": []},
              {"level": 6, "p90": 1.0, "errors": ["visitor-5: no answer"]}, {"level": 8, "p90": 2.5, "errors": []}]
    assert cluster.held(levels) == 4
    assert cluster.held([{"level": 2, "p90": 2.0, "errors": []}]) == 0


def test_the_start_script_runs_the_recipe():
    script = (Path(__file__).resolve().parents[2] / "deploy" / "start-class-server.sh")
    assert script.stat().st_mode & 0o111 and "python -m deploy.stack up" in script.read_text()


def test_status_and_stop_say_when_no_class_server_runs(tmp_path, capsys):
    from deploy.stack import main

    assert main(["status", "--state-dir", str(tmp_path)]) == 3
    assert main(["stop", "--state-dir", str(tmp_path)]) == 0
    assert capsys.readouterr().out.count(f"no class server runs from {tmp_path}") == 2


def test_the_recipes_ports_are_those_docs_deploy_names(tmp_path):
    server = ClassServer(tmp_path / "state", replicas=2, postgres=False, port=8080, fixed_ports=True)
    server.write()
    assert server.ports == {"nginx": 8080, "ray": 6379, "postgres": 5433, "replica-0": 8501, "replica-1": 8502}
    assert "listen 127.0.0.1:8080;" in (server.nginx_dir / "nginx.conf").read_text()
