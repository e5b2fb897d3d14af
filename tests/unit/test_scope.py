import ipaddress

import pytest

from mtdlab.contract.scope import OutOfScope, check_target

LAB = [ipaddress.IPv4Interface("172.30.0.5/24")]


def test_lab_container_is_in_scope():
    assert str(check_target("172.30.0.2", LAB)) == "172.30.0.2"


@pytest.mark.parametrize("address, reason", [
    ("8.8.8.8", "outside the lab network"),
    ("10.0.0.1", "outside the lab network"),
    ("192.168.1.1", "outside the lab network"),
    ("127.0.0.1", "outside the lab network"),
    ("172.30.1.2", "outside the lab network"),
    ("172.30.0.1", "gateway"),
    ("172.30.0.0", "network or broadcast"),
    ("172.30.0.255", "network or broadcast"),
    ("172.30.0.5", "the attacker itself"),
    ("scanme.nmap.org", "not an IPv4 address"),
])
def test_everything_else_is_refused(address, reason):
    with pytest.raises(OutOfScope, match=reason):
        check_target(address, LAB)


def test_no_network_means_nothing_is_in_scope():
    with pytest.raises(OutOfScope, match="none"):
        check_target("172.30.0.2", [])
