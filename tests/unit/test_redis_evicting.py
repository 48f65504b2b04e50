"""Redis evicting at its maxmemory leads with memory and names maxmemory (issue #25, round 4).
Second example, written after the fix: evicting with a low hit ratio (the scenario
redis-fault-evicting has a high one)."""

from __future__ import annotations

from commands.checks.redis_cache import redis_verdicts
from commands.config import ChecksConfig
from commands.report import Severity


def info(hits: int, misses: int, evicted: int, used: int) -> dict[str, object]:
    return {
        "keyspace_hits": hits,
        "keyspace_misses": misses,
        "evicted_keys": evicted,
        "expired_keys": 0,
        "total_commands_processed": hits + misses,
        "used_memory": used,
        "used_memory_human": "64.00M",
        "maxmemory": 64 * 2**20,
        "maxmemory_human": "64.00M",
        "maxmemory_policy": "allkeys-lru",
    }


def test_evicting_with_a_low_hit_ratio_leads_with_memory():
    cfg = ChecksConfig()
    before, after = info(0, 0, 0, 64 * 2**20), info(300, 700, 500, 64 * 2**20)
    findings, _ = redis_verdicts(before, after, 2.0, cfg)
    lead, ratio = findings
    assert lead.title.startswith("Redis memory 100% of maxmemory") and "500 key(s) evicted" in lead.title
    assert lead.severity is Severity.CRITICAL  # as bad as the misses it causes
    [memory] = lead.suggestions
    assert memory.action == "set-resources" and "CONFIG SET maxmemory" in memory.why and "64.00M" in memory.why
    assert [s.action for s in ratio.suggestions] == ["warm-cache"] and "evicted" not in ratio.title


def test_evicting_below_maxmemory_is_not_memory_bound():
    cfg = ChecksConfig()
    before, after = info(0, 0, 0, 10 * 2**20), info(900, 100, 5, 10 * 2**20)  # 16 %: not at maxmemory
    findings, _ = redis_verdicts(before, after, 2.0, cfg)
    assert findings[0].title.startswith("Redis hit ratio") and "5 key(s) evicted" in findings[0].title
