"""The dispensing cabinet as one immutable aggregate: inventory, orders, electronic-issue
eligibility, unlocked slots, badge list and policy.

Two kinds of method, and no other way to change anything:

* **decisions** (``stock_in``, ``dispense_plan``, ``removal_observed`` ...) look at the state
  and return an outcome event from :mod:`agent.domain.outcomes` or a
  :class:`~agent.domain.refusals.Refusal`; they change nothing;
* :meth:`Cabinet.apply` folds one outcome event in and returns the new cabinet, or raises a
  :class:`~agent.domain.errors.DomainError` (an illegal unit transition, a decision that no
  longer fits) and produces nothing - every step is all or nothing.

Invariants checked whenever a cabinet value is made (so no value breaks them): a unit is
``unlocked`` exactly when its slot has a dispense or emergency grant for it; a disposal grant
is for a quarantined or expired unit in that slot; every allocation and eligibility names a
known order of the same patient; no order's units issued plus units unlocked on it exceed its
limit. The inventory keeps its own (one unit per slot, unique DINs and tags).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from agent.domain import dispensing, expiry, ordering, returns, stocking
from agent.domain.allocations import ElectronicIssue, Order
from agent.domain.blood import BloodGroup
from agent.domain.errors import InventoryConflict, StaleDecision
from agent.domain.frozen_maps import frozen, thawed
from agent.domain.inventory import Inventory
from agent.domain.outcomes import (
    AllocationCancelled,
    CabinetEvent,
    ElectronicIssueAllowed,
    ExpirySweep,
    Incident,
    OrderCancelled,
    OrderPlaced,
    SlotGrant,
    SlotsRelocked,
    StockedIn,
    UnitAllocated,
    UnitDispensed,
    UnitDisposed,
    UnitQuarantined,
    UnitReturned,
    UnlockPlan,
    UnlockPurpose,
)
from agent.domain.policy import DispensePolicy
from agent.domain.refusals import Refusal
from agent.domain.returns import TemperatureSummary
from agent.domain.transitions import (
    AcceptReturn,
    Action,
    Allocate,
    Deallocate,
    Expire,
    IllegalTransition,
    Quarantine,
    RejectReturn,
    Relock,
    RemoveForDisposal,
    Return,
    StockIn,
    Take,
    TakeUnauthorised,
    UnitAction,
    Unlock,
    allowed,
)
from agent.domain.transitions import apply as transition
from agent.domain.units import Unit, UnitIdentity, UnitState
from agent.domain.users import Admitted, BadgeList, User

__all__ = ["Cabinet"]


@dataclass(frozen=True, slots=True)
class Cabinet:
    """The state of one dispensing cabinet. Build an empty one with :meth:`new`."""

    inventory: Inventory
    policy: DispensePolicy = field(default_factory=DispensePolicy)
    badges: BadgeList = field(default_factory=BadgeList)
    orders: Mapping[str, Order] = field(default_factory=dict)
    issues: Mapping[str, ElectronicIssue] = field(default_factory=dict)
    """Electronic-issue eligibility by order id."""
    grants: Mapping[int, SlotGrant] = field(default_factory=dict)
    """Unlocked slots by slot number."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "orders", frozen(self.orders))
        object.__setattr__(self, "issues", frozen(self.issues))
        object.__setattr__(self, "grants", frozen(self.grants))
        for problem in self._problems():
            raise InventoryConflict(problem)

    def _problems(self) -> Iterable[str]:
        yield from self._grant_problems()
        for unit in self.inventory.in_states(UnitState.ALLOCATED, UnitState.UNLOCKED):
            if unit.allocation is not None:
                allocation = unit.allocation
                yield from self._order_problems(allocation.order_id, allocation.patient_id)
        for order_id, issue in self.issues.items():
            if order_id != issue.order_id:
                yield f"eligibility of order {issue.order_id} filed under order {order_id}"
            yield from self._order_problems(issue.order_id, issue.patient_id)
        # Only orders with slots unlocked on them can be pushed past their limit here: an
        # order's limit and issued count are checked where they change (place, issue_one), so
        # this check costs the open slots, not every order the cabinet ever had.
        for pending_on, count in self.pending_by_order().items():
            order = self.orders.get(pending_on) if pending_on is not None else None
            if order is not None and order.units_issued + count > order.unit_limit:
                yield f"order {pending_on} would exceed its limit of {order.unit_limit} units"

    def _grant_problems(self) -> Iterable[str]:
        for slot, grant in self.grants.items():
            unit = self.inventory.in_slot(slot)
            if grant.slot != slot or unit is None or unit.din != grant.din:
                yield f"grant for unit {grant.din} filed under slot {slot}, which does not hold it"
            elif grant.purpose is UnlockPurpose.DISPOSAL:
                if unit.state not in {UnitState.QUARANTINED, UnitState.EXPIRED}:
                    yield f"disposal grant for unit {unit.din}, which is {unit.state}"
            elif unit.state is not UnitState.UNLOCKED:
                yield f"{grant.purpose} grant for unit {unit.din}, which is {unit.state}"
        for unit in self.inventory.in_states(UnitState.UNLOCKED):
            if unit.slot not in self.grants:
                yield f"unit {unit.din} is unlocked without a grant"

    def _order_problems(self, order_id: str, patient_id: str) -> Iterable[str]:
        order = self.orders.get(order_id)
        if order is None:
            yield f"order {order_id} is referred to but not known"
        elif order.patient_id != patient_id:
            yield f"order {order_id} is for {order.patient_id}, referred to for {patient_id}"

    @classmethod
    def new(
        cls,
        slot_count: int,
        policy: DispensePolicy | None = None,
        badges: BadgeList | None = None,
    ) -> Cabinet:
        """An empty cabinet of slots ``1 .. slot_count``."""
        return cls(
            Inventory.empty(slot_count),
            policy if policy is not None else DispensePolicy(),
            badges if badges is not None else BadgeList(),
        )

    # --- queries ---------------------------------------------------------------------------

    def pending_on(self, order_id: str) -> int:
        """Slots unlocked for a dispense on ``order_id`` and not yet taken or relocked."""
        return sum(1 for grant in self.grants.values() if grant.order_id == order_id)

    def pending_by_order(self) -> Counter[str | None]:
        """:meth:`pending_on` for every order at once (one pass over the grants)."""
        return Counter(grant.order_id for grant in self.grants.values())

    def grant_for(self, din: str) -> SlotGrant | None:
        """The grant under which unit ``din``'s slot is unlocked, if any."""
        unit = self.inventory.get(din)
        if unit is None or unit.slot is None:
            return None
        grant = self.grants.get(unit.slot)
        return grant if grant is not None and grant.din == din else None

    def identify(self, badge_uid: str, now: datetime) -> Admitted | Refusal:
        """Who holds ``badge_uid``, under the policy's badge-list age limit (see
        :meth:`BadgeList.lookup`)."""
        return self.badges.lookup(badge_uid, now, self.policy.badge_list_max_age)

    def with_badges(self, badges: BadgeList) -> Cabinet:
        """The cabinet with a new badge list from the hospital."""
        return replace(self, badges=badges)

    def inventory_snapshot(self, now: datetime) -> dict[str, Any]:
        """A plain, serialisable summary for the hospital: per occupied slot the DIN, state,
        expiry, blood group and product; the free slots; how old the badge list is."""
        snapshot = self.inventory.snapshot(now)
        issued = self.badges.issued_at
        snapshot["badge_list_issued_at"] = issued.isoformat() if issued is not None else None
        snapshot["badge_list_stale"] = self.badges.stale(now, self.policy.badge_list_max_age)
        return snapshot

    # --- decisions: each returns an outcome event or a refusal, and changes nothing ---------

    def stock_in(
        self, identity: UnitIdentity, *, tag_din: str, user: User, now: datetime
    ) -> StockedIn | Refusal:
        """See :func:`agent.domain.stocking.stock_in`."""
        return stocking.stock_in(self, identity, tag_din=tag_din, user=user, now=now)

    def place_order(
        self, order_id: str, *, patient_id: str, unit_limit: int, now: datetime
    ) -> OrderPlaced | Refusal:
        """See :func:`agent.domain.ordering.place_order`."""
        return ordering.place_order(
            self, order_id, patient_id=patient_id, unit_limit=unit_limit, now=now
        )

    def allocate_unit(
        self, din: str, *, patient_id: str, order_id: str, until: datetime, now: datetime
    ) -> UnitAllocated | Refusal:
        """See :func:`agent.domain.ordering.allocate_unit`."""
        return ordering.allocate_unit(
            self, din, patient_id=patient_id, order_id=order_id, until=until, now=now
        )

    def allow_electronic_issue(
        self,
        patient_id: str,
        *,
        order_id: str,
        groups: frozenset[BloodGroup],
        product_class: str,
        until: datetime,
        now: datetime,
    ) -> ElectronicIssueAllowed | Refusal:
        """See :func:`agent.domain.ordering.allow_electronic_issue`."""
        return ordering.allow_electronic_issue(
            self,
            patient_id,
            order_id=order_id,
            groups=groups,
            product_class=product_class,
            until=until,
            now=now,
        )

    def cancel_order(self, order_id: str, *, now: datetime) -> OrderCancelled | Refusal:
        """See :func:`agent.domain.ordering.cancel_order`."""
        return ordering.cancel_order(self, order_id, now=now)

    def cancel_allocation(self, din: str, *, now: datetime) -> AllocationCancelled | Refusal:
        """See :func:`agent.domain.ordering.cancel_allocation`."""
        return ordering.cancel_allocation(self, din, now=now)

    def quarantine(self, din: str, *, reason: str, now: datetime) -> UnitQuarantined | Refusal:
        """See :func:`agent.domain.ordering.quarantine`."""
        return ordering.quarantine(self, din, reason=reason, now=now)

    def dispense_plan(
        self,
        user: User,
        patient_id: str,
        *,
        now: datetime,
        monotonic: float,
        wanted: int | None = None,
    ) -> UnlockPlan | Refusal:
        """See :func:`agent.domain.dispensing.dispense_plan`."""
        return dispensing.dispense_plan(
            self, user, patient_id, now=now, monotonic=monotonic, wanted=wanted
        )

    def emergency_plan(
        self,
        user: User,
        *,
        reason: str,
        second_user: User | None,
        now: datetime,
        monotonic: float,
        patient_id: str | None = None,
    ) -> UnlockPlan | Refusal:
        """See :func:`agent.domain.dispensing.emergency_plan`."""
        return dispensing.emergency_plan(
            self,
            user,
            reason=reason,
            second_user=second_user,
            now=now,
            monotonic=monotonic,
            patient_id=patient_id,
        )

    def disposal_plan(self, user: User, *, now: datetime, monotonic: float) -> UnlockPlan | Refusal:
        """See :func:`agent.domain.dispensing.disposal_plan`."""
        return dispensing.disposal_plan(self, user, now=now, monotonic=monotonic)

    def removal_observed(
        self, slot: int, tag_uid: str | None, *, now: datetime, signed_in: str | None = None
    ) -> UnitDispensed | UnitDisposed | Incident:
        """See :func:`agent.domain.dispensing.removal_observed`."""
        return dispensing.removal_observed(self, slot, tag_uid, now=now, signed_in=signed_in)

    def relock_due(self, *, now: datetime, monotonic: float) -> SlotsRelocked | None:
        """See :func:`agent.domain.dispensing.relock_due`."""
        return dispensing.relock_due(self, now=now, monotonic=monotonic)

    def relock_all(self, *, now: datetime, reason: str) -> SlotsRelocked | None:
        """See :func:`agent.domain.dispensing.relock_all`."""
        return dispensing.relock_all(self, now=now, reason=reason)

    def return_decision(
        self,
        user: User,
        din: str,
        *,
        left_storage_at: datetime,
        returned_at: datetime,
        temperature: TemperatureSummary | None = None,
    ) -> UnitReturned | Refusal:
        """See :func:`agent.domain.returns.return_decision`."""
        return returns.return_decision(
            self,
            user,
            din,
            left_storage_at=left_storage_at,
            returned_at=returned_at,
            temperature=temperature,
        )

    def expiry_sweep(self, now: datetime, *, warn_ahead: timedelta | None = None) -> ExpirySweep:
        """See :func:`agent.domain.expiry.expiry_sweep`."""
        return expiry.expiry_sweep(self, now, warn_ahead=warn_ahead)

    # --- the one way state changes -----------------------------------------------------------

    def apply(self, event: CabinetEvent) -> Cabinet:  # noqa: PLR0912 - one case per event type
        """The cabinet after ``event``; raises :class:`~agent.domain.errors.DomainError` (and
        changes nothing) if the event does not fit this state."""
        draft = _Draft(self)
        match event:
            case StockedIn(identity=identity, slot=slot):
                draft.stock_in(identity, slot)
            case OrderPlaced(order=order):
                draft.place(order)
            case UnitAllocated(allocation=allocation):
                draft.move(allocation.din, Allocate(allocation))
            case ElectronicIssueAllowed(issue=issue):
                draft.issues[issue.order_id] = issue
            case OrderCancelled(order_id=order_id):
                draft.cancel_order(order_id)
            case AllocationCancelled(din=din):
                draft.revoke(din)
                draft.move(din, Deallocate())
            case UnlockPlan():
                draft.unlock(event)
            case UnitDispensed(din=din, slot=slot):
                grant = draft.close(slot, din, {UnlockPurpose.DISPENSE, UnlockPurpose.EMERGENCY})
                draft.move(din, Take())
                if grant.order_id is not None:
                    draft.issue_one(grant.order_id)
            case UnitDisposed(din=din, slot=slot):
                draft.close(slot, din, {UnlockPurpose.DISPOSAL})
                draft.move(din, RemoveForDisposal())
            case Incident(din=din):
                if din is not None:
                    draft.revoke(din)
                    draft.move(din, TakeUnauthorised())
            case SlotsRelocked(grants=grants):
                for grant in grants:
                    draft.relock(grant)
            case UnitReturned():
                draft.returned(event)
            case UnitQuarantined(din=din):
                draft.revoke(din)
                draft.move(din, Quarantine())
            case ExpirySweep():
                draft.sweep(event)
        return draft.build()


class _Draft:
    """The working copy of one :meth:`Cabinet.apply`: discarded if any step raises."""

    def __init__(self, cabinet: Cabinet) -> None:
        self.cabinet = cabinet
        self.units: dict[str, Unit] = {}
        self.grants = thawed(cabinet.grants)
        self.orders = thawed(cabinet.orders)
        self.issues = thawed(cabinet.issues)

    def unit(self, din: str) -> Unit:
        unit = self.units.get(din) or self.cabinet.inventory.get(din)
        if unit is None:
            raise StaleDecision(f"unit {din} is not known to this cabinet")
        return unit

    def stock_in(self, identity: UnitIdentity, slot: int) -> None:
        known = self.cabinet.inventory.get(identity.din)
        if known is not None:
            raise IllegalTransition(identity.din, known.state, Action.STOCK_IN)
        self.units[identity.din] = transition(None, StockIn(identity, slot))

    def place(self, order: Order) -> None:
        known = self.orders.get(order.order_id)
        if known is not None and known.patient_id != order.patient_id:
            raise StaleDecision(f"order {order.order_id} is for {known.patient_id}")
        issued = known.units_issued if known is not None else 0
        pending = sum(1 for grant in self.grants.values() if grant.order_id == order.order_id)
        if issued + pending > order.unit_limit:
            raise StaleDecision(
                f"order {order.order_id} has {issued + pending} units issued or unlocked, "
                f"above a limit of {order.unit_limit}"
            )
        self.orders[order.order_id] = replace(order, units_issued=issued)

    def move(self, din: str, action: UnitAction) -> None:
        self.units[din] = transition(self.unit(din), action)

    def close(self, slot: int, din: str, purposes: set[UnlockPurpose]) -> SlotGrant:
        grant = self.grants.get(slot)
        if grant is None or grant.din != din or grant.purpose not in purposes:
            raise StaleDecision(f"slot {slot} is not unlocked for unit {din} that way")
        del self.grants[slot]
        return grant

    def relock(self, grant: SlotGrant) -> None:
        if self.grants.get(grant.slot) != grant:
            raise StaleDecision(f"slot {grant.slot} is not unlocked under that grant")
        del self.grants[grant.slot]
        if grant.purpose is not UnlockPurpose.DISPOSAL:
            self.move(grant.din, Relock())

    def revoke(self, din: str) -> None:
        """Lock the unit's slot again if it is unlocked (for whatever purpose)."""
        for slot, grant in list(self.grants.items()):
            if grant.din == din:
                self.relock(self.grants[slot])

    def unlock(self, plan: UnlockPlan) -> None:
        for grant in plan.grants:
            if grant.slot in self.grants:
                raise StaleDecision(f"slot {grant.slot} is already unlocked")
            unit = self.unit(grant.din)
            if unit.slot != grant.slot:
                raise StaleDecision(f"unit {grant.din} is not in slot {grant.slot}")
            if grant.purpose is UnlockPurpose.DISPOSAL:
                if not allowed(unit.state, Action.REMOVE_FOR_DISPOSAL):
                    raise IllegalTransition(unit.din, unit.state, Action.REMOVE_FOR_DISPOSAL)
            else:
                self.check_entitled(unit, grant, plan.at)
                self.move(grant.din, Unlock())
            self.grants[grant.slot] = grant

    def check_entitled(self, unit: Unit, grant: SlotGrant, now: datetime) -> None:
        """Raise unless ``unit`` may be unlocked under ``grant`` at ``now``: unexpired, and
        allocated to the grant's patient on its order, or in stock and covered by that order's
        electronic issue, or in stock of an emergency group for an emergency release."""
        policy = self.cabinet.policy
        allocation = unit.allocation
        issue = self.issues.get(grant.order_id) if grant.order_id is not None else None
        if unit.identity.expired(now):
            entitled = False
        elif grant.purpose is UnlockPurpose.EMERGENCY:
            entitled = (
                unit.state is UnitState.IN_STOCK
                and unit.blood_group in policy.emergency_groups
                and unit.product_class == policy.emergency_product_class
            )
        elif allocation is not None:
            entitled = (
                allocation.current(now)
                and allocation.patient_id == grant.patient_id
                and allocation.order_id == grant.order_id
            )
        else:
            entitled = (
                issue is not None
                and issue.current(now)
                and issue.patient_id == grant.patient_id
                and issue.admits(unit.blood_group, unit.product_class)
            )
        if not entitled:
            raise StaleDecision(
                f"unit {unit.din} may not be unlocked for {grant.purpose} of patient "
                f"{grant.patient_id} on order {grant.order_id}"
            )

    def returned(self, event: UnitReturned) -> None:
        self.move(event.din, Return())
        if not event.accepted:
            self.move(event.din, RejectReturn(event.slot))
        elif event.slot is None:
            raise StaleDecision(f"accepted return of unit {event.din} names no slot")
        else:
            self.move(event.din, AcceptReturn(event.slot))

    def issue_one(self, order_id: str) -> None:
        order = self.orders.get(order_id)
        if order is None or order.remaining < 1:
            raise StaleDecision(f"order {order_id} cannot issue another unit")
        self.orders[order_id] = order.issued_one()

    def cancel_order(self, order_id: str) -> None:
        if order_id not in self.orders:
            raise StaleDecision(f"order {order_id} is not known")
        for slot, grant in list(self.grants.items()):
            if grant.order_id == order_id:
                self.relock(self.grants[slot])
        for unit in self.cabinet.inventory.in_states(UnitState.ALLOCATED, UnitState.UNLOCKED):
            if unit.allocation is not None and unit.allocation.order_id == order_id:
                self.move(unit.din, Deallocate())
        self.issues.pop(order_id, None)
        del self.orders[order_id]

    def sweep(self, sweep: ExpirySweep) -> None:
        for din in sweep.expired:
            unit = self.unit(din)
            if unit.state is UnitState.UNLOCKED and unit.slot is not None:
                self.close(unit.slot, din, {UnlockPurpose.DISPENSE, UnlockPurpose.EMERGENCY})
            self.move(din, Expire())
        for din in sweep.lapsed_allocations:
            self.move(din, Deallocate())
        for order_id in sweep.lapsed_issues:
            self.issues.pop(order_id, None)

    def build(self) -> Cabinet:
        return replace(
            self.cabinet,
            inventory=self.cabinet.inventory.put(self.units.values()),
            orders=self.orders,
            issues=self.issues,
            grants=self.grants,
        )
