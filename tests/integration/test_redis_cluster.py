"""Redis Cluster (issue #24, observation 5): a key on another node was "Redis refused the command /
MovedError", and `check redis` judged one node of three without saying so. On the bed's cluster of
three primaries: key reads follow the cluster's redirects, and every primary is judged and named."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator

import pytest
from redis.asyncio.cluster import RedisCluster

from commands.actions.registry import ACTIONS, ActionContext
from commands.actions.runner import preview, validate
from tests.support.checks_env import config_for, run
from tests.support.k8s_world import PLATFORM


@pytest.fixture
async def cluster(testbed) -> AsyncIterator[tuple[str, RedisCluster]]:  # type: ignore[no-untyped-def]
    url = testbed.get("ALP_TESTBED_REDIS_CLUSTER_URL")
    if not url:
        pytest.fail("no Redis Cluster in the test bed: run `scripts/testbed up`")
    client = RedisCluster.from_url(url, decode_responses=True)
    await client.initialize()
    yield str(url), client
    await client.aclose()


def primaries(client: RedisCluster) -> list[str]:
    return sorted(f"{n.host}:{n.port}" for n in client.get_primaries())


def elsewhere(client: RedisCluster, url: str, unique: str) -> str:
    """A user id whose key scheduler:<id> lives on another primary than the one the URL names."""
    named = re.sub(r"^redis://|/\d*$", "", url)
    for i in range(1000):
        user = f"{unique}-{i}"
        node = client.get_node_from_key(f"scheduler:{user}")
        if node is not None and f"{node.host}:{node.port}" != named:
            return user
    raise AssertionError("no key slot on another node")


async def test_a_key_on_another_node_is_read_through_the_redirect(testbed, platform, cluster, unique) -> None:  # type: ignore[no-untyped-def]
    url, client = cluster
    user = elsewhere(client, url, unique)
    await client.set(f"scheduler:{user}", json.dumps({"algorithm": "sm2", "due": 3}), ex=300)
    cfg = config_for(testbed, platform, PLATFORM, redis_url=url)
    report = await run("algorithm", cfg, user=user)
    words = " ".join(f"{f.title} {f.detail} {f.evidence}" for f in report.findings)
    assert "Moved" not in words and "refused" not in words.lower(), words
    assert '"algorithm": "sm2"' in words, words


async def test_check_redis_judges_every_primary_and_says_it_is_a_cluster(testbed, platform, cluster) -> None:  # type: ignore[no-untyped-def]
    url, client = cluster
    cfg = config_for(testbed, platform, PLATFORM, redis_url=url)
    report = await run("redis", cfg)
    text = " ".join(f.title + " " + f.detail for f in report.findings)
    assert "cluster" in text.lower(), text
    for node in primaries(client):
        assert node in text, f"{node} not judged: {text}"
    assert len([f for f in report.findings if "hit ratio" in f.title]) == len(primaries(client)), text
    assert not any("Moved" in f.title or "refused" in f.title.lower() for f in report.findings), text


async def test_health_pings_the_cluster_and_names_it(testbed, platform, cluster) -> None:  # type: ignore[no-untyped-def]
    url, _ = cluster
    cfg = config_for(testbed, platform, PLATFORM, redis_url=url)
    report = await run("health", cfg)
    [pong] = [f.title for f in report.findings if "PONG" in f.title]
    assert "cluster" in pong.lower(), pong


async def test_flush_cache_previews_the_keys_of_every_primary(testbed, platform, cluster, unique) -> None:  # type: ignore[no-untyped-def]
    """The preview of FLUSHDB (which redis-py sends to every primary) counts every primary's keys,
    not the one node DBSIZE asks by default."""
    url, client = cluster
    await client.flushdb()
    keys = [f"{unique}:{i}" for i in range(30)]
    for key in keys:
        await client.set(key, "x", ex=300)
    assert len({client.get_node_from_key(k).name for k in keys}) == 3  # spread over the three primaries
    cfg = config_for(testbed, platform, PLATFORM, redis_url=url)
    spec = ACTIONS.get("flush-cache")
    assert spec is not None
    pre = await preview(spec, ActionContext(cfg), validate(spec, {}))
    assert pre.before == {"keys": 30}, pre.lines
    assert "every primary" in pre.lines[0] and "Redis Cluster" in pre.lines[0], pre.lines
