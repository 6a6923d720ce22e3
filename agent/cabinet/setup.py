"""Building a cabinet's desk from its profile: policy, product table, empty state.

A product table that cannot be read does not stop the cabinet: it still dispenses what it
holds, refuses every stock-in (no product can be checked), and says why in the journal when it
starts (fail safe, invariant 8).
"""

from __future__ import annotations

from agent.cabinet.desk import CabinetDesk
from agent.clock import Clock
from agent.config.errors import ProfileError
from agent.config.schema import Profile
from agent.domain import Cabinet
from agent.hal.hardware import Hardware
from agent.hal.parts import Indicator
from agent.isbt128 import ProductTable, load_product_table
from agent.runtime.stream import EventStream

__all__ = ["cabinet_desk"]


def cabinet_desk(
    profile: Profile, *, hardware: Hardware, stream: EventStream, clock: Clock, alarm: Indicator
) -> CabinetDesk | None:
    """The desk of a cabinet profile (None for a fridge or a transport box)."""
    settings = profile.dispensing
    if settings is None:
        return None
    policy = settings.policy(
        stored_product_class=profile.storage.product_class,
        relock_after_s=profile.slot_release_s,
    )
    products: ProductTable | None = None
    problem: str | None = None
    if settings.product_table is not None:
        try:
            products = load_product_table(settings.product_table)
        except ProfileError as error:
            problem = f"the product table cannot be used, so every stock-in is refused: {error}"
    desk = CabinetDesk(
        settings=settings,
        hardware=hardware,
        stream=stream,
        clock=clock,
        cabinet=Cabinet.new(profile.slots, policy),
        products=products,
        alarm=alarm,
        release_s=profile.slot_release_s,
    )
    if problem is not None:
        desk.problem(problem)
    return desk
