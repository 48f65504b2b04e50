"""Addresses in log lines, IPv4 and IPv6, validated by the stdlib (issue #25, round 4)."""

from __future__ import annotations

from commands.checks.security import addresses, offending_ips


def test_ipv6_in_the_shapes_logs_write_it():
    line = 'ip=2001:db8::66: wrong password from [2606:4700:10::6814:1]:443 {"client_ip":"2001:db8::77"}'
    assert [str(ip) for ip in addresses(line)] == ["2001:db8::66", "2606:4700:10::6814:1", "2001:db8::77"]


def test_times_macs_and_words_are_not_addresses():
    assert addresses("2026-11-28T03:00:01Z mac aa:bb:cc:dd:ee:ff at 12:34:56 std::string") == []


def test_only_outside_addresses_are_offered():
    line = "::ffff:198.51.100.7 fe80::1 ::1 fd00::5 10.0.0.5 a::b 198.51.100.9"
    assert offending_ips([line]) == ["198.51.100.7", "198.51.100.9"]  # mapped IPv4 is its IPv4; ULA is internal
