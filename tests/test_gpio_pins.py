"""The pin registry: a pin has one owner; a failed claim claims nothing."""

from __future__ import annotations

import pytest

from agent.hal.errors import PartInUse
from drivers.pins import PinClaim, PinRegistry


def test_claims_release_and_owners() -> None:
    pins = PinRegistry()
    pins.claim("slot-1", {"coil": 5, "feedback": 6})
    assert pins.owner(5) == PinClaim("slot-1", "coil")
    assert pins.owner(7) is None
    pins.release("slot-1")
    assert pins.owner(5) is None
    pins.claim("slot-2", {"coil": 5})


def test_a_second_claim_names_both_parts_and_claims_nothing() -> None:
    pins = PinRegistry()
    pins.claim("door", {"contact": 17})
    with pytest.raises(PartInUse) as raised:
        pins.claim("ups", {"spare": 4, "mains-present": 17})
    assert raised.value.part == "ups"
    assert raised.value.detail == "GPIO17 (mains-present) is already the contact of door"
    assert pins.owner(4) is None


def test_one_pin_in_two_roles_is_part_in_use() -> None:
    with pytest.raises(PartInUse, match="GPIO9 is both its red and its amber"):
        PinRegistry().claim("indicator", {"red": 9, "amber": 9})


@pytest.mark.parametrize("pin", [-1, 54, 100])
def test_a_number_that_is_not_a_bcm_pin_is_a_value_error(pin: int) -> None:
    with pytest.raises(ValueError, match="not a BCM GPIO number"):
        PinRegistry().claim("lock", {"coil": pin})
