"""A minimal MaxMind DB (v2) writer for tests: IPv4 networks → small data maps.

maxminddb only reads, so the enrichment test builds its own tiny database. Only the types the
GeoIP City/ASN records and the metadata need are encoded: maps, arrays, UTF-8 strings,
doubles and unsigned ints.
"""

from __future__ import annotations

import ipaddress
import struct
from typing import Any


def _control(type_id: int, size: int) -> bytes:
    if size >= 29 + 256:
        raise ValueError("values this large are not needed by the tests")
    size_bits, extra = (size, b"") if size < 29 else (29, bytes([size - 29]))
    if type_id <= 7:
        return bytes([(type_id << 5) | size_bits]) + extra
    return bytes([size_bits, type_id - 7]) + extra  # extended type


class U16(int):
    """An int the metadata must carry as uint16 (libmaxminddb checks metadata types)."""


class U64(int):
    """An int the metadata must carry as uint64."""


def _uint(type_id: int, value: int) -> bytes:
    data = value.to_bytes(8, "big").lstrip(b"\0")
    return _control(type_id, len(data)) + data


def encode(value: Any) -> bytes:
    if isinstance(value, U16):
        return _uint(5, value)
    if isinstance(value, U64):
        return _uint(9, value)
    if isinstance(value, list):
        out = _control(11, len(value))
        for item in value:
            out += encode(item)
        return out
    if isinstance(value, dict):
        out = _control(7, len(value))
        for key, item in value.items():
            out += encode(str(key)) + encode(item)
        return out
    if isinstance(value, str):
        data = value.encode()
        return _control(2, len(data)) + data
    if isinstance(value, float):
        return _control(3, 8) + struct.pack(">d", value)
    if isinstance(value, int) and 0 <= value < 2**32:
        return _uint(6, value)
    raise TypeError(f"cannot encode {value!r}")


def build(networks: dict[str, dict[str, Any]], database_type: str = "Test") -> bytes:
    """Bytes of an IPv4 database (24-bit records) mapping each CIDR to its data map."""
    trie: list[list[Any]] = [[None, None]]  # node: [left, right]; a leaf holds ("data", index)
    payloads: list[bytes] = []
    for cidr, data in networks.items():
        network = ipaddress.ip_network(cidr)
        bits = int(network.network_address)
        node = 0
        for depth in range(network.prefixlen):
            bit = (bits >> (31 - depth)) & 1
            if depth == network.prefixlen - 1:
                trie[node][bit] = ("data", len(payloads))
            else:
                if trie[node][bit] is None:
                    trie.append([None, None])
                    trie[node][bit] = len(trie) - 1
                node = trie[node][bit]
        payloads.append(encode(data))

    node_count = len(trie)
    offsets, data_section = [], b""
    for payload in payloads:
        offsets.append(len(data_section))
        data_section += payload

    def record(entry: Any) -> int:
        if entry is None:
            return node_count  # "no data"
        if isinstance(entry, tuple):
            return node_count + 16 + offsets[entry[1]]
        return entry

    tree = b"".join(
        record(left).to_bytes(3, "big") + record(right).to_bytes(3, "big") for left, right in trie
    )
    metadata = encode(
        {
            "node_count": node_count,
            "record_size": U16(24),
            "ip_version": U16(4),
            "database_type": database_type,
            "binary_format_major_version": U16(2),
            "binary_format_minor_version": U16(0),
            "build_epoch": U64(1714557600),
            "description": {"en": "govern test database"},
            "languages": ["en"],
        }
    )
    return tree + b"\0" * 16 + data_section + b"\xab\xcd\xefMaxMind.com" + metadata
