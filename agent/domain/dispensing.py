"""Unlocking and removal: dispense, emergency release, disposal, relock, what left a slot.

Invariants kept:

* A slot is unlocked for a patient only for a unit currently allocated to that patient, or an
  in-stock unit matching the patient's current electronic-issue eligibility, never for an
  expired unit, and never beyond the remaining limit of the order it is dispensed on (counting
  slots already unlocked on that order). The only other way a unit is unlocked is an emergency
  release, which is flagged as such.
* Where several units qualify, the first-expiring goes first (FEFO), ties broken by DIN.
* A unit that leaves its slot is dispensed only if the slot was unlocked for it for a dispense
  or emergency release and it has not expired since; otherwise its removal is an
  :class:`~agent.domain.outcomes.Incident`.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from agent.domain.outcomes import (
    Incident,
    IncidentKind,
    SlotGrant,
    SlotsRelocked,
    UnitDispensed,
    UnitDisposed,
    UnlockPlan,
    UnlockPurpose,
)
from agent.domain.refusals import Refusal, RefusalCode
from agent.domain.transitions import Action, allowed
from agent.domain.units import Unit, UnitState
from agent.domain.users import Role, User

if TYPE_CHECKING:
    from agent.domain.cabinet import Cabinet

__all__ = [
    "dispense_plan",
    "disposal_plan",
    "emergency_plan",
    "relock_all",
    "relock_due",
    "removal_observed",
]


_UNAUTHORISED = Action.TAKE_UNAUTHORISED


def _fefo(unit: Unit) -> tuple[datetime, str]:
    return unit.expiry, unit.din


def dispense_plan(
    cabinet: Cabinet,
    user: User,
    patient_id: str,
    *,
    now: datetime,
    monotonic: float,
    wanted: int | None = None,
) -> UnlockPlan | Refusal:
    """The slots to unlock for ``patient_id`` (at most ``wanted`` of them), or a refusal."""
    if not user.has(Role.CLINICIAN):
        return Refusal(RefusalCode.ROLE_REQUIRED, "Your badge does not allow dispensing.")
    if wanted is not None and wanted < 1:
        return Refusal(RefusalCode.INVALID_REQUEST, "Ask for at least one unit.")
    candidates = _candidates(cabinet, patient_id, now)
    if isinstance(candidates, Refusal):
        return candidates
    pending = cabinet.pending_by_order()
    remaining = {
        order_id: cabinet.orders[order_id].remaining - pending[order_id]
        for order_id in {order_id for _, order_id in candidates}
        if order_id in cabinet.orders
    }
    relock_at = monotonic + cabinet.policy.relock_after
    grants: list[SlotGrant] = []
    chosen: set[str] = set()
    for unit, order_id in sorted(candidates, key=lambda pair: (_fefo(pair[0]), pair[1])):
        if wanted is not None and len(grants) >= wanted:
            break
        if unit.din in chosen or remaining.get(order_id, 0) < 1:
            continue
        assert unit.slot is not None
        chosen.add(unit.din)
        remaining[order_id] -= 1
        grants.append(
            SlotGrant(
                unit.slot,
                unit.din,
                UnlockPurpose.DISPENSE,
                user.user_id,
                patient_id,
                order_id,
                relock_at,
            )
        )
    if not grants:
        orders = ", ".join(sorted({order_id for _, order_id in candidates}))
        return Refusal(
            RefusalCode.ORDER_LIMIT_REACHED,
            f"Patient {patient_id}'s order {orders} has reached its unit limit "
            "(counting slots already unlocked).",
        )
    return UnlockPlan(UnlockPurpose.DISPENSE, user.user_id, patient_id, tuple(grants), now)


def _candidates(
    cabinet: Cabinet, patient_id: str, now: datetime
) -> list[tuple[Unit, str]] | Refusal:
    """Every (unit, order) pair that may be dispensed to ``patient_id`` at ``now`` before the
    order limits, or why there is none."""
    inventory = cabinet.inventory
    allocated = [
        unit
        for unit in inventory.in_states(UnitState.ALLOCATED)
        if unit.allocation is not None and unit.allocation.patient_id == patient_id
    ]
    issues = [issue for issue in cabinet.issues.values() if issue.patient_id == patient_id]
    if not allocated and not issues:
        open_slots = sorted(
            grant.slot for grant in cabinet.grants.values() if grant.patient_id == patient_id
        )
        if open_slots:
            listed = ", ".join(str(slot) for slot in open_slots)
            return Refusal(
                RefusalCode.ALREADY_UNLOCKED,
                f"Slot {listed} is already unlocked for patient {patient_id}.",
            )
        return Refusal(
            RefusalCode.NO_ALLOCATION,
            f"No unit is allocated to patient {patient_id} in this cabinet.",
        )
    current = [u for u in allocated if u.allocation is not None and u.allocation.current(now)]
    current_issues = [issue for issue in issues if issue.current(now)]
    if not current and not current_issues:
        return Refusal(
            RefusalCode.NO_ALLOCATION,
            f"The allocation for patient {patient_id} has ended: ask the blood bank to renew it.",
        )
    candidates = [
        (unit, unit.allocation.order_id)
        for unit in current
        if unit.allocation is not None and not unit.identity.expired(now)
    ]
    for unit in inventory.in_states(UnitState.IN_STOCK):
        if not unit.identity.expired(now):
            candidates.extend(
                (unit, issue.order_id)
                for issue in current_issues
                if issue.admits(unit.blood_group, unit.product_class)
            )
    if not candidates:
        return Refusal(
            RefusalCode.NO_DISPENSABLE_UNIT,
            f"No unit for patient {patient_id} can be dispensed now: the units allocated have "
            "expired or none in stock matches. Call the blood bank.",
        )
    return candidates


def emergency_plan(
    cabinet: Cabinet,
    user: User,
    *,
    reason: str,
    second_user: User | None,
    now: datetime,
    monotonic: float,
    patient_id: str | None = None,
) -> UnlockPlan | Refusal:
    """Uncrossmatched emergency units (the policy's groups and product class, not allocated to
    anyone, unexpired), first-expiring first, up to the policy's count; or a refusal."""
    policy = cabinet.policy
    if not user.has(Role.EMERGENCY):
        return Refusal(RefusalCode.ROLE_REQUIRED, "Your badge does not allow emergency release.")
    if not reason.strip():
        return Refusal(
            RefusalCode.REASON_REQUIRED, "Say why the patient needs blood before crossmatch."
        )
    if second_user is not None and second_user.user_id == user.user_id:
        return Refusal(
            RefusalCode.SECOND_PERSON_REQUIRED,
            "The second person must be someone else, with their own badge.",
        )
    if policy.emergency_second_person and second_user is None:
        return Refusal(
            RefusalCode.SECOND_PERSON_REQUIRED,
            "A second person must badge in to confirm an emergency release.",
        )
    units = sorted(
        (
            unit
            for unit in cabinet.inventory.in_states(UnitState.IN_STOCK)
            if unit.blood_group in policy.emergency_groups
            and unit.product_class == policy.emergency_product_class
            and not unit.identity.expired(now)
        ),
        key=_fefo,
    )[: policy.emergency_units]
    if not units:
        groups = " or ".join(sorted(group.words for group in policy.emergency_groups))
        return Refusal(
            RefusalCode.NO_EMERGENCY_UNIT,
            f"No {groups} {policy.emergency_product_class.replace('_', ' ')} are in stock here.",
        )
    relock_at = monotonic + policy.relock_after
    grants = []
    for unit in units:
        assert unit.slot is not None
        grants.append(
            SlotGrant(
                unit.slot,
                unit.din,
                UnlockPurpose.EMERGENCY,
                user.user_id,
                patient_id,
                None,
                relock_at,
            )
        )
    second = second_user.user_id if second_user is not None else None
    return UnlockPlan(
        UnlockPurpose.EMERGENCY, user.user_id, patient_id, tuple(grants), now, reason, second
    )


def disposal_plan(
    cabinet: Cabinet, user: User, *, now: datetime, monotonic: float
) -> UnlockPlan | Refusal:
    """The slots of quarantined and expired units, for a technician to take them out."""
    if not user.has(Role.TECHNICIAN):
        return Refusal(RefusalCode.ROLE_REQUIRED, "Your badge does not allow removing units.")
    relock_at = monotonic + cabinet.policy.relock_after
    grants = tuple(
        SlotGrant(unit.slot, unit.din, UnlockPurpose.DISPOSAL, user.user_id, None, None, relock_at)
        for unit in sorted(
            cabinet.inventory.in_states(UnitState.QUARANTINED, UnitState.EXPIRED), key=_fefo
        )
        if unit.slot is not None and unit.slot not in cabinet.grants
    )
    if not grants:
        return Refusal(
            RefusalCode.NOTHING_TO_REMOVE, "No quarantined or expired unit is waiting here."
        )
    return UnlockPlan(UnlockPurpose.DISPOSAL, user.user_id, None, grants, now)


def removal_observed(
    cabinet: Cabinet,
    slot: int,
    tag_uid: str | None,
    *,
    now: datetime,
    signed_in: str | None = None,
) -> UnitDispensed | UnitDisposed | Incident:
    """Something left ``slot`` (the presence sensor says so; ``tag_uid`` is the tag the RFID
    reader saw leave, None if it could not tell); ``signed_in`` is who is at the cabinet."""
    unit = cabinet.inventory.in_slot(slot)
    grant = cabinet.grants.get(slot)
    if tag_uid is not None and (unit is None or unit.tag_uid != tag_uid):
        other = cabinet.inventory.by_tag(tag_uid)
        taken = other if other is not None and allowed(other.state, _UNAUTHORISED) else None
        recorded = f"unit {unit.din}" if unit is not None else "nothing"
        named = f"unit {other.din}" if other is not None else "an unknown tag"
        return Incident(
            IncidentKind.TAG_MISMATCH,
            slot,
            taken.din if taken is not None else None,
            tag_uid,
            signed_in,
            f"Wrong unit: {named} left slot {slot}, which the records say held {recorded}.",
            now,
        )
    if unit is None:
        return Incident(
            IncidentKind.UNKNOWN_ITEM,
            slot,
            None,
            tag_uid,
            signed_in,
            f"Something left slot {slot}, which the records say was empty.",
            now,
        )
    if grant is not None and grant.din == unit.din:
        if grant.purpose is UnlockPurpose.DISPOSAL:
            return UnitDisposed(unit.din, slot, grant.user_id, now)
        if unit.identity.expired(now):
            return Incident(
                IncidentKind.EXPIRED_UNIT,
                slot,
                unit.din,
                tag_uid,
                signed_in,
                f"Unit {unit.din} expired at {unit.expiry:%Y-%m-%d %H:%M} before it was taken: "
                "do not transfuse it, bring it back to the blood bank.",
                now,
            )
        return UnitDispensed(
            unit.din,
            slot,
            tag_uid,
            grant.user_id,
            grant.patient_id,
            grant.order_id,
            grant.purpose is UnlockPurpose.EMERGENCY,
            now,
        )
    return Incident(
        IncidentKind.FORCED_SLOT,
        slot,
        unit.din if allowed(unit.state, _UNAUTHORISED) else None,
        tag_uid,
        signed_in,
        f"Wrong unit: unit {unit.din} left slot {slot}, which was not unlocked for it.",
        now,
    )


def relock_due(cabinet: Cabinet, *, now: datetime, monotonic: float) -> SlotsRelocked | None:
    """The grants whose slot was not opened by their deadline, if any (lock those slots)."""
    due = tuple(g for _, g in sorted(cabinet.grants.items()) if g.relock_at <= monotonic)
    return SlotsRelocked(due, "timeout", now) if due else None


def relock_all(cabinet: Cabinet, *, now: datetime, reason: str) -> SlotsRelocked | None:
    """Every open grant (the person signed out, the agent restarted), if any."""
    grants = tuple(grant for _, grant in sorted(cabinet.grants.items()))
    return SlotsRelocked(grants, reason, now) if grants else None
