"""The dispensing cabinet at work: the domain's decisions (:mod:`agent.domain`) driven through
the hardware, journaled before they act.

* :mod:`~agent.cabinet.labels` - an ISBT 128 label and the product table to a unit identity;
* :mod:`~agent.cabinet.records` - the domain's outcomes to journal records and back, so the
  journal alone rebuilds the cabinet after a restart (:mod:`~agent.cabinet.replay`);
* :mod:`~agent.cabinet.screen` - what the person at the cabinet is told;
* :mod:`~agent.cabinet.desk` - the service: badges, scans, choices on the screen, slots
  opening and closing, the hospital's decisions, timers.
"""
