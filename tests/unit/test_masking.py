"""Secrets masked by kind (commands/masking/redact.py): known formats from a maintained rule set, command
lines, multi-line shapes, spellings that hide a key name; harmless values under secret-looking keys
stay readable. The terminal's paths: tests/integration/test_masking_terminal.py; Slack's:
tests/e2e/test_safety_slack.py."""

from __future__ import annotations

import pytest

from commands.masking.redact import MASK, redact, redact_data, redact_lines, redact_pair
from commands.masking.rules import rule_set

# Other spellings of each kind than the ones issue #21 listed (the acceptance checks use others again).
SHAPES = {
    # known formats (gitleaks rules)
    "slack app token": (
        "socket mode with xapp-1-A07QWERTY12-7712345678901-9f8e7d6c5b4a39281706f5e4d3c2b1a0",
        "9f8e7d6c5b4a",
    ),
    "github fine-grained": (
        "GH=github_pat_11AZQ3XYA0Yq7kLmN2pR4t_" + "Vb8cD1eF3gH5iJ7kL9mN0pQ2rS4tU6vW8xY0zA1bC3dE5fG7hI9jK1lM3nO5pQ7rS9",
        "Vb8cD1eF3gH5",
    ),
    "anthropic key": ("using key sk-ant-api03-" + "Zx9Yw8Vu7Ts6Rq5Po4Nm3Lk2Ji1Hg0Fe" * 2 + "-AbCdEf", "Zx9Yw8Vu7Ts6"),
    "anthropic key, exact": (
        "k=sk-ant-api03-" + "Zx9Yw8Vu7Ts6Rq5Po4Nm3Lk2Ji1Hg0Fe" * 2 + "AbCdEfGhIjKlMnOpQrStUvWxYz0" + "AA",
        "Zx9Yw8Vu7Ts6",
    ),
    "gitlab token": ("GITLAB=glpat-Xk3mP9qR2sT5vW8yZ1aB", "glpat-Xk3mP9qR2sT5vW8yZ1aB"),
    "stripe live key": ("charge with sk_live_51Hx9Kq2LmNpQrStUvWxYz012 failed", "sk_live_51Hx9Kq2LmNpQrStUvWxYz012"),
    # a secret beside what names it
    "aws secret beside its key id": (
        "creds ASIAY34FZKBOKMUTVV7A,Kq8vTz3Lw9Xn2Pr5Ys7Ub4Mc6Nd1Fe0Gh3Ji8Ko2 loaded",
        "Kq8vTz3Lw9Xn2Pr5Ys7Ub4Mc6Nd1Fe0Gh3Ji8Ko2",
    ),
    "azure shared access key": (
        "Endpoint=sb://ns.servicebus.windows.net/;SharedAccessKeyName=root;SharedAccessKey=Q2hhbmdlTWVQbGVhc2U0NTY3ODkwMTIzNDU2Nzg5MDE=",
        "Q2hhbmdlTWVQbGVhc2U0NTY3ODkw",
    ),
    "azure sas signature": (
        "GET https://acct.blob.core.windows.net/b/f?sp=r&se=2026&sig=Zm9vYmFyYmF6cXV4%3D 403",
        "Zm9vYmFyYmF6cXV4",
    ),
    # command lines
    "redis-cli --pass": ("exec redis-cli -h cache -p 6379 --pass 'Rd!s-Pa55' info", "Rd!s-Pa55"),
    "redis-cli -a after other flags": ("$ redis-cli -n 2 -a Qz7redisPw --no-auth-warning get k", "Qz7redisPw"),
    "redis AUTH in MONITOR output": ('1700000000.1 [0 10.0.0.5:5100] "AUTH" "default" "Mon1torPw9"', "Mon1torPw9"),
    "redis AUTH password only": ("> AUTH OnlyPassw0rd", "OnlyPassw0rd"),
    "mariadb -p glued": ("running mariadb-dump -h db -u backup -pBkp_Pw_77 appdb", "Bkp_Pw_77"),
    "sshpass -p quoted": ("sshpass -p 'ssh pw 42' rsync -a src/ host:dst/", "ssh pw 42"),
    "ldapsearch -w": ("ldapsearch -x -D cn=admin -w LdapAdm1n -b dc=x", "LdapAdm1n"),
    "docker login -p": ("docker login -u ci -p Dk3rHubPw registry.example.com", "Dk3rHubPw"),
    # key=value notations
    "escaped JSON in a log line": (r'msg="body={\"user\":\"bo\",\"db_password\":\"Esc4ped!Pw\"}"', "Esc4ped!Pw"),
    "url-encoded form": ("POST /login body=user%3Dbo%26passwd%3DUrlEnc0ded%21%26next%3D%2F", "UrlEnc0ded"),
    "url-encoded colon": ("q=%7B%22token%22%3AAbcTok3nXyz%7D", "AbcTok3nXyz"),
    "digest authorization": (
        'Proxy-Authorization: Digest username="ops", realm="r", nonce="n1", response="0a4f113eab8c9d7e6f5a4b3c2d1e0f98"',
        "0a4f113eab8c9d7e6f5a4b3c2d1e0f98",
    ),
    "full-width key name": ("".join(chr(ord(c) + 0xFEE0) for c in "DB_PASSWORD") + "=Fu11W1dthPw", "Fu11W1dthPw"),
    "zero-width inside the key": ("api\u200c_\u2060token: ZeroW1dthTok", "ZeroW1dthTok"),
    "soft hyphen inside the key": ("pass\u00adword=S0ftHyph3n", "S0ftHyph3n"),
    # password hashes
    "htpasswd bcrypt": ("ops:$2y$05$c4WoMPo3SXsafkva.HHa6uXQZWr7oboPiC2bT/r7q1BB8I2s0BRqC", "c4WoMPo3SXsafkva"),
    "htpasswd sha": ("admin:{SHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g=", "W6ph5Mm5Pz8GgiULbPgzG37mj9g"),
    "shadow sha512": (
        "root:$6$rounds=5000$saltsalt$Hz5q9v0Wk1bY8uQ2pLm3nR4sT6uV7wX8yZ9aB0cD1eF2gH3iJ4kL5mN6oP7qR8s:19000:0",
        "Hz5q9v0Wk1bY8",
    ),
}


@pytest.mark.parametrize("name", list(SHAPES))
def test_every_shape_of_a_secret_is_masked(name):
    text, secret = SHAPES[name]
    out = redact(text)
    assert secret not in out and MASK in out, out


def test_the_known_formats_come_from_a_maintained_rule_set_of_hundreds():
    assert len(rule_set().rules) >= 200


def test_a_pem_key_split_over_lines_is_masked_on_every_line_and_the_lines_stay_lines():
    body = [
        "MIIEpAIBAAKCAQEA3Tz2mr7SZiAMfQyuvBjM9Oi",
        "Kq7vY2hL9xW3pN5sR8tU1cE4fG6iJ0kM2nO4qA",
        "bC5dE7fG9hI1jK3lM5nO7pQ9rS1tU3vW5xY==",
    ]
    for end in (["-----END RSA PRIVATE KEY-----"], []):  # whole, and cut before its END line
        lines = ["INFO loading key", "-----BEGIN RSA PRIVATE KEY-----", *body, *end, "INFO key loaded, serving"]
        out = redact_lines(lines)
        assert len(out) == len(lines)
        assert out[0] == "INFO loading key" and out[-1] == "INFO key loaded, serving"
        assert not any(b[:12] in "\n".join(out) for b in body), out
        # the same key in one text (an attached file, a configmap value)
        assert not any(b[:12] in redact("\n".join(lines)) for b in body)


def test_a_yaml_secret_key_followed_by_its_list_or_block_value_is_masked():
    text = "auth:\n  client_secret:\n  - L1stItemS3cret\n  - Second0ne\n  api_key: |\n    Bl0ckScalarKey\n  host: db.internal"
    out = redact(text)
    assert "L1stItemS3cret" not in out and "Second0ne" not in out and "Bl0ckScalarKey" not in out, out
    assert "host: db.internal" in out


@pytest.mark.parametrize(
    "key,value",
    [
        ("oauth_endpoint", "https://oauth-backup.auth.example.com/authorize"),
        ("OAUTH_ISSUER_URL", "https://login.example.org/realms/platform"),
        ("auth_host", "auth-backup.platform.svc.cluster.local"),
        ("auth.enabled", "true"),
        ("AUTH_SERVICE_ADDR", "10.0.4.12:8443"),
        ("token_required", "false"),
    ],
)
def test_a_harmless_value_under_a_secret_looking_key_is_shown(key, value):
    assert value in redact(f"{key}={value}")
    assert redact_pair(key, value, broad=True) == value
    assert redact_data({key: value}) == {key: value}


@pytest.mark.parametrize(
    "key,value",
    [
        ("oauth_client_secret", "Zk3Lq9Vw2Px7"),
        ("AUTH_TOKEN", "ghp_" + "a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8"),
        ("oauth_endpoint", "https://svc:Pq7-s3cret@auth.example.com/authorize"),
        ("webhook_url", "https://hooks.example.com/services/T0A1B2C3D/B0E1F2G3H/abcDEF123ghiJKL456mnoPQR"),
        ("password", "https"),
        ("DB_PASSWORD", "correct.horse.battery.staple"),
    ],
)
def test_a_real_secret_under_such_a_key_stays_masked(key, value):
    secret = value.split("@")[0].rsplit(":", 1)[-1] if "@" in value else value
    assert secret not in redact_pair(key, value, broad=True)
    if key != "webhook_url":  # a webhook key is only secret in the broad (env var, configmap) sense
        assert secret not in str(redact_data({key: value}))
        assert secret not in redact(f"{key}={value}")


def test_text_without_secrets_is_left_alone():
    for text in (
        "INFO GET /api/v1/progress 200 in 12ms user=u42",
        "auth failed for user bob: invalid credentials",
        "WARN key rotation due in 3 days; session count 12",
        "token bucket refilled: 40 tokens",
    ):
        assert redact(text) == text


# Leaks a security tester found through `alp logs`, `alp changes` and `--json` (other spellings of each kind too).
LEAKS = {
    "escaped quote inside a JSON value": ('{"user":"admin","password":"Hunter2\\"Secret01"}', "Secret01"),
    "escaped quote inside a JSON value, single-quoted": ("{'api_token': 'Ab\\'TokSecret01b'}", "TokSecret01b"),
    "python bytes value": ("{'password': b'BytesSecret02'}", "BytesSecret02"),
    "python bytearray value": ("{'db_password': bytearray(b'BytearraySecret02')}", "BytearraySecret02"),
    "sshpass -p glued": ("sshpass -pSshpassSecret03 ssh host", "SshpassSecret03"),
    "ado.net value with a space": ("Server=db;User Id=sa;Password=Spaced Secret04;", "Secret04"),
    "odbc value with a paren": ("DRIVER={x};pwd=abc)ParenSecret10;UID=sa", "ParenSecret10"),
    "value with a paren": ("password=abc)ParenSecret10", "ParenSecret10"),
    "value with a closing brace": ("password=ab}c<BraceSecret10", "BraceSecret10"),
    "value with a comma": ("password=ab,CommaSecret10 user=x", "CommaSecret10"),
    "kubernetes env entry as JSON": ('{"name": "DB_PASSWORD", "value": "EnvPairSecret05"}', "EnvPairSecret05"),
    "kubernetes env entry, valueFrom-less, other order": (
        '{"value":"EnvPairSecret05b","name":"API_TOKEN"}',
        "EnvPairSecret05b",
    ),
    "netrc": ("machine api.example.com login admin password NetrcSecret06", "NetrcSecret06"),
    "password then a space": ("password Hunter2Secret", "Hunter2Secret"),
    "password then a tab": ("PASSWORD\tTabbedSecret6x", "TabbedSecret6x"),
    "xml element": ("<password>XmlSecret07</password>", "XmlSecret07"),
    "xml element, other name": ("<db.secret>XmlOther07x</db.secret>", "XmlOther07x"),
    "xml property": ('<property name="password" value="XmlPropSecret07"/>', "XmlPropSecret07"),
    "xml add key": ('<add key="ApiToken" value="XmlAddSecret07"/>', "XmlAddSecret07"),
    "jdbc oracle thin": ("jdbc:oracle:thin:scott/OracleSecret08@db.internal:1521/ORCL", "OracleSecret08"),
    "redis requirepass": ("CONFIG SET requirepass RequirepassSecret11", "RequirepassSecret11"),
    "redis masterauth": ('config set masterauth "MasterauthSecret11"', "MasterauthSecret11"),
    "sql identified by": ("CREATE USER x IDENTIFIED BY 'IdentifiedSecret12'", "IdentifiedSecret12"),
    "sql identified by, unquoted": ("ALTER USER app IDENTIFIED BY IdentUnq12x;", "IdentUnq12x"),
    "ldapsearch -w glued": ("ldapsearch -x -D cn=admin -wLdapGlued16", "LdapGlued16"),
    "smbclient user%password": ("smbclient //fs/share -U user%SmbSecret17", "SmbSecret17"),
    "keytool -storepass": ("keytool -list -keystore k.jks -storepass KeytoolSecret18", "KeytoolSecret18"),
    "keytool -keypass": ("keytool -genkey -keypass KeypassSecret18", "KeypassSecret18"),
    "REDISCLI_AUTH": ("REDISCLI_AUTH=RediscliSecret22 redis-cli ping", "RediscliSecret22"),
    "mysql -p and a space": ("mysql -u root -p Hunter2Secret appdb", "Hunter2Secret"),
}


@pytest.mark.parametrize("name", list(LEAKS))
def test_each_leak_found_by_the_security_tester_is_masked(name):
    text, secret = LEAKS[name]
    out = redact(text)
    assert secret not in out and MASK in out, out


def test_a_yaml_kubernetes_env_entry_is_masked():
    text = "env:\n- name: API_TOKEN\n  value: YamlEnvSecret05\n- name: LOG_LEVEL\n  value: debug"
    out = redact(text)
    assert "YamlEnvSecret05" not in out and "value: debug" in out, out
    assert "YamlEnvSecret05" not in "\n".join(redact_lines(text.split("\n")))


@pytest.mark.parametrize(
    "key,value",
    [("api_token", "AbCdEfGhIjKlMnOp.QrStUvWxYz"), ("signing_key", "purple.monkey.dishwasher")],
)
def test_a_dotted_value_under_a_secret_name_is_no_host(key, value):
    assert value not in redact_pair(key, value, broad=True)
    assert value not in str(redact_data({key: value}))
    assert value not in redact(f"{key}={value}")


def test_prose_after_a_secret_word_and_non_secrets_stay_readable():
    for text in (
        "password is required",
        "password reset failed for user bob",
        "ERROR password authentication failed for user app",
        "mysql -h db -P 3306 -p",
        "psql -p 5432 -U app",
        "email:alice@example.com",
        "token_expiry=3600",
        "token_type=Bearer",
        "secretName: auth-jwt-key",
        "token bucket refilled: 40 tokens",
    ):
        assert redact(text) == text
