"""Round 3 of the security tester's shapes (#21): leaks and over-masks, each by kind."""

from __future__ import annotations

import pytest

from commands.masking.redact import redact, redact_data, redact_pair


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


@pytest.mark.parametrize(
    ("text", "secret", "kept"),
    [
        ("-Djavax.net.ssl.keyStorePassword=Ch4ngeIt -Dx=1", "Ch4ngeIt", "keyStorePassword="),
        ("ssl.key.password=Ch4ngeIt", "Ch4ngeIt", "ssl.key.password="),
        ("SELECT pgp_sym_decrypt(data, 'S3cretKey99') FROM t", "S3cretKey99", "pgp_sym_decrypt(data, '"),
        (
            "INSERT INTO t VALUES (pgp_sym_encrypt('x', 'S3cretKey99', 'cipher-algo=aes256'))",
            "S3cretKey99",
            "pgp_sym_encrypt('x', '",
        ),
        ("SELECT AES_DECRYPT(col, 'MyK3yString') FROM t", "MyK3yString", "AES_DECRYPT(col, '"),
        ("SELECT decrypt(convert_to(x, 'utf8'), 'BlowK3y', 'bf')", "BlowK3y", "'bf'"),
        ("AUTH2 user P4ssw0rdX", "P4ssw0rdX", "AUTH2 user"),
        ("MIGRATE host 6379 key 0 5000 AUTH2 user P4ssw0rdX", "P4ssw0rdX", "MIGRATE host"),
    ],
)
def test_key_names_sql_key_arguments_and_redis_auth2_are_masked(text: str, secret: str, kept: str) -> None:
    out = redact(text)
    assert secret not in out and kept in out, out


@pytest.mark.parametrize("key", ["ssh_key", "private", "signing_salt", "deploy_key", "password_salt"])
def test_a_pair_whose_name_means_a_secret_is_masked_without_broad(key: str) -> None:
    assert redact_pair(key, "Xyz12345abc") == "***"


@pytest.mark.parametrize(
    "entry", [{"name": "DB_PASSWORD", "value": "Xyz12345"}, {"key": "API_TOKEN", "value": "Xyz12345"}]
)
def test_an_env_list_entry_of_a_secret_name_has_its_value_masked(entry: dict[str, str]) -> None:
    out = redact_data({"env": [entry, {"name": "LOG_LEVEL", "value": "debug"}]})
    assert "Xyz12345" not in str(out) and "debug" in str(out), out


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        (r'"{\\\"password\\\":\\\"Xyz12345\\\"}"', "Xyz12345"),
        (r'log: "{\"password\":\"Esc\\\"aped\\\"Pw77\"}"', "Pw77"),
        (r'"{\\\"token\\\":\\\"Esc\\\\\\\"aped\\\\\\\"Tk77\\\"}"', "Tk77"),
        (r'msg="{\"api_key\": \"K3y\\\\Back\\\"slash9\", \"user\": \"bob\"}"', "slash9"),
    ],
)
def test_json_escaped_once_or_more_is_masked_to_its_closing_quote(text: str, secret: str) -> None:
    out = redact(text)
    assert secret not in out, out


@pytest.mark.parametrize(
    "key",
    [
        *("Passwort", "db_kennwort", "mot_de_passe", "contraseña", "senha", "wachtwoord", "hasło", "lösenord"),
        *("şifre", "пароль", "Секрет", "токен", "密码", "パスワード", "비밀번호", "Geheimnis"),
        *("p@ssword", "passw0rd", "s3cret", "P@$$w0rd", "api_t0ken"),
    ],
)
def test_a_key_name_in_another_language_or_in_leet_is_read_as_a_secret_word(key: str) -> None:
    for text in (f"{key}=Geh31m99x", f'{{"{key}": "Geh31m99x"}}', f"{key}: Geh31m99x"):
        out = redact(text)
        assert "Geh31m99x" not in out and key in out, out


@pytest.mark.parametrize("text", ["le jeton de session expire", "mot de passe oublié ?", "die Passwort-Richtlinie"])
def test_prose_with_translated_secret_words_stays_readable(text: str) -> None:
    assert redact(text) == text


@pytest.mark.parametrize(
    "text", ["PASSWORD\nGeh31m99x", "db password\nGeh31m99x", "  API_TOKEN  \n  Geh31m99x  ", "Secret\n'Geh31m99x'"]
)
def test_a_key_alone_on_its_line_and_its_value_on_the_next_is_masked(text: str) -> None:
    assert "Geh31m99x" not in redact(text)


@pytest.mark.parametrize("text", ["Reset password\nDone", "forgot password\nplease contact support", "token\nexpired"])
def test_a_line_after_a_secret_word_alone_that_is_prose_stays_readable(text: str) -> None:
    assert redact(text) == text


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        ("passphrase: correct horse battery staple", "horse battery staple"),
        ("ssl_key_passphrase = my very long pass phrase", "long pass phrase"),
        ("Basic auth header value: Basic%20dXNlcjpFbmNvZGVkUHc%3D", "dXNlcjpFbmNvZGVkUHc"),
        ("GET /cb?h=Basic+dXNlcjpFbmNvZGVkUHc%3D HTTP/1.1", "dXNlcjpFbmNvZGVkUHc"),
    ],
)
def test_a_passphrase_of_words_and_url_encoded_basic_auth_are_masked(text: str, secret: str) -> None:
    out = redact(text)
    assert secret not in out, out


def test_a_libpq_dsn_after_a_secret_word_keeps_its_host() -> None:
    text = (
        'FATAL: password authentication failed for user "app" DSN: host=db port=5432 password=L1bpqKv sslmode=require'
    )
    out = redact(text)
    assert "L1bpqKv" not in out and "host=db port=5432" in out and "sslmode=require" in out, out


def test_the_private_lines_of_a_putty_key_file_are_masked() -> None:
    ppk = (
        "PuTTY-User-Key-File-3: ssh-rsa\nEncryption: none\nComment: ops\nPublic-Lines: 1\nAAAAB3NzaC1yc2EAAAADAQAB\n"
        "Private-Lines: 2\nAAAAgQC7Zt2vYk9QmF3pL8xN1rW5sU4cD6eH0jK2lM4nO6pQo\nQmF3pL8xN1rW5sU4cD6eH0jK2lM4nO6pQoAAAAgQC7Zt2v\n"
        "Private-MAC: 9f8e7d6c5b4a39f8e7d6c5b4a3\n"
    )
    out = redact(ppk)
    assert "Zt2vYk9Q" not in out and "QmF3pL8x" not in out and "9f8e7d6c" not in out, out
    assert "Public-Lines: 1\nAAAAB3NzaC1yc2EAAAADAQAB" in out and out.count("\n") == ppk.count("\n"), out
