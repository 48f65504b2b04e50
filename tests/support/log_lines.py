"""Log lines as a busy service writes them, for tests that load the kubelet stand-in with many."""

from __future__ import annotations

import random


def varied_lines(seed: int, n: int) -> str:
    """`n` log lines of a few hundred shapes, as a busy service writes them."""
    rnd = random.Random(seed)
    verbs = ["GET", "POST", "PUT", "DELETE"]
    words = ["user", "session", "order", "cache", "token", "queue", "batch", "model", "shard", "lease"]
    out = []
    for i in range(n):
        level = rnd.choice(["INFO", "INFO", "INFO", "WARN", "ERROR", "DEBUG"])
        a, b, c = rnd.sample(words, 3)
        shape = rnd.randrange(6)
        if shape == 0:
            out.append(f"{level} {rnd.choice(verbs)} /{a}/{rnd.randrange(10**6)}/{b} {rnd.choice([200, 404, 500])}")
        elif shape == 1:
            out.append(f"{level} {a} {b} took {rnd.randrange(9999)}ms for {c}={rnd.randrange(10**9):x}")
        elif shape == 2:
            out.append(f"{level} worker-{rnd.randrange(64)} {a} {c} retry {rnd.randrange(9)} of 9 on {b}")
        elif shape == 3:
            out.append(f'{{"level":"{level.lower()}","msg":"{a} {b} {c}","n":{i}}}')
        elif shape == 4:
            out.append(f"{level} {a}-{rnd.randrange(300)} {b} {c} state changed")
        else:
            out.append(f"{level} {a} {b} {c} {rnd.randrange(10**4)} {rnd.choice(words)}")
    return "\n".join(out) + "\n"
