from controller.nginx_conf import FRONT_STATUS_PORT, STATUS_PORT, Route, render, render_front
from mtdlab.contract.catalog import http_socket


def test_the_switch_relays_every_stream_route_and_records_every_route():
    conf = render([Route("web", "http", 8080, "172.18.0.2", 12345, 3),
                   Route("ssh", "stream", 2222, "172.18.0.2", 23456, 1)], "abc.7")
    assert "generation abc.7" in conf
    http, stream = conf.split("\nstream {")
    # Streams listen on their fixed ports; HTTP goes from the front to the instance's socket, and
    # the switch only records its route (a restarted controller reads it: controller/reconcile.py).
    assert "listen 2222;\n        proxy_pass 172.18.0.2:23456;" in stream
    assert "# service web: fixed port 8080 -> target 172.18.0.2:12345 (hop 3)\n" in conf
    assert "12345;" not in conf and "unix:" not in conf and stream.count("server {") == 1
    # The switch's http block is the controller's status port only: no user's HTTP connection
    # sits in a process that hops reload.
    assert f"listen {STATUS_PORT};" in http and 'return 200 "abc.7\\n"' in http and "8080" not in http
    assert conf.count("{") == conf.count("}")


def test_the_front_keeps_connections_to_the_instance_link_and_has_no_timestamp():
    conf = render_front([("web", 8080), ("shop", 8081)], "v1")
    assert f"upstream web_instance {{\n        server unix:{http_socket('web')};" in conf
    assert "proxy_pass http://web_instance;" in conf and "keepalive 16;" in conf
    assert "proxy_http_version 1.1;" in conf and 'proxy_set_header Connection "";' in conf
    assert "listen 8080;" in conf and "listen 8081;" in conf
    assert f"listen {FRONT_STATUS_PORT};" in conf and 'return 200 "v1\\n"' in conf
    # The same services give the same text: a restarted controller need not reload it.
    assert conf == render_front([("shop", 8081), ("web", 8080)], "v1")
    assert conf.count("{") == conf.count("}")


def test_render_without_services_is_still_valid_shape():
    conf = render([], "x.1")
    assert "# no service placed yet" in conf and conf.count("{") == conf.count("}")
    front = render_front([], "v0")
    assert "# no HTTP services" in front and front.count("{") == front.count("}")


def test_the_status_ports_answer_the_controller_alone():
    """The generation changes at the moment of a hop: the attacker on the lab network must not read it."""
    switch = render([], "x.1", status_reader="172.18.0.5")
    front = render_front([("web", 8080)], "v1", "172.18.0.5")
    for conf, port in ((switch, STATUS_PORT), (front, FRONT_STATUS_PORT)):
        server = conf.split(f"listen {port};")[1].split("\n    }")[0]
        # `return` acts before allow/deny would: the address is checked in the same (rewrite) phase, first
        assert 'if ($remote_addr != "172.18.0.5") { return 403; }' in server
        assert server.index("$remote_addr") < server.index("location = /generation")
