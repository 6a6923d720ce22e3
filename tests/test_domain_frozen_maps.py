"""The domain's read-only mappings: a frozen mapping never changes, a thawed copy is the
caller's own."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import MappingProxyType

import pytest

from agent.domain.frozen_maps import frozen, thawed


def test_a_frozen_mapping_is_read_only_and_does_not_follow_its_source() -> None:
    source = {"a": 1}
    view = frozen(source)
    source["b"] = 2
    assert dict(view) == {"a": 1}
    with pytest.raises(TypeError):
        view["c"] = 3  # type: ignore[index]


@pytest.mark.parametrize("wrap", [dict, MappingProxyType, frozen], ids=["dict", "proxy", "frozen"])
def test_a_thawed_copy_is_a_new_dict_that_changes_alone(
    wrap: Callable[[dict[str, int]], Mapping[str, int]],
) -> None:
    source = wrap({"a": 1, "b": 2})
    copy = thawed(source)
    copy["a"] = 10
    del copy["b"]
    assert type(copy) is dict
    assert dict(source) == {"a": 1, "b": 2}
    assert copy == {"a": 10}
