"""Round 3 of the security tester's shapes (#21): leaks and over-masks, each by kind."""

from __future__ import annotations

import pytest

from commands.redact import redact


@pytest.mark.parametrize(
    ("text", "kept"),
    [
        ("max_tokens=4096", "4096"),
        ("tokens_per_second=120.5", "120.5"),
        ('{"prompt_tokens": 812, "total_tokens": 1024}', "1024"),
        ('MountVolume.SetUp failed for volume "secret-vol" : secret "app-secrets" not found', ': secret "app-'),
        ("volumeMounts: - name: tls-secret-volume mountPath: /etc/tls", "mountPath"),
    ],
)
def test_counts_of_tokens_and_names_of_secret_volumes_stay_readable(text: str, kept: str) -> None:
    out = redact(text)
    assert kept in out, out


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        ("oauth call with ya29.a0AfB_byC1x2Y3z4W5v6U7t8S9r0Q returned 401", "a0AfB_byC1x2Y3z4W5v6U7t8S9r0Q"),
        ("Authorization header was ya29.c.b0Aaekm1K9xZ_lmnopQRSTuv", "b0Aaekm1K9xZ_lmnopQRSTuv"),
    ],
)
def test_a_google_oauth_token_with_no_key_name_is_masked(text: str, secret: str) -> None:
    assert secret not in redact(text)


def test_the_other_tokens_of_a_text_with_token_counts_are_still_masked() -> None:
    out = redact("max_tokens=4096 api_token=4096abcdefXYZ")
    assert "4096abcdefXYZ" not in out and "max_tokens=4096" in out, out
