"""The sync link's small parts: backoff, broker address and credentials, the nonce store."""

from __future__ import annotations

import asyncio
import random
from pathlib import Path

import aiomqtt
import pytest

from agent.config.schema import SyncConfig
from agent.sync.backoff import Backoff
from agent.sync.broker_config import BrokerAddress, client_options
from agent.sync.nonces import NonceStore

S = 1_000_000_000


def test_backoff_is_full_jitter_doubling_to_the_cap_and_resets() -> None:
    backoff = Backoff(base=0.5, cap=60.0, rng=random.Random(1))
    ceilings = []
    for _ in range(12):
        ceiling = backoff.ceiling()
        ceilings.append(ceiling)
        assert 0.0 <= backoff.next_delay() <= ceiling
    assert ceilings[:4] == [0.5, 1.0, 2.0, 4.0]
    assert ceilings[-1] == 60.0
    backoff.reset()
    assert backoff.ceiling() == 0.5
    delays = [Backoff(rng=random.Random(seed)).next_delay() for seed in range(50)]
    assert len(set(delays)) == 50  # a fleet does not reconnect in lockstep


def test_broker_address_and_credentials_come_from_the_config(tmp_path: Path) -> None:
    secret = tmp_path / "password"
    secret.write_text("s3cret\n")
    config = SyncConfig(
        broker_url="mqtts://broker.example",
        ca_file=tmp_path / "ca.pem",
        cert_file=tmp_path / "cert.pem",
        key_file=tmp_path / "key.pem",
        password_file=secret,
    )
    address = BrokerAddress.from_config(config)
    assert (address.host, address.port, address.tls) == ("broker.example", 8883, True)
    assert "s3cret" not in repr(address)
    options = client_options(address, "cab-01")
    assert (options["username"], options["password"]) == ("cab-01", "s3cret")
    tls = options["tls_params"]
    assert isinstance(tls, aiomqtt.TLSParameters)
    assert (tls.ca_certs, tls.certfile, tls.keyfile) == tuple(
        str(tmp_path / name) for name in ("ca.pem", "cert.pem", "key.pem")
    )
    plain = client_options(BrokerAddress.from_config(SyncConfig("mqtt://10.0.0.5:1884")), "x")
    assert plain == {"hostname": "10.0.0.5", "port": 1884}
    with pytest.raises(ValueError, match="mqtt"):
        BrokerAddress.from_config(SyncConfig("http://example"))


def test_a_claimed_nonce_stays_claimed_across_reopening_until_long_after_expiry(
    tmp_path: Path,
) -> None:
    async def body() -> list[bool]:
        path = tmp_path / "nonces.db"
        now = 1_800_000_000 * S
        results = [
            await NonceStore(path).claim(b"a" * 16, now + 60 * S, now),
            await NonceStore(path).claim(b"a" * 16, now + 60 * S, now),
            await NonceStore(path).claim(b"b" * 16, now + 60 * S, now),
        ]
        # A day after its expiry the nonce is forgotten (the command is refused as expired).
        later = now + 60 * S + 86_401 * S
        results.append(await NonceStore(path).claim(b"a" * 16, now + 60 * S, later))
        return results

    assert asyncio.run(body()) == [True, False, True, True]
