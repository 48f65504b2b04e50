"""Where a secret sits, whatever its format: the shapes masked beside the known formats of
`commands.masking.rules`. Each finder returns the (start, end) spans of secret values in a text.

1. values of keys whose name means a secret (`SECRET_WORD`) in every form they are written: `k=v`,
   `k: v`, `"k": "v"`, JSON escaped inside a log line (`{\\"k\\":\\"v\\"}`), URL-encoded
   (`k%3Dv`), `export K=v`, `--flag v`, `PASSWORD 'x'` in SQL, connection strings (`Password=a b;`),
   `k v` when the word is `credential_like` (`.netrc`), a value named by its neighbour (Kubernetes env
   entries, XML properties and elements); a value of a harmless shape (a URL without credentials, a
   host name under an endpoint key, an address, a boolean) is shown, so `oauth_endpoint=https://…`
   stays readable while `oauth_secret=…` is masked; a key naming a property of a secret
   (`token_expiry`, `secretName`) is no secret;
2. whole-value headers (`Authorization: Digest …`, `Cookie: …`) and HTTP `Bearer`/`Basic` credentials;
3. credentials in URLs (`scheme://user:password@host`, `user:password@host`);
4. command lines that take a password after a short flag or as a word: `redis-cli -a P`,
   `mysql -pP`, `sshpass -p P`, `ldapsearch -w P`, `docker login -p P`, `smbclient -U user%P`,
   Redis `AUTH [user] P`, `requirepass P`, SQL `IDENTIFIED BY 'P'`, Oracle `user/P@db`; the scan from
   the command's name to its flag is bounded (500 characters) so it stays linear;
5. password hashes (crypt and htpasswd: `$apr1$…`, `$2y$…`, `{SHA}…`) and an AWS secret key beside
   its access key id.

Multi-line shapes (a PEM block split across log lines, `password:` followed by a YAML list item)
are in `commands.masking.redact.redact_lines`.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable, Iterator
from urllib.parse import unquote

Span = tuple[int, int]

SECRET_WORD = (
    r"passw(?:or)?d|passphrase|(?<![a-z])pass(?![a-z])|(?<![a-z])pw(?![a-z])|pwd|secret|token|signature"
    r"|(?<![a-z])sig(?![a-z])|(?:api|access|private|auth|encryption|signing|master|session|jwt|hmac|shared|client|account|ssh|deploy)[_-]?key"
    r"|apikey|credentials?|authorization|cookie|session[_-]?id|requirepass|masterauth|(?:store|key)pass"
    r"|[_-]auth(?![a-z0-9_.-])|(?<![a-z])salt(?![a-z])|(?<![a-z0-9_.-])private(?![a-z0-9_.-])"
    # the same words in other languages (de, fr, es, pt, nl, pl, sv, tr, ru, zh, ja, ko)
    r"|passwort|kennwort|mot_de_passe|contrase(?:ñ|n)a|(?<![a-z])senha|wachtwoord|has(?:ł|l)o(?![a-z])"
    r"|l(?:ö|o)senord|(?<![a-z])(?:ş|s)ifre(?![a-z])|geheimnis|пароль|секрет|токен|密码|密碼|口令|パスワード|비밀번호"
)
"""A key name that means a secret, inside a longer identifier (DB_PASSWORD, client_secret, AccountKey)."""
# bounded (80 characters either side of the word), so that trying it where a run of letters holds
# many secret words (`tokentoken…`) stays linear
NAME = rf"[a-z0-9_.-]{{0,80}}(?:{SECRET_WORD})[a-z0-9_.-]{{0,80}}"
MAYBE_SECRET_WORD = re.compile(
    r"(?i)pass|pwd|secret|token|key|credential|auth|dsn|private|cert|webhook|cookie|jwt|salt"
)
"""Key names (env vars, configmap keys, labels) whose value is masked whole unless of a harmless shape."""
HINTS = (
    *("pass", "pw", "secret", "token", "sig", "key", "credential", "authoriz", "cookie", "session", "_auth", "-auth"),
    *("salt", "private", "passwort", "kennwort", "passe", "contrase", "senha", "wachtwoord", "hasło", "haslo"),
    *("senord", "ifre", "geheimnis", "пароль", "секрет", "токен", "密码", "密碼", "口令", "パスワード", "비밀번호"),
)
"""A superset of SECRET_WORD by substring: a line with none of these has no secret key."""

_AUTH_SCHEME = r"(?:basic|bearer|token|negotiate)\s+"
_WHOLE_VALUE = r"(?:proxy-)?authorization(?![\w-])|(?:set-)?cookie(?![\w-])"
_HEADER = re.compile(
    rf"(?i)\b(?:{_WHOLE_VALUE})[\"']?\s*[:=]\s*[\"']?"
    r"(?:(?P<digest>digest\s+)(?P<params>[^\r\n]+)|(?:[A-Za-z][\w-]*[ \t]+(?=\S))?(?P<val>[^\s\"'][^\r\n\"']*))"
)
_KEYVALUE = re.compile(
    rf"""(?ix)
    (?P<q>\\*["']?|%22)(?:(?<=%22)|(?<![a-z0-9_.-]))(?!{_WHOLE_VALUE})(?P<name>{NAME})(?P=q)  # the key, maybe quoted
    (?:\s*(?:=|:|=>)\s*|%3d|%3a)                                             # k=v, k: v, "k": v, k%3Dv
    (?:{_AUTH_SCHEME})?
    (?:bytearray\(|bytes\()?b?                                               # Python bytes: b'…', bytearray(b'…')
    (?:"(?P<dq>(?:[^"\\\n]|\\.)*)"|'(?P<sq>(?:[^'\\\n]|\\.)*)'
       |(?P<bs>\\+)"(?P<eq>[^\n]{{0,1000}}?)(?<!\\)(?P=bs)"                       # JSON in a string, at any depth
       |(?P<pct>(?<=%3d)(?:[^\s&%"']|%(?!26)[0-9a-f]{{2}})+|(?<=%3a)(?:[^\s&%"']|%(?!26)[0-9a-f]{{2}})+)
       |(?P<val>(?:[^\s,;&'"<]|<(?!/)|,(?![\s,]|[\w.-]+\s*[=:]))+))  # cut at `;` `&` `</` `, ` `,k=`
    """
)
_FLAG = re.compile(rf"(?i)(?<![\w-])--?(?P<name>{NAME})\s+(?P<val>(?!-)(?!\*\*\*)[^\s'\"]+)")
_URL_CREDENTIALS = re.compile(r"(?i)\b[a-z][a-z0-9+.-]*://[^:/@\s]*:(?P<val>[^@\s]+)@")
_BARE_CREDENTIALS = re.compile(
    r"(?<![\w/:.@-])(?!(?i:e-?mail|mailto|from|to|b?cc|reply-to|sender|recipients?|author|committer|contact|owner):)"
    r"[A-Za-z_][\w.-]{0,63}:(?P<val>[^\s:@/]{1,200})@(?=[A-Za-z0-9][\w-]*(?:\.[\w-]+|:\d))"
)
_BEARER = re.compile(r"(?i)\bbearer\s+(?P<val>(?!\*\*\*)[A-Za-z0-9._~+/=-]+)")
# `Basic <base64>`, also URL-encoded (`Basic%20dXNl…%3D`, `Basic+dXNl…`)
_BASIC = re.compile(
    r"(?i)\bbasic(?:\s+|%20|\+)(?P<val>(?:[A-Za-z0-9/]|%2[bf])(?:[A-Za-z0-9+/]|%2[bf]){5,}(?:=|%3d){0,2})"
)
_SQL_PASSWORD = re.compile(r"(?i)\bpassword\s+'(?P<val>(?:[^']|'')*)'")
_JWT = re.compile(r"\beyJ[A-Za-z0-9_-]+\.eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*")
_ARG = r"(?:'(?P<sq>[^'\n]*)'|\"(?P<dq>[^\"\n]*)\"|(?P<val>[^\s'\"]+))"
_COMMAND_LINES = re.compile(
    r"(?i)(?:\b(?:redis-cli|keydb-cli|valkey-cli)\b[^\n|;&]{0,500}?(?<!\S)(?:-a|--pass)"
    r"|\b(?:mongo(?:sh|dump|restore)?|docker\s+login|podman\s+login|helm\s+registry\s+login)\b[^\n|;&]{0,500}?(?<!\S)(?-i:-p)"
    # sshpass's own options only (before the command it runs: `sshpass -f pw ssh -p 2222` is a port)
    r"|\bsshpass(?:[ \t]+(?-i:-[fdP])[ \t]*[^\s-]\S{0,200}|[ \t]+(?-i:-[ev]+))*[ \t]+(?-i:-p)"
    r"|\bldap\w*\b[^\n|;&]{0,500}?(?<!\S)(?-i:-w)"
    rf")(?:\s+|=)?{_ARG}"  # `-p P`, `-p=P` and `-pP`
    r"|\b(?:smbclient|rpcclient|smbcacls|smbget|smbmap)\b[^\n|;&]{0,500}?(?<!\S)(?:-U|--user)(?:\s+|=)[^\s%'\"]{1,200}%(?P<pct>[^\s'\"]+)"
)
# words that Redis and SQL put right before a password: `CONFIG SET requirepass P`, `IDENTIFIED BY 'P'`
_WORD_ARG = re.compile(
    r"(?i)(?:\b(?:requirepass|masterauth)|\bidentified(?:\s+with\s+\S+)?\s+by(?:\s+password)?)[ \t]+"
    r"(?:'(?P<sq>[^'\n]*)'|\"(?P<dq>[^\"\n]*)\"|(?P<val>[^\s'\";]+))"
)
# Oracle's `user/password@db` (JDBC thin URLs, sqlplus and the other tools' logon argument)
_ORACLE_LOGON = re.compile(
    r"(?i)(?:\bjdbc:oracle:\w+:|\b(?:sqlplus|sqlldr|rman|expdp|impdp|dgmgrl)\s+(?:-\w+\s+)*)[\w$#.-]{1,64}/(?P<val>[^\s/@]{1,200})@"
)
# a secret named by its neighbour: Kubernetes env entries (`{"name": "DB_PASSWORD", "value": "P"}`),
# XML properties (`<property name="password" value="P"/>`, `<add key="ApiToken" value="P"/>`)
_Q = r"[\"']?"
_NAME_THEN_VALUE = re.compile(
    rf"(?i)\b(?:name|key){_Q}\s*[:=]\s*{_Q}(?P<name>[\w.-]{{1,80}}){_Q}\s*,?\s*{_Q}value{_Q}\s*[:=]\s*"
    r"(?:\"(?P<dq>[^\"\n]{0,400})\"|'(?P<sq>[^'\n]{0,400})'|(?P<val>[^\s,}'\"]{1,400}))"
)
_VALUE_THEN_NAME = re.compile(
    rf"(?i)\bvalue{_Q}\s*[:=]\s*(?:\"(?P<dq>[^\"\n]{{0,400}})\"|'(?P<sq>[^'\n]{{0,400}})'|(?P<val>[^\s,}}'\"]{{1,400}})){_Q}\s*,?\s*"
    rf"{_Q}(?:name|key){_Q}\s*[:=]\s*{_Q}(?P<name>[\w.-]{{1,80}})"
)
# `<password>P</password>`: the element's name is checked apart (bounded, so linear)
_XML_ELEMENT = re.compile(r"<(?P<name>[\w.:-]{1,80})(?:\s[^<>\n]{0,400})?>(?P<val>[^<\n]{1,400})</(?P=name)>")
# mysql and its tools take the password glued to -p (`-pS3cret`; `-p` alone asks for it)
# (and `-p P` is read as a password when `credential_like`: a database name is usually not)
_MYSQL = re.compile(
    r"(?i)\b(?:mysql\w*|mariadb\w*)\b[^\n|;&]{0,500}?(?<!\S)(?-i:-p)(?:(?P<val>[^\s'\"]+)|[ \t]+(?P<word>[^\s'\"-][^\s'\"]*))"
)
# Redis AUTH as a command (upper case, or lower case after redis-cli): the last word on the line
_REDIS_AUTH = re.compile(
    r"(?:(?<![\w-])\"?AUTH2?\"?|\bredis\S{0,40}[^\n]{0,500}?(?<![\w-])auth2?)[ \t]+(?:\"?[^\s\"]+\"?[ \t]+)?\"?(?P<val>[^\s\"]+)\"?[ \t]*(?=\n|$)"
)
_HASH = re.compile(
    r"(?P<val>\$(?:apr1|2[abxy]?|1|5|6|7|y|gy|argon2(?:id|i|d)|pbkdf2[\w-]*|scrypt)\$[A-Za-z0-9./$=,+-]{8,}"
    r"|\{(?:S?SHA(?:256|512)?|S?MD5|PBKDF2[\w-]*|CRYPT)\}[A-Za-z0-9+/.$=]{8,})"
)
# SQL functions whose second argument is a key (pgcrypto, MySQL): `pgp_sym_decrypt(data, 'K')`
_SQL_KEY_ARG = re.compile(
    r"(?i)\b(?:pgp_sym_(?:en|de)crypt(?:_bytea)?|aes_(?:en|de)crypt|des_(?:en|de)crypt|(?:en|de)crypt(?:_iv)?)"
    r"\(\s*(?:'[^'\n]{0,500}'|[^,'()\n]{1,200}(?:\([^()\n]{0,200}\))?)\s*,\s*'(?P<val>[^'\n]{1,200})'"
)
_AWS_PAIR = re.compile(
    r"\b(?:A3T[A-Z0-9]|AKIA|ASIA|ABIA|ACCA)[A-Z0-9]{16}\b[^A-Za-z0-9/+\n]{1,5}(?:[\w-]{0,40}\s*[=:]\s*)?[\"']?"
    r"(?P<val>[A-Za-z0-9/+]{40})(?![A-Za-z0-9/+])"
)

# Token prefixes of well-known vendors, in looser lengths than their exact formats (a test key, a new version)
_PREFIXED = re.compile(
    r"\b(?:(?:sk-ant-[a-z]+\d*|sk-proj|sk-svcacct|xapp-\d|xox[abposr]|github_pat|gh[pousr]|glpat|npm|pypi-AgE|hf)[_-]"
    r"|ya29\.(?:c\.)?)[A-Za-z0-9_-]{16,}"  # ya29.: a Google OAuth access token
)
STRONG_WORD = re.compile(r"(?i)pass|pwd|pw\b|secret|credential|private|cookie|signature")
"""Key names that never hold a host name or address (a dotted password would read as one)."""
ENDPOINT_WORD = re.compile(r"(?i)url|uri|host|endpoint|addr|server|domain")
"""Key names whose dotted value is a host name (`auth_host`); under any other secret-named key
(`api_token`, `signing_key`) a dotted value is a secret (`purple.monkey.dishwasher`)."""
_PROPERTY = re.compile(
    r"(?i)(?:expiry|expires?(?:_?(?:in|at))?|ttl|lifetime|type|name|length|len|size|count|file|path|dir"
    r"|format|version|algorithm|alg|header|field|prefix|ref|stdin|prompt|fd|env|cmd|command|vol|volume|mount)$"
)
_CREDENTIAL_LIKE = re.compile(r"\d|[a-z][A-Z]|[!@#$%^&*+=?~]")


def names_a_secret(name: str) -> bool:
    """False for a key that names a property of a secret rather than the secret (`token_expiry`,
    `token_type`, `secretName`, `password_file`); the caller has already found a secret word in it."""
    return _PROPERTY.search(name) is None


def credential_like(word: str) -> bool:
    """Whether a word after a secret word with only a space between (`password Hunter2x`, `.netrc`'s
    `password P`) is a credential rather than prose (`password reset failed`): at least 6 characters,
    and a digit, a lower-to-upper case change or a symbol in it."""
    return len(word) >= 6 and _CREDENTIAL_LIKE.search(word) is not None


_BOOLEAN = re.compile(r"(?i)true|false|yes|no|on|off|enabled?|disabled?|none|null|required|optional")
_HOST = re.compile(r"(?i)(?=[^:]*[a-z])[a-z0-9-]+(?:\.[a-z0-9-]+)*\.[a-z]{2,}\.?(?::\d{1,5})?|localhost(?::\d{1,5})?")
_ADDRESS = re.compile(r"\d{1,3}(?:\.\d{1,3}){3}(?::\d{1,5})?|\[[0-9a-fA-F:]+\](?::\d{1,5})?")
_URL = re.compile(r"(?i)[a-z][a-z0-9+.-]*://(?P<host>[^/?#@\s]+)(?P<path>/[^?#\s]*)?")
_RANDOM_SEGMENT = re.compile(r"(?=[^/]*\d)(?=[^/]*[a-zA-Z])[A-Za-z0-9_-]{20,}")


_TOKEN_COUNT = re.compile(r"(?i)tokens(?![a-z])|token_?(?:count|limit|budget)")
"""Key names that count tokens of a language model (`max_tokens`, `tokens_per_second`), not hold one."""
_NUMBER = re.compile(r"\d{1,12}(?:\.\d{1,6})?")


def harmless(value: str, key: str = "") -> bool:
    """A value of a shape that is no secret under `key`: a boolean, a number under a name that
    counts tokens (`max_tokens=4096`), an address (not under a
    `STRONG_WORD` key), a host name (only under an `ENDPOINT_WORD` key), or a URL with no credentials, no query and no token-like path
    segment (`https://auth.example.com/oauth2/token`)."""
    v = value.strip().strip("\"'")
    if not v or _BOOLEAN.fullmatch(v) or (_NUMBER.fullmatch(v) and _TOKEN_COUNT.search(key)):
        return True
    if STRONG_WORD.search(key) is None and (
        _ADDRESS.fullmatch(v) or (_HOST.fullmatch(v) and (not key or ENDPOINT_WORD.search(key)))
    ):
        return True
    m = _URL.fullmatch(v)
    return bool(
        m
        and not _RANDOM_SEGMENT.search(m["path"] or "")
        and (_HOST.fullmatch(m["host"]) or _ADDRESS.fullmatch(m["host"]))
    )


def _group_spans(pattern: re.Pattern[str], text: str, groups: tuple[str, ...] = ("val",)) -> Iterator[Span]:
    for m in pattern.finditer(text):
        for g in groups:
            if m.group(g):
                yield m.span(g)
                break


def _headers(text: str) -> Iterator[Span]:
    for m in _HEADER.finditer(text):
        yield m.span("params") if m["digest"] else m.span("val")


def _basic(text: str) -> Iterator[Span]:
    for m in _BASIC.finditer(text):
        try:
            val = unquote(m["val"])
            decoded = base64.b64decode(val + "=" * (-len(val) % 4), validate=True).decode()
        except (binascii.Error, UnicodeDecodeError, ValueError):
            continue
        if ":" in decoded:
            yield m.span("val")


def _hinted(text: str) -> bool:
    low = text.lower()
    return any(h in low for h in HINTS)


_KEY_MAX = 80  # characters of a key name either side of its secret word (NAME's bound)
_WORD = re.compile(rf"(?i){SECRET_WORD}")
_WORD_LOWER = re.compile(SECRET_WORD)  # on lower-cased ASCII text: twice as fast as (?i)


def secret_words(line: str) -> Iterator[re.Match[str]]:
    """Every secret word in `line` (SECRET_WORD), by position (the match's text may be lower-cased)."""
    return _WORD_LOWER.finditer(line.lower()) if line.isascii() else _WORD.finditer(line)


_KEY_CHAR = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-")


def _named_in_line(line: str) -> Iterator[Span]:
    """`_KEYVALUE` tried only where a secret word is (found by one cheap search): the key's
    identifier starts where its characters do, after an optional quote."""
    done = 0
    for w in secret_words(line):
        if w.start() < done:
            continue
        start, end = w.start(), w.end()
        while start > 0 and line[start - 1] in _KEY_CHAR and w.start() - start <= _KEY_MAX:
            start -= 1
        while end < len(line) and line[end] in _KEY_CHAR and end - w.end() <= _KEY_MAX:
            end += 1
        done = end  # the identifier's other secret words name the same key: read it once (linear)
        if w.start() - start > _KEY_MAX or end - w.end() > _KEY_MAX:
            continue  # no key name is that long: a run of letters, not a key
        if (encoded_quote := line.rfind("%22", max(0, start - 1), w.start())) != -1:  # %22token%22%3A…
            start = encoded_quote + 3
        escaped = start - 1  # JSON inside a string, escaped once or more: \"k\", \\\"k\\\"
        while escaped > 0 and line[escaped - 1] == "\\" and start - escaped < 16:
            escaped -= 1
        deep = line[escaped:start] if escaped < start - 1 and line.startswith('"', start - 1) else '\\"'
        for quote in ("", '"', "'", deep, "%22"):
            if line.startswith(quote, start - len(quote)) and (m := _KEYVALUE.match(line, start - len(quote))):
                g = next(g for g in ("dq", "sq", "eq", "pct", "val") if m.group(g) is not None)
                a, b = m.span(g)
                if g == "val":
                    a, b = _unquoted_value(line, m.start(), a, b)
                    if "phrase" in m["name"].lower():  # a passphrase is words: to the line's end
                        b = a + len(line[a:].rstrip())
                if b > a and names_a_secret(m["name"]) and not harmless(line[a:b], m["name"]):
                    yield a, b
                done = max(m.end(), b)
                break
        else:
            if (m := _SPACED.match(line, start)) and names_a_secret(m["name"]) and credential_like(m["val"]):
                yield m.span("val")
                done = m.end()
    # a flag naming a property of a secret (`--password-file`, `--password-stdin`, `--token-ttl`) takes no secret
    if " -" in line or line.startswith("-"):
        yield from (m.span("val") for m in _FLAG.finditer(line) if names_a_secret(m["name"]))


def _unquoted_value(line: str, key_at: int, a: int, b: int) -> Span:
    """An unquoted value's span: in a connection string (ADO.NET, ODBC: the key follows a `;`, or a
    `;` and the next `key=` follow the value) it runs to the `;` whatever it holds (`Password=a b;`)
    or is `{braced}`; elsewhere closing brackets and a backslash at its end are the text's, not its."""
    if line.startswith("{", a) and not line.startswith("{{", a) and (close := line.find("}", a)) != -1:
        return a, close + 1
    semi = line.find(";", a, a + 200)  # a connection string value is short
    if semi != -1 and "=" not in line[a:semi] and line[a:semi].strip():
        before = key_at - 1
        while before >= 0 and line[before] in " \t":
            before -= 1
        if (before >= 0 and line[before] == ";") or _NEXT_KEY.match(line, semi + 1) or _BLANK.match(line, semi + 1):
            return a, a + len(line[a:semi].rstrip())
    while b > a and line[b - 1] in ")]}>\\":
        b -= 1
    return a, b


_NEXT_KEY = re.compile(r"\s*[A-Za-z][\w ]{0,40}=")
_BLANK = re.compile(r"\s*$")
# a secret word, spaces or a tab, a word (.netrc's `password P`, `PASSWORD<TAB>P`): masked when `credential_like`
_SPACED = re.compile(rf"(?i)(?P<name>{NAME})[ \t]+(?P<val>[^\s'\"]{{1,200}})(?!\S)")


def _named(text: str) -> Iterator[Span]:
    """Values of secret-named keys and flags, on the lines that name one."""
    if not _hinted(text):
        return
    start = 0
    for line in text.split("\n"):
        if _hinted(line):
            for a, b in _named_in_line(line):
                yield start + a, start + b
        start += len(line) + 1


_SECRET_NAME = re.compile(NAME, re.I)


def _neighbour_named(text: str) -> Iterator[Span]:
    """Values whose name is a neighbouring field or element (`_NAME_THEN_VALUE`, `_XML_ELEMENT`)."""
    for pattern in (_NAME_THEN_VALUE, _VALUE_THEN_NAME, _XML_ELEMENT):
        for m in pattern.finditer(text):
            g = next(g for g in ("dq", "sq", "val") if g in m.re.groupindex and m.group(g) is not None)
            name, value = m["name"], m[g]
            if value and _SECRET_NAME.fullmatch(name) and names_a_secret(name) and not harmless(value, name):
                yield m.span(g)


def _mysql(text: str) -> Iterator[Span]:
    for m in _MYSQL.finditer(text):
        if m["val"]:
            yield m.span("val")
        elif credential_like(m["word"]):
            yield m.span("word")


def _whole(pattern: re.Pattern[str]) -> Callable[[str], Iterator[Span]]:
    return lambda text: (m.span() for m in pattern.finditer(text))


def _values(pattern: re.Pattern[str], groups: tuple[str, ...] = ("val",)) -> Callable[[str], Iterator[Span]]:
    return lambda text: _group_spans(pattern, text, groups)


_ARGS = ("sq", "dq", "val")
FINDERS: tuple[tuple[tuple[str, ...], Callable[[str], Iterator[Span]]], ...] = (
    (("eyj",), _whole(_JWT)),
    (("sk-", "xapp-", "xox", "github_pat", "gh", "glpat", "npm_", "pypi-", "hf_", "ya29."), _whole(_PREFIXED)),
    (("://",), _values(_URL_CREDENTIALS)),
    (("@",), _values(_BARE_CREDENTIALS)),
    (("bearer",), _values(_BEARER)),
    (("basic",), _basic),
    (("password",), _values(_SQL_PASSWORD)),
    (("authorization", "cookie"), _headers),
    (
        ("redis-cli", "keydb-cli", "valkey-cli", "sshpass", "mongo", "login", "ldap", "smb", "rpcclient"),
        _values(_COMMAND_LINES, (*_ARGS, "pct")),
    ),
    (("mysql", "mariadb"), _mysql),
    (("requirepass", "masterauth", "identified"), _values(_WORD_ARG, _ARGS)),
    (("jdbc:oracle", "sqlplus", "sqlldr", "rman", "expdp", "impdp", "dgmgrl"), _values(_ORACLE_LOGON)),
    (("value", "</"), _neighbour_named),
    (("auth",), _values(_REDIS_AUTH)),
    (("crypt(",), _values(_SQL_KEY_ARG)),
    (("$", "{"), _values(_HASH)),
    (("akia", "asia", "abia", "acca", "a3t"), _values(_AWS_PAIR)),
    (HINTS, _named),
)
"""Every shape's finder, with the lower-case words one of which a text must contain for it to be tried."""
