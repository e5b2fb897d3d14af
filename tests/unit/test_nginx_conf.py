from controller.nginx_conf import STATUS_PORT, Route, render


def test_render_routes_and_explains_them():
    conf = render([Route("web", "http", 8080, "172.18.0.2", 12345, 3),
                   Route("ssh", "stream", 2222, "172.18.0.2", 23456, 1)], "abc.7")
    assert "generation abc.7" in conf
    # HTTP goes through an upstream per hop that keeps connections to the instance open.
    assert "upstream web_hop3 {\n        server 172.18.0.2:12345;" in conf
    assert "proxy_pass http://web_hop3;" in conf and "keepalive 16;" in conf
    assert "proxy_http_version 1.1;" in conf and 'proxy_set_header Connection "";' in conf
    assert "proxy_pass 172.18.0.2:23456;" in conf
    assert "# service web: fixed port 8080 -> target 172.18.0.2:12345 (hop 3)" in conf
    assert f"listen {STATUS_PORT};" in conf and 'return 200 "abc.7\\n"' in conf
    http, stream = conf.split("\nstream {")
    assert "listen 2222" in stream and "listen 2222" not in http
    assert conf.count("{") == conf.count("}")


def test_render_without_stream_services_is_still_valid_shape():
    conf = render([Route("web", "http", 8080, "10.1.0.2", 9001, 0)], "x.1")
    assert "# no TCP stream services" in conf and conf.count("{") == conf.count("}")
