"""A Hypothesis state machine driving a cabinet through random stock-ins, orders, allocations,
electronic issue, cancellations, dispenses, emergency releases, takes (authorised or not),
relocks, returns, quarantines, disposals and expiry sweeps, with the clocks moving.

Invariants checked after every step, against a model kept by the test itself:

* each unit is in exactly one state, at most one slot, and each slot holds at most one unit;
* a unit that left its slot without a dispense or disposal decision is always an incident;
* nothing is unlocked for a patient who has no current allocation or eligibility, except by an
  emergency release;
* an expired unit is never in a dispense or emergency plan, and never dispensed;
* no order ever issues more than its limit.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)

from agent.domain import (
    BloodGroup,
    Cabinet,
    CabinetEvent,
    DispensePolicy,
    DomainError,
    Incident,
    Refusal,
    Role,
    TemperatureSummary,
    UnitDispensed,
    UnitDisposed,
    UnitIdentity,
    UnitState,
    UnlockPlan,
    UnlockPurpose,
    User,
)
from agent.domain.units import IN_SLOT_STATES, OUT_OF_SLOT_STATES

T0 = datetime(2025, 3, 1, 8, 0, tzinfo=UTC)
TECH = User("t1", "Tess Tech", frozenset({Role.TECHNICIAN}))
NURSE = User("n1", "Nia Nurse", frozenset({Role.CLINICIAN}))
ER = User("e1", "Eli Emergency", frozenset({Role.EMERGENCY}))
WITNESS = User("s1", "Sam Supervisor", frozenset({Role.SUPERVISOR}))
PATIENTS = ("P1", "P2", "P3")
ORDERS = ("O1", "O2", "O3", "O4")
GROUPS = (BloodGroup.O_NEG, BloodGroup.O_POS, BloodGroup.A_POS)
UNIT_NUMBERS = st.integers(0, 24)


def din(n: int) -> str:
    return f"A999925{n:06d}"


class CabinetMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.cabinet = Cabinet.new(8, DispensePolicy(emergency_second_person=True))
        self.now = T0
        self.monotonic = 0.0
        self.dispensed_on: Counter[str] = Counter()
        self.left_by: dict[str, str] = {}
        self.dispensed_at: dict[str, datetime] = {}
        self.emergency_dins: set[str] = set()
        self.last: CabinetEvent | None = None

    def apply(self, event: CabinetEvent) -> None:
        self.cabinet = self.cabinet.apply(event)
        self.last = event

    @initialize(groups=st.lists(st.sampled_from(GROUPS), min_size=2, max_size=6))
    def opening_stock(self, groups: list[BloodGroup]) -> None:
        for n, group in enumerate(groups):
            self.stock_in(n, n, 24 + n, group, label_matches=True)
        for order, patient in zip(ORDERS[:2], PATIENTS[:2], strict=True):
            self.place_order(order, patient, 2)

    # --- time ---------------------------------------------------------------------------------

    @rule(seconds=st.sampled_from([1, 20, 31, 31, 600, 600, 3600, 6 * 3600, 30 * 3600]))
    def time_passes(self, seconds: int) -> None:
        self.now += timedelta(seconds=seconds)
        self.monotonic += seconds

    @rule()
    def sweep(self) -> None:
        sweep = self.cabinet.expiry_sweep(self.now)
        for name in sweep.expired:
            assert self.cabinet.inventory.units[name].expiry <= self.now
        self.apply(sweep)

    @rule()
    def relock(self) -> None:
        due = self.cabinet.relock_due(now=self.now, monotonic=self.monotonic)
        if due is not None:
            assert all(grant.relock_at <= self.monotonic for grant in due.grants)
            self.apply(due)

    # --- stock ---------------------------------------------------------------------------------

    @rule(
        n=UNIT_NUMBERS,
        tag=UNIT_NUMBERS,
        hours=st.integers(-2, 96),
        group=st.sampled_from(GROUPS),
        label_matches=st.booleans(),
    )
    def stock_in(
        self, n: int, tag: int, hours: int, group: BloodGroup, label_matches: bool
    ) -> None:
        identity = UnitIdentity(
            din(n), group, "E0332V00", "red_cells", self.now + timedelta(hours=hours), f"TAG{tag}"
        )
        tag_din = din(n) if label_matches else din(n + 1)
        result = self.cabinet.stock_in(identity, tag_din=tag_din, user=TECH, now=self.now)
        if isinstance(result, Refusal):
            return
        assert label_matches
        assert hours > 0
        assert self.cabinet.inventory.get(din(n)) is None
        assert self.cabinet.inventory.in_slot(result.slot) is None
        self.apply(result)

    # --- hospital commands ---------------------------------------------------------------------

    @rule(order=st.sampled_from(ORDERS), patient=st.sampled_from(PATIENTS), limit=st.integers(1, 3))
    def place_order(self, order: str, patient: str, limit: int) -> None:
        result = self.cabinet.place_order(order, patient_id=patient, unit_limit=limit, now=self.now)
        if not isinstance(result, Refusal):
            if order not in self.cabinet.orders:
                self.dispensed_on[order] = 0
            self.apply(result)

    @precondition(lambda self: bool(self.cabinet.orders))
    @rule(data=st.data(), right_patient=st.booleans(), hours=st.integers(1, 48))
    def allocate(self, data: st.DataObject, right_patient: bool, hours: int) -> None:
        stock = self.cabinet.inventory.in_states(UnitState.IN_STOCK, UnitState.ALLOCATED)
        name = data.draw(st.sampled_from([u.din for u in stock] or [din(0)]))
        order = self.cabinet.orders[data.draw(st.sampled_from(sorted(self.cabinet.orders)))]
        patient = order.patient_id if right_patient else data.draw(st.sampled_from(PATIENTS))
        until = self.now + timedelta(hours=hours)
        result = self.cabinet.allocate_unit(
            name, patient_id=patient, order_id=order.order_id, until=until, now=self.now
        )
        if not isinstance(result, Refusal):
            unit = self.cabinet.inventory.units[name]
            assert unit.state in {UnitState.IN_STOCK, UnitState.ALLOCATED}
            assert unit.expiry > self.now
            assert patient == order.patient_id
            self.apply(result)

    @rule(
        order=st.sampled_from(ORDERS),
        patient=st.sampled_from(PATIENTS),
        groups=st.frozensets(st.sampled_from(GROUPS)),
        hours=st.integers(1, 48),
    )
    def electronic_issue(
        self, order: str, patient: str, groups: frozenset[BloodGroup], hours: int
    ) -> None:
        result = self.cabinet.allow_electronic_issue(
            patient,
            order_id=order,
            groups=groups,
            product_class="red_cells",
            until=self.now + timedelta(hours=hours),
            now=self.now,
        )
        if not isinstance(result, Refusal):
            self.apply(result)

    @rule(order=st.sampled_from(ORDERS))
    def cancel_order(self, order: str) -> None:
        result = self.cabinet.cancel_order(order, now=self.now)
        if not isinstance(result, Refusal):
            self.apply(result)
            assert all(grant.order_id != order for grant in self.cabinet.grants.values())
            del self.dispensed_on[order]

    @rule(n=UNIT_NUMBERS)
    def cancel_allocation(self, n: int) -> None:
        result = self.cabinet.cancel_allocation(din(n), now=self.now)
        if not isinstance(result, Refusal):
            self.apply(result)
            assert self.cabinet.inventory.units[din(n)].allocation is None

    @rule(n=UNIT_NUMBERS)
    def quarantine(self, n: int) -> None:
        result = self.cabinet.quarantine(din(n), reason="excursion", now=self.now)
        if not isinstance(result, Refusal):
            self.apply(result)
            assert self.cabinet.inventory.units[din(n)].state is UnitState.QUARANTINED

    # --- unlocking -----------------------------------------------------------------------------

    @rule(patient=st.sampled_from(PATIENTS), wanted=st.none() | st.integers(1, 3))
    def dispense(self, patient: str, wanted: int | None) -> None:
        plan = self.cabinet.dispense_plan(
            NURSE, patient, now=self.now, monotonic=self.monotonic, wanted=wanted
        )
        if isinstance(plan, Refusal):
            return
        self.check_entitled(plan, patient)
        self.apply(plan)

    def check_entitled(self, plan: UnlockPlan, patient: str) -> None:
        """Every unit planned is allocated to the patient, or covered by their eligibility,
        unexpired, and within its order's remaining limit."""
        per_order: Counter[str] = Counter()
        for grant in plan.grants:
            unit = self.cabinet.inventory.units[grant.din]
            assert unit.expiry > self.now
            assert grant.order_id is not None
            order = self.cabinet.orders[grant.order_id]
            assert order.patient_id == patient
            per_order[grant.order_id] += 1
            if unit.allocation is not None:
                assert unit.allocation.patient_id == patient
                assert unit.allocation.until > self.now
            else:
                issue = self.cabinet.issues[grant.order_id]
                assert issue.patient_id == patient
                assert issue.until > self.now
                assert unit.blood_group in issue.groups
        for order_id, count in per_order.items():
            order = self.cabinet.orders[order_id]
            assert (
                order.units_issued + self.cabinet.pending_on(order_id) + count <= order.unit_limit
            )

    @rule(second=st.booleans(), reason=st.sampled_from(["", "massive haemorrhage"]))
    def emergency(self, second: bool, reason: str) -> None:
        plan = self.cabinet.emergency_plan(
            ER,
            reason=reason,
            second_user=WITNESS if second else None,
            now=self.now,
            monotonic=self.monotonic,
        )
        if isinstance(plan, Refusal):
            return
        assert second
        assert reason
        assert plan.emergency
        for grant in plan.grants:
            unit = self.cabinet.inventory.units[grant.din]
            assert unit.expiry > self.now
            assert (unit.state, unit.blood_group) == (UnitState.IN_STOCK, BloodGroup.O_NEG)
            self.emergency_dins.add(grant.din)
        self.apply(plan)

    @rule()
    def disposal(self) -> None:
        plan = self.cabinet.disposal_plan(TECH, now=self.now, monotonic=self.monotonic)
        if not isinstance(plan, Refusal):
            self.apply(plan)

    # --- things leaving and coming back --------------------------------------------------------

    @precondition(
        lambda self: bool(self.cabinet.inventory.free_slots != self.cabinet.inventory.slots)
    )
    @rule(data=st.data(), unlocked=st.booleans(), read_tag=st.booleans(), wrong_tag=st.booleans())
    def take(self, data: st.DataObject, unlocked: bool, read_tag: bool, wrong_tag: bool) -> None:
        occupied = sorted(
            set(self.cabinet.inventory.slots) - set(self.cabinet.inventory.free_slots)
        )
        if unlocked and self.cabinet.grants:
            occupied = sorted(self.cabinet.grants)
        slot = data.draw(st.sampled_from(occupied))
        unit = self.cabinet.inventory.in_slot(slot)
        assert unit is not None
        tag = None
        if read_tag:
            tag = f"TAG{data.draw(UNIT_NUMBERS)}" if wrong_tag else unit.tag_uid
        grant = self.cabinet.grants.get(slot)
        event = self.cabinet.removal_observed(slot, tag, now=self.now, signed_in="n1")
        authorised = (
            grant is not None and grant.din == unit.din and (tag is None or tag == unit.tag_uid)
        )
        if not authorised:
            assert isinstance(event, Incident), event
        if isinstance(event, UnitDispensed):
            assert grant is not None
            assert grant.purpose in {UnlockPurpose.DISPENSE, UnlockPurpose.EMERGENCY}
            assert unit.expiry > self.now
            assert event.emergency == (grant.purpose is UnlockPurpose.EMERGENCY)
            if event.order_id is not None:
                self.dispensed_on[event.order_id] += 1
            self.dispensed_at[event.din] = self.now
        self.apply(event)
        if isinstance(event, UnitDispensed | UnitDisposed | Incident) and event.din is not None:
            self.left_by[event.din] = type(event).__name__

    @precondition(lambda self: bool(self.dispensed_at))
    @rule(data=st.data(), minutes=st.integers(0, 90), with_history=st.booleans())
    def return_unit(self, data: st.DataObject, minutes: int, with_history: bool) -> None:
        name = data.draw(st.sampled_from(sorted(self.dispensed_at)))
        left = self.dispensed_at[name]
        back = max(self.now, left) + timedelta(minutes=minutes)
        self.now = back
        history = TemperatureSummary(2.0, 7.0, left, back) if with_history else None
        result = self.cabinet.return_decision(
            NURSE, name, left_storage_at=left, returned_at=back, temperature=history
        )
        if isinstance(result, Refusal):
            return
        if result.accepted:
            assert self.cabinet.inventory.units[name].expiry > back
            assert with_history or back - left <= self.cabinet.policy.return_limit
        del self.dispensed_at[name]
        self.left_by.pop(name)
        self.apply(result)

    @precondition(lambda self: self.last is not None)
    @rule()
    def stale_events_change_nothing(self) -> None:
        assert self.last is not None
        before = self.cabinet
        try:
            self.cabinet.apply(self.last)
        except DomainError:
            assert self.cabinet is before

    # --- invariants ----------------------------------------------------------------------------

    @invariant()
    def one_state_one_slot(self) -> None:
        slots: dict[int, str] = {}
        for name, unit in self.cabinet.inventory.units.items():
            assert isinstance(unit.state, UnitState)
            if unit.state in IN_SLOT_STATES:
                assert unit.slot is not None
            if unit.state in OUT_OF_SLOT_STATES:
                assert unit.slot is None
            if unit.slot is not None:
                assert unit.slot not in slots, (unit.slot, slots[unit.slot], name)
                slots[unit.slot] = name
                assert self.cabinet.inventory.in_slot(unit.slot) == unit

    @invariant()
    def leaving_without_a_decision_is_an_incident(self) -> None:
        for name, unit in self.cabinet.inventory.units.items():
            if unit.state is UnitState.DISPENSED:
                assert self.left_by[name] == "UnitDispensed"
            if unit.state is UnitState.REMOVED:
                assert self.left_by[name] in {"Incident", "UnitDisposed"}

    @invariant()
    def unlocked_only_when_entitled(self) -> None:
        for grant in self.cabinet.grants.values():
            unit = self.cabinet.inventory.units[grant.din]
            if grant.purpose is UnlockPurpose.EMERGENCY:
                assert grant.din in self.emergency_dins
            elif grant.purpose is UnlockPurpose.DISPENSE:
                assert unit.state is UnitState.UNLOCKED
                assert grant.order_id in self.cabinet.orders
                assert self.cabinet.orders[grant.order_id].patient_id == grant.patient_id
            else:
                assert unit.state in {UnitState.QUARANTINED, UnitState.EXPIRED}

    @invariant()
    def order_limits_hold(self) -> None:
        for order_id, order in self.cabinet.orders.items():
            assert order.units_issued == self.dispensed_on[order_id]
            assert order.units_issued + self.cabinet.pending_on(order_id) <= order.unit_limit


TestCabinetMachine = CabinetMachine.TestCase
TestCabinetMachine.settings = settings(max_examples=300, stateful_step_count=60, deadline=None)
