"""CRC32 arithmetic without materialising bytes, and the OpenSubtitles hash.

zlib's CRC32 register is updated linearly when a zero byte is processed, so "append n zero bytes"
is a 32x32 GF(2) matrix power. We precompute the operators for n = 2**j as byte lookup tables;
then the CRC of `prefix + n zeros`, and of a unit repeated k times (by doubling with the
combine rule crc(A+B) = Z_len(B)(crc(A)) ^ crc(B)), cost microseconds for any size.
"""

from __future__ import annotations

import struct
import threading
import zlib
from collections.abc import Iterable

_POLY = 0xEDB88320
_LEVELS = 64  # operators for 2**0 .. 2**63 bytes of zeros

_byte_table: list[int] = []
for _n in range(256):
    _c = _n
    for _ in range(8):
        _c = (_c >> 1) ^ _POLY if _c & 1 else _c >> 1
    _byte_table.append(_c)

_tables: list[tuple[list[int], list[int], list[int], list[int]]] = []
_tables_lock = threading.Lock()


def _one_zero_byte(register: int) -> int:
    return (register >> 8) ^ _byte_table[register & 0xFF]


def _apply(tables: tuple[list[int], list[int], list[int], list[int]], value: int) -> int:
    t0, t1, t2, t3 = tables
    return t0[value & 0xFF] ^ t1[(value >> 8) & 0xFF] ^ t2[(value >> 16) & 0xFF] ^ t3[value >> 24]


def _tables_from_columns(columns: list[int]) -> tuple[list[int], list[int], list[int], list[int]]:
    result = []
    for k in range(4):
        table = [0] * 256
        for b in range(1, 256):
            low = b & -b
            table[b] = table[b ^ low] ^ columns[8 * k + low.bit_length() - 1]
        result.append(table)
    return (result[0], result[1], result[2], result[3])


def _ensure_tables() -> list[tuple[list[int], list[int], list[int], list[int]]]:
    if _tables:
        return _tables
    with _tables_lock:
        if not _tables:
            columns = [_one_zero_byte(1 << i) for i in range(32)]
            levels = [_tables_from_columns(columns)]
            for _ in range(1, _LEVELS):
                previous = levels[-1]
                columns = [_apply(previous, column) for column in columns]
                levels.append(_tables_from_columns(columns))
            _tables.extend(levels)
    return _tables


def shift_zeros(value: int, count: int) -> int:
    """Apply the register operator for `count` zero bytes to `value` (linear part only)."""
    if count < 0:
        raise ValueError("count must be >= 0")
    tables = _ensure_tables()
    level = 0
    while count:
        if count & 1:
            t0, t1, t2, t3 = tables[level]
            low = t0[value & 0xFF] ^ t1[(value >> 8) & 0xFF]
            value = low ^ t2[(value >> 16) & 0xFF] ^ t3[value >> 24]
        count >>= 1
        level += 1
    return value


def crc32_combine(crc_a: int, crc_b: int, len_b: int) -> int:
    """CRC32 of A+B from crc32(A), crc32(B) and len(B)."""
    return shift_zeros(crc_a, len_b) ^ crc_b


def crc32_zero_extend(crc: int, count: int) -> int:
    """CRC32 of `data + b"\\0" * count` given crc32(data)."""
    return shift_zeros(crc ^ 0xFFFFFFFF, count) ^ 0xFFFFFFFF


def crc32_repeat(unit: bytes, size: int) -> int:
    """CRC32 of `unit` repeated and cut to exactly `size` bytes."""
    if size <= 0:
        return 0
    if not unit:
        raise ValueError("unit must not be empty")
    copies, rest = divmod(size, len(unit))
    acc, base, base_len = 0, zlib.crc32(unit), len(unit)
    while copies:
        if copies & 1:
            acc = crc32_combine(acc, base, base_len)
        copies >>= 1
        if copies:
            base = crc32_combine(base, base, base_len)
            base_len *= 2
    if rest:
        acc = crc32_combine(acc, zlib.crc32(unit[:rest]), rest)
    return acc


def format_crc32(value: int) -> str:
    return f"{value & 0xFFFFFFFF:08x}"


OSHASH_BLOCK = 65536


def word_sum(block: bytes) -> int:
    """Sum of the little-endian 64-bit words of `block` (zero-padded to a multiple of 8)."""
    if len(block) % 8:
        block = block + bytes(8 - len(block) % 8)
    return sum(struct.unpack(f"<{len(block) // 8}Q", block))


def format_oshash(size: int, head_sum: int, tail_sum: int) -> str:
    return f"{(size + head_sum + tail_sum) & 0xFFFFFFFFFFFFFFFF:016x}"


def opensubtitles_hash(size: int, head: bytes, tail: bytes) -> str:
    """The OpenSubtitles hash: size plus the little-endian 64-bit word sums of the first and the
    last 64 KiB, modulo 2**64, as 16 hex digits. For files under 64 KiB the blocks are the whole
    file (zero-padded to a multiple of 8), which the reference implementation leaves undefined."""
    return format_oshash(size, word_sum(head), word_sum(tail))


def crc32_of_chunks(chunks: Iterable[bytes]) -> int:
    crc = 0
    for chunk in chunks:
        crc = zlib.crc32(chunk, crc)
    return crc
