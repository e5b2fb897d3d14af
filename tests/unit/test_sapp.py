"""Seed 000's SAPP preamble, the gateway's drain check, and how truth and sweeps treat a
target whose services hide behind one gateway port."""
import pytest

from gateway.ctl import established_ports
from mtdlab.contract.sapp import PREAMBLE_LEN, BadPreamble, Verifier, make_preamble, service_codes
from mtdlab.experiments import parse_scenario
from mtdlab.analysis.sweeps import judge_sweeps, sweep_summary
from mtdlab.analysis.truth import read_truth

from .test_truth_and_sweeps import hop, write

KEY = bytes(range(32))
NOW = 1700000000.0


def test_known_answer():
    # The tag is the first 16 bytes of HMAC-SHA256(key, "mtdlab-sapp" + header), checked with
    # `openssl dgst -sha256 -mac HMAC -macopt hexkey:000102...1f` over the same bytes.
    p = make_preamble(KEY, 3, session=bytes(8), now=NOW)
    assert len(p) == PREAMBLE_LEN == 34
    assert p.hex() == "010300000000000000000000018bcfe56800ae34c6c4104ce17e3ec11963a7f0b24c"


def test_valid_preamble_names_its_service():
    v = Verifier(KEY, clock=lambda: NOW)
    assert v.check(make_preamble(KEY, 7, now=NOW - 29)) == 7
    assert v.check(make_preamble(KEY, 1, now=NOW + 29)) == 1


@pytest.mark.parametrize("index", range(PREAMBLE_LEN))
def test_any_changed_byte_is_refused(index):
    p = bytearray(make_preamble(KEY, 2, now=NOW))
    p[index] ^= 0x01
    with pytest.raises(BadPreamble):
        Verifier(KEY, clock=lambda: NOW).check(bytes(p))


def test_wrong_key_stale_replayed_and_short_are_refused():
    v = Verifier(KEY, clock=lambda: NOW)
    with pytest.raises(BadPreamble, match="tag"):
        v.check(make_preamble(bytes(32), 1, now=NOW))
    for off in (-31, 31):
        with pytest.raises(BadPreamble, match="clock"):
            v.check(make_preamble(KEY, 1, now=NOW + off))
    p = make_preamble(KEY, 1, now=NOW)
    assert v.check(p) == 1
    with pytest.raises(BadPreamble, match="replayed"):
        v.check(p)
    with pytest.raises(BadPreamble, match="length"):
        v.check(p[:-1])
    with pytest.raises(BadPreamble, match="length"):
        v.check(b"GET / HTTP/1.0\r\n\r\n")


def test_service_codes_follow_the_scenario_order():
    assert service_codes(["web", "ssh", "redis"]) == {"web": 1, "ssh": 2, "redis": 3}


def test_established_ports_from_proc_net_tcp():
    table = """  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000:70E0 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1 1 0 100 0 0 10 0
   1: 0100007F:B5A4 0100007F:4E21 01 00000000:00000000 00:00000000 00000000     0        0 2 1 0 20 4 30 10 -1
   2: 0100007F:4E22 0100007F:C000 06 00000000:00000000 03:00000000 00000000     0        0 0 3 0
"""
    # Listening (0A) and TIME_WAIT (06) rows do not hold a port; the established one holds both ends.
    assert established_ports(table) == [0xB5A4, 0x4E21]


def test_truth_sees_only_the_gateway_of_a_sapp_target(tmp_path):
    log = tmp_path / "truth.jsonl"
    write(log, [{"event": "controller.started", "mono": 0},
                {"event": "sapp.started", "mono": 0.5, "port": 28888, "container": "g"}]
          + hop("web", 0, 1, None, 20001, None, "a") + hop("web", 1, 10, 20001, 20002, "a", "b")
          + [{"event": "sapp.stopped", "mono": 30, "port": 28888, "container": "g"}])
    t = read_truth(log)
    assert [p.exposed for p in t.placements] == [False, False]
    assert [(p.port, p.started, p.closed) for p in t.visible()] == [(28888, 0.5, 30)]
    sweeps = [{"event": "sweep.done", "scan": "ports", "sweep": 1, "start_mono": 5, "end_mono": 6, "open": [28888]},
              {"event": "sweep.done", "scan": "ports", "sweep": 2, "start_mono": 11, "end_mono": 12, "open": [28888, 20002]}]
    summary = sweep_summary(judge_sweeps(t, sweeps))
    # The gateway is the target's one open port; a hidden service's port showing up is a finding.
    assert summary["exact"] == 1 and summary["unexplained"] == 1
    assert summary["unexplained_detail"][0]["extra"] == [20002]


SAPP = """
name: s
seed: 1
target:
  sapp: {port: 28888}
  services:
    - {name: web, kind: web, hop: {interval: {law: fixed, period_s: 5}, pool: {ranges: ["20000-20099"]}}}
sapp_client: {rate_per_s: 5}
"""


def test_scenario_with_a_gateway():
    s = parse_scenario(SAPP)
    assert s.sapp.port == 28888 and s.sapp_client.rate_per_s == 5
    assert parse_scenario(SAPP.replace("sapp_client: {rate_per_s: 5}", "")).sapp_client is None
