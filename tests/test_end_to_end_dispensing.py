"""The hospital's dispensing decisions over a real Mosquitto: the receiver's command line sends
them, the agent's cabinet desk carries them out or refuses them with a reason, and every step
reaches the hospital's database as records."""

from __future__ import annotations

import json
import re
from pathlib import Path

from agent.dispensing_events import BadgeListUpdated, InventorySnapshot
from agent.payload_codec import decode_payload
from tests.support.broker import MosquittoBroker
from tests.support.processes import receiver_records, wait_for
from tests.test_end_to_end_faults import (  # the rig and its fixtures
    DEVICE,
    SITE,
    Rig,
    _answered,
    _wait_log,
    processes,  # noqa: F401 - a fixture
    rig,  # noqa: F401 - a fixture
)


def test_decisions_are_carried_out_or_refused_and_recorded(
    rig: Rig,  # noqa: F811 - the fixture imported above
    mosquitto: MosquittoBroker,
    tmp_path: Path,
) -> None:
    receiver = rig.receiver(mosquitto.url)
    agent = rig.agent(mosquitto.url)
    _wait_log(agent, r"sync link to \S+ up", "the agent's link")
    staff = tmp_path / "staff.json"
    # A large site's list: 2,000 badges make a record far above a batch's usual 64 KiB, which
    # must still reach the hospital (alone in its batch) and never block the records after it.
    staff.write_text(
        json.dumps(
            [{"uid": "04a1b2", "user": "nurse-1", "name": "N", "roles": ["clinician"]}]
            + [
                {
                    "uid": f"{n:08X}",
                    "user": f"staff-{n:05d}",
                    "name": "Firstname Middlename Lastname-Long",
                    "roles": ["clinician", "emergency"],
                }
                for n in range(1, 2000)
            ]
        )
    )

    def send(*args: str) -> str:
        done = rig.processes.receiver_command(mosquitto.url, SITE, DEVICE, *args)
        assert done.returncode in (0, 1), done.stderr
        return done.stdout

    assert re.fullmatch(rf"{DEVICE} badge_list-\w+ done\n", send("badges", "--file", str(staff)))
    refused = send("allocate", "--din", "A999926000001", "--patient", "P-1", "--order", "ORD-1")
    assert re.fullmatch(
        rf"{DEVICE} allocate-\w+ refused rejected: Unit A999926000001 is not in this cabinet\.\n",
        refused,
    ), refused
    assert re.fullmatch(rf"{DEVICE} inventory-\w+ done\n", send("inventory"))
    bad = rig.processes.receiver_command(
        mosquitto.url,
        SITE,
        DEVICE,
        "allocate",
        "--din",
        "not-a-din",
        "--patient",
        "P",
        "--order",
        "O",
    )
    assert bad.returncode == 2
    assert "din" in bad.stderr

    def arrived() -> bool:
        records = receiver_records(rig.db, DEVICE).values()
        payloads = [
            decode_payload(r.type, r.payload)
            for r in records
            if r.type in ("badge_list_updated", "inventory_snapshot")
        ]
        answered = _answered(rig.db)
        return (
            any(
                isinstance(p, BadgeListUpdated) and len(p.uids) == 2000 and p.uids[0] == "04A1B2"
                for p in payloads
            )
            and any(isinstance(p, InventorySnapshot) and p.reason == "requested" for p in payloads)
            and any(
                ("command_answered", "refused", "rejected") in entries
                for key, entries in answered.items()
                if key.startswith("allocate-")
            )
        )

    wait_for(arrived, "the decisions' records in the hospital's database", watch=[agent])
    rig.finish(agent, receiver)
