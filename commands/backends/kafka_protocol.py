"""Kafka group-describe requests aiokafka 0.14 lacks or decodes wrongly, built from its own types.

- `ConsumerGroupDescribe` (API key 69, KIP-848): the only API that describes groups on the
  `consumer` rebalance protocol (GA in Kafka 4.0). The classic DescribeGroups reports such a
  group as Dead with no members. Schema: Kafka's ConsumerGroupDescribeRequest/Response.json v0.
- `ClassicDescribe` (DescribeGroups, API key 15, v3): aiokafka's v3 request decodes its answer
  with the v2 schema (no authorized_operations), which fails as soon as one response describes
  two groups; this one decodes v3 with the v3 schema, so one request describes many groups.
- `FindCoordinators` (v4) and `OffsetFetchGroups` (v8): one request for many groups where aiokafka
  sends one per group (a thousand groups: two requests instead of two thousand).
"""

from __future__ import annotations

from io import BytesIO
from typing import Any

from aiokafka.coordinator.protocol import ConsumerProtocolMemberAssignment
from aiokafka.protocol.admin import DescribeGroupsResponse_v3
from aiokafka.protocol.api import Request, RequestStruct, Response
from aiokafka.protocol.types import (
    AbstractType,
    Array,
    Boolean,
    CompactArray,
    CompactString,
    Int8,
    Int16,
    Int32,
    Int64,
    Schema,
    String,
    TaggedFields,
)
from aiokafka.structs import TopicPartition


class Uuid(AbstractType[bytes]):  # type: ignore[misc]  # aiokafka is untyped
    """A topic id: 16 raw bytes."""

    @classmethod
    def encode(cls, value: bytes) -> bytes:
        return value

    @classmethod
    def decode(cls, data: BytesIO) -> bytes:
        value = data.read(16)
        if len(value) != 16:
            raise ValueError("Buffer underrun decoding uuid")
        return value


_ASSIGNMENT = Schema(
    (
        "topic_partitions",
        CompactArray(
            ("topic_id", Uuid),
            ("topic_name", CompactString("utf-8")),
            ("partitions", CompactArray(Int32)),
            ("tags", TaggedFields),
        ),
    ),
    ("tags", TaggedFields),
)


class ConsumerGroupDescribeResponse_v0(Response):  # type: ignore[misc]  # aiokafka is untyped
    API_KEY = 69
    API_VERSION = 0
    FLEXIBLE_VERSION = True
    SCHEMA = Schema(
        ("throttle_time_ms", Int32),
        (
            "groups",
            CompactArray(
                ("error_code", Int16),
                ("error_message", CompactString("utf-8")),
                ("group_id", CompactString("utf-8")),
                ("group_state", CompactString("utf-8")),
                ("group_epoch", Int32),
                ("assignment_epoch", Int32),
                ("assignor_name", CompactString("utf-8")),
                (
                    "members",
                    CompactArray(
                        ("member_id", CompactString("utf-8")),
                        ("instance_id", CompactString("utf-8")),
                        ("rack_id", CompactString("utf-8")),
                        ("member_epoch", Int32),
                        ("client_id", CompactString("utf-8")),
                        ("client_host", CompactString("utf-8")),
                        ("subscribed_topic_names", CompactArray(CompactString("utf-8"))),
                        ("subscribed_topic_regex", CompactString("utf-8")),
                        ("assignment", _ASSIGNMENT),
                        ("target_assignment", _ASSIGNMENT),
                        ("tags", TaggedFields),
                    ),
                ),
                ("authorized_operations", Int32),
                ("tags", TaggedFields),
            ),
        ),
        ("tags", TaggedFields),
    )


class ConsumerGroupDescribeRequest_v0(RequestStruct):  # type: ignore[misc]  # aiokafka is untyped
    API_KEY = 69
    API_VERSION = 0
    FLEXIBLE_VERSION = True
    RESPONSE_TYPE = ConsumerGroupDescribeResponse_v0
    SCHEMA = Schema(
        ("group_ids", CompactArray(CompactString("utf-8"))),
        ("include_authorized_operations", Boolean),
        ("tags", TaggedFields),
    )


class ConsumerGroupDescribe(Request[ConsumerGroupDescribeRequest_v0]):  # type: ignore[misc]  # aiokafka is untyped
    API_KEY = 69

    def __init__(self, group_ids: list[str]) -> None:
        self.group_ids = group_ids

    def build(self, request_struct_class: type[ConsumerGroupDescribeRequest_v0]) -> ConsumerGroupDescribeRequest_v0:
        return request_struct_class(self.group_ids, False, {})


class DescribeGroupsRequestV3(RequestStruct):  # type: ignore[misc]  # aiokafka is untyped
    API_KEY = 15
    API_VERSION = 3
    RESPONSE_TYPE = DescribeGroupsResponse_v3
    SCHEMA = Schema(("groups", Array(String("utf-8"))), ("include_authorized_operations", Boolean))


class ClassicDescribe(Request[DescribeGroupsRequestV3]):  # type: ignore[misc]  # aiokafka is untyped
    API_KEY = 15

    def __init__(self, group_ids: list[str]) -> None:
        self.group_ids = group_ids

    def build(self, request_struct_class: type[DescribeGroupsRequestV3]) -> DescribeGroupsRequestV3:
        return request_struct_class(self.group_ids, False)


def classic_assignment(raw: Any) -> set[TopicPartition]:
    """The partitions a classic member was assigned (empty for an undecodable assignment)."""
    if not raw:
        return set()
    try:
        return set(ConsumerProtocolMemberAssignment.decode(bytes(raw)).partitions())
    except Exception:  # a non-consumer protocol's assignment: nothing we can name
        return set()


class FindCoordinatorsResponse_v4(Response):  # type: ignore[misc]  # aiokafka is untyped
    API_KEY = 10
    API_VERSION = 4
    FLEXIBLE_VERSION = True
    SCHEMA = Schema(
        ("throttle_time_ms", Int32),
        (
            "coordinators",
            CompactArray(
                ("key", CompactString("utf-8")),
                ("node_id", Int32),
                ("host", CompactString("utf-8")),
                ("port", Int32),
                ("error_code", Int16),
                ("error_message", CompactString("utf-8")),
                ("tags", TaggedFields),
            ),
        ),
        ("tags", TaggedFields),
    )


class FindCoordinatorsRequest_v4(RequestStruct):  # type: ignore[misc]  # aiokafka is untyped
    API_KEY = 10
    API_VERSION = 4
    FLEXIBLE_VERSION = True
    RESPONSE_TYPE = FindCoordinatorsResponse_v4
    SCHEMA = Schema(
        ("key_type", Int8),
        ("coordinator_keys", CompactArray(CompactString("utf-8"))),
        ("tags", TaggedFields),
    )


class FindCoordinators(Request[FindCoordinatorsRequest_v4]):  # type: ignore[misc]  # aiokafka is untyped
    """FindCoordinator v4 (KIP-699, Kafka 3.0): the coordinators of many groups in one request."""

    API_KEY = 10

    def __init__(self, group_ids: list[str]) -> None:
        self.group_ids = group_ids

    def build(self, request_struct_class: type[FindCoordinatorsRequest_v4]) -> FindCoordinatorsRequest_v4:
        return request_struct_class(0, self.group_ids, {})


class OffsetFetchResponse_v8(Response):  # type: ignore[misc]  # aiokafka is untyped
    API_KEY = 9
    API_VERSION = 8
    FLEXIBLE_VERSION = True
    SCHEMA = Schema(
        ("throttle_time_ms", Int32),
        (
            "groups",
            CompactArray(
                ("group_id", CompactString("utf-8")),
                (
                    "topics",
                    CompactArray(
                        ("name", CompactString("utf-8")),
                        (
                            "partitions",
                            CompactArray(
                                ("partition_index", Int32),
                                ("committed_offset", Int64),
                                ("committed_leader_epoch", Int32),
                                ("metadata", CompactString("utf-8")),
                                ("error_code", Int16),
                                ("tags", TaggedFields),
                            ),
                        ),
                        ("tags", TaggedFields),
                    ),
                ),
                ("error_code", Int16),
                ("tags", TaggedFields),
            ),
        ),
        ("tags", TaggedFields),
    )


class OffsetFetchRequest_v8(RequestStruct):  # type: ignore[misc]  # aiokafka is untyped
    API_KEY = 9
    API_VERSION = 8
    FLEXIBLE_VERSION = True
    RESPONSE_TYPE = OffsetFetchResponse_v8
    SCHEMA = Schema(
        (
            "groups",
            CompactArray(
                ("group_id", CompactString("utf-8")),
                ("topics", CompactArray(("name", CompactString("utf-8")), ("partition_indexes", CompactArray(Int32)))),
                ("tags", TaggedFields),
            ),
        ),
        ("require_stable", Boolean),
        ("tags", TaggedFields),
    )


class OffsetFetchGroups(Request[OffsetFetchRequest_v8]):  # type: ignore[misc]  # aiokafka is untyped
    """OffsetFetch v8 (KIP-709, Kafka 3.0): every committed offset of many groups in one request."""

    API_KEY = 9

    def __init__(self, group_ids: list[str]) -> None:
        self.group_ids = group_ids

    def build(self, request_struct_class: type[OffsetFetchRequest_v8]) -> OffsetFetchRequest_v8:
        return request_struct_class([(g, None, {}) for g in self.group_ids], False, {})
