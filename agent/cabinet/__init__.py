"""The dispensing cabinet at work: the domain's decisions (:mod:`agent.domain`) driven through
the hardware, journaled before they act.

* :mod:`~agent.cabinet.desk` - the service: badges, scans, choices on the screen, slots
  emptied, timers; it composes the parts below;
* :mod:`~agent.cabinet.ledger` - the state and the journal kept in step (commit, then apply);
* :mod:`~agent.cabinet.intake` - stock-in and returns, from the scans to the unit in its slot;
* :mod:`~agent.cabinet.hospital_desk` - the hospital's decisions (allocations, badge list);
* :mod:`~agent.cabinet.labels` - an ISBT 128 label and the product table to a unit identity;
* :mod:`~agent.cabinet.records` - the domain's outcomes to journal records and back, so the
  journal alone rebuilds the cabinet after a restart (:mod:`~agent.cabinet.replay`);
* :mod:`~agent.cabinet.terminal`, :mod:`~agent.cabinet.screen` - who is at the cabinet and
  what they are told; :mod:`~agent.cabinet.slot_actions` - the cabinet's hands;
* :mod:`~agent.cabinet.setup` - a desk from a profile.
"""
