"""The DIN on a blood bag's tag: our layout encodes and decodes exactly, and anything else in a
tag's memory is a typed error, never a crash (invariant 8)."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from agent.hal.tag_data import (
    TAG_BLOCK_BYTES,
    TagData,
    TagDataError,
    decode_tag_data,
    encode_tag_data,
)


def test_the_din_and_flags_are_ascii_from_block_zero_padded_to_whole_blocks() -> None:
    memory = encode_tag_data("A999917123456", "00")
    assert memory == b"A99991712345600\x00"
    assert len(memory) % TAG_BLOCK_BYTES == 0
    assert decode_tag_data(memory + bytes(8)) == TagData("A999917123456", "00")


@pytest.mark.parametrize(
    ("memory", "message"),
    [
        (b"", "holds no DIN"),
        (bytes(16), "holds no DIN"),
        (b"\xff\xfe\x00\x00", "not ASCII"),
        (b"O99991712345600\x00", "holds no DIN"),
        (b"A9999171234560\x00\x00", "holds no DIN"),
    ],
)
def test_memory_without_a_din_is_a_typed_error(memory: bytes, message: str) -> None:
    with pytest.raises(TagDataError, match=message):
        decode_tag_data(memory)


def test_encoding_refuses_what_is_not_a_din() -> None:
    with pytest.raises(TagDataError):
        encode_tag_data("A99991712345", "00")


@given(
    st.from_regex(r"[A-NP-Z1-9][0-9]{12}", fullmatch=True),
    st.from_regex(r"[0-9A-Z]{2}", fullmatch=True),
)
def test_every_din_round_trips(din: str, flags: str) -> None:
    assert decode_tag_data(encode_tag_data(din, flags)) == TagData(din, flags)


@given(st.binary(max_size=64))
def test_no_memory_crashes_the_decoder(memory: bytes) -> None:
    with contextlib.suppress(TagDataError):
        decode_tag_data(memory)
