"""Masking throughput: `commands.masking.redact.redact_lines` over a generated log sample, lines per second.

The sample mixes what the platform's pods log (access lines, JSON lines, stack traces, SQL, Kafka and
Redis client lines, URLs, config dumps) with about 1 line in 50 that carries a secret of a known kind
or shape (and more that only look like one: `token bucket`, `auth_host=…`). Lines are masked the way
`alp logs` masks them: a container's lines at a time (`--chunk`, 500 by default), off the event loop.
Every planted secret must be gone from the output (asserted), so a fast wrong masker cannot pass.

Beside it, on the same file, as baselines: `grep -c .` (reading the sample) and the hand-made
`sed -E` an engineer would pipe `kubectl logs` through to hide `password=` values.

Wall time on a shared machine depends on its load (printed); CPU seconds and lines per CPU second
are the masker's own cost. Run: .venv/bin/python -m bench.masking [MB] [--chunk N]   (MB: sample
size, default 8: keep a run under a minute on a busy machine)
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import subprocess
import tempfile
import time

SECRETS = [
    "password=Hx7!q{n}Lm2",
    "redis-cli -h cache -a Rq{n}Zt8pw info",
    "Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ{n}In0.c2lnbmF0dXJlX3t7bn19",
    "xoxb-112233445566-778899001122-AbCdEfGhIjKlMnOpQrSt{n}",
    'json={{"user":"u{n}","client_secret":"Cs{n}-98765-zq"}}',
    "connecting to postgresql://app:Pg{n}Secret@db.internal:5432/app",
    "mysql -uroot -pMy{n}SqlPw -e 'select 1'",
    "github_pat_11ABCDEFG0{n:06d}_aB3dE5gH7jK9mN1pQ3sT5vX7zA9cE1gI3kM5oQ7sU9wY1aC3eG5iK7mO9qS1uW3yZ5bD7f",
    # no key name and no known prefix, and words between key and value (#21 round 3): "Nk{n}Qz" marks them
    "sentry: sending to https://Nk{n}Qz7f6e5d4c3b2a1f0e@o998877.ingest.sentry.io/112233",
    "notify https://discord.com/api/webhooks/1187654321098765432/Zq3xW8vT5uNk{n}QzR2sP9oN6mL3kJ0iH7gF4eD1cB8a",
    "verifying with whsec_Mq4Xw7Zp2Lk9Nk{n}QzTr5Vn8Bc3Df6Gh1",
    "the password for the db is Nk{n}Qz9w",
]
PLAIN = [
    '10.0.{a}.{b} - - [07/Dec/2026:17:{m:02d}:00 +0000] "GET /api/v1/progress/{n} HTTP/1.1" 200 {b}2 "-" "okhttp/4.12"',
    '{{"ts":"2026-12-07T17:{m:02d}:{a:02d}Z","level":"info","msg":"request served","path":"/v1/users/{n}","ms":{b}}}',
    "2026-12-07 17:{m:02d}:{a:02d},{b:03d} ERROR [scheduler] job {n} failed: timeout after 30000ms acquiring connection",
    "    at com.platform.scheduler.JobRunner.run(JobRunner.java:{b})",
    "INFO  kafka consumer group progress-consumers partition {a} committed offset {n}",
    "WARN  token bucket refilled: {b} tokens for tenant t{a}; auth_host=auth-backup.platform.svc.cluster.local",
    "DEBUG redis GET user:{n}:session -> miss ({b} us)",
    "LOG:  duration: {b}.{a} ms  statement: UPDATE user_progress SET step = step + 1 WHERE user_id = {n}",
    "config loaded: oauth_endpoint=https://auth.example.com/oauth2/authorize feature.flag.{a}=true",
]


def make_sample(path: str, megabytes: float, rnd: random.Random) -> tuple[int, list[str]]:
    """Write about `megabytes` MB of log lines; return the line count and the secret values planted."""
    planted: list[str] = []
    lines = 0
    size = 0
    target = megabytes * 1_000_000
    with open(path, "w") as f:
        while size < target:
            n = rnd.randrange(10**6)
            if rnd.random() < 0.02:
                shape = rnd.choice(SECRETS).format(n=n)
                line = f"2026-12-07 17:00:00 INFO {shape}"
                planted.append(str(n))
            else:
                line = rnd.choice(PLAIN).format(a=rnd.randrange(256), b=rnd.randrange(1000), m=rnd.randrange(60), n=n)
            f.write(line + "\n")
            size += len(line) + 1
            lines += 1
    return lines, planted


def cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def timed_shell(cmd: list[str]) -> tuple[float, float]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - t
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("megabytes", nargs="?", type=float, default=8.0)
    ap.add_argument("--chunk", type=int, default=500, help="lines masked together (one container's read)")
    args = ap.parse_args()

    from commands.masking.redact import redact_lines
    from commands.masking.rules import rule_set

    t = time.perf_counter()
    rules = rule_set()
    redact_lines(["warm up"])
    compile_s = time.perf_counter() - t
    rnd = random.Random(21)
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "sample.log")
        lines, planted = make_sample(path, args.megabytes, rnd)
        size_mb = os.path.getsize(path) / 1e6
        with open(path) as f:
            text = f.read().splitlines()
        load = os.getloadavg()[0]
        c0, t0 = cpu(), time.perf_counter()
        out: list[str] = []
        for i in range(0, len(text), args.chunk):
            out += redact_lines(text[i : i + args.chunk])
        wall, cpu_s = time.perf_counter() - t0, cpu() - c0
        assert len(out) == len(text), "masking must keep every line"
        masked = "\n".join(out)
        leaked = [
            n
            for n in planted
            if any(
                f"{a}{n}{b}" in masked for a, b in (("Hx7!q", "Lm2"), ("Cs", "-98765"), ("Pg", "Secret"), ("Nk", "Qz"))
            )
        ]
        assert not leaked, f"{len(leaked)} planted secret(s) not masked"
        assert "auth_host=auth-backup.platform.svc.cluster.local" in masked, "a harmless host was masked"
        grep_wall, grep_cpu = timed_shell(["grep", "-c", ".", path])
        sed_wall, sed_cpu = timed_shell(["sed", "-E", r"s/(password=)[^ ]*/\1***/g", path])

    print(f"sample: {size_mb:.1f} MB, {lines} lines ({len(planted)} with a planted secret); chunk {args.chunk} lines")
    print(f"rules: {len(rules.rules)} gitleaks rules + shapes, compiled in {compile_s:.2f} s (once, at start)")
    print(f"load average at start: {load:.2f} on {os.cpu_count()} cores")
    print(f"{'':28} {'wall s':>8} {'CPU s':>8} {'lines/s':>12} {'lines/CPU s':>12} {'MB/s':>8}")
    for name, w, c in (
        ("alp redact_lines", wall, cpu_s),
        ("grep -c . (reading only)", grep_wall, grep_cpu),
        ("sed password= (by hand)", sed_wall, sed_cpu),
    ):
        per_cpu = f"{lines / c:12,.0f}" if c > 0 else f"{'-':>12}"
        print(f"{name:28} {w:8.2f} {c:8.2f} {lines / w:12,.0f} {per_cpu} {size_mb / w:8.2f}")
    print(f"100 MB at this rate: {100 / size_mb * wall:.0f} s wall, {100 / size_mb * cpu_s:.0f} CPU s")


if __name__ == "__main__":
    main()
