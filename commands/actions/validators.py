"""Parameter types the actions share: Kubernetes names, IP addresses, quantities."""

from __future__ import annotations

import ipaddress
import re
from typing import Annotated

from pydantic import AfterValidator, BeforeValidator

_DNS1123 = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_QUANTITY = re.compile(r"^(\d+(\.\d+)?)(m|Ki|Mi|Gi|Ti)?$")


def _dns1123(value: str) -> str:
    if len(value) > 63 or not _DNS1123.match(value):
        raise ValueError(f"`{value}` is not a valid Kubernetes name (lowercase letters, digits, '-')")
    return value


def _split(value: object) -> object:
    if isinstance(value, str):
        return [v.strip() for v in value.replace(" ", ",").split(",") if v.strip()]
    return value


def _ips(values: list[str]) -> list[str]:
    out = []
    for v in values:
        try:
            ip = ipaddress.ip_address(v)
        except ValueError:
            raise ValueError(f"`{v}` is not an IP address") from None
        if ip.is_loopback or ip.is_unspecified:
            raise ValueError(f"`{v}` cannot be blocked (loopback/unspecified)")
        out.append(str(ip))
    if not out:
        raise ValueError("give at least one IP address")
    return out


def _quantity(value: str) -> str:
    if not _QUANTITY.match(value):
        raise ValueError(f"`{value}` is not a Kubernetes quantity like 500m, 2, 512Mi or 4Gi")
    return value


Name = Annotated[str, AfterValidator(_dns1123)]
IpList = Annotated[list[str], BeforeValidator(_split), AfterValidator(_ips)]
IntList = Annotated[list[int], BeforeValidator(_split)]
StrList = Annotated[list[str], BeforeValidator(_split)]
Quantity = Annotated[str, AfterValidator(_quantity)]
