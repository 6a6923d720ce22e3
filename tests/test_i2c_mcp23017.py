"""The MCP23017: the register-level fake against the datasheet (DS20001952D), and the driver
against the fake, with faults."""

from __future__ import annotations

from typing import Any

import pytest

from agent.hal.errors import PartInUse, PartNotResponding, ReadFailed
from drivers.mcp23017 import IOCON_CONFIG, MCP23017, PortConfig, pin_label
from drivers.mcp23017 import Reg as DriverReg
from hal_sim.fakes.mcp23017 import FakeMCP23017, FakeSolenoidLatch, Reg
from hal_sim.fakes.smbus import BusFault, FakeSMBus


def _bus() -> tuple[FakeSMBus, FakeMCP23017]:
    bus = FakeSMBus(1)
    chip = FakeMCP23017()
    bus.attach(0x20, chip)
    return bus, chip


# --- the fake, register by register -------------------------------------------------------------


def test_register_map_matches_the_datasheet_and_the_driver() -> None:
    assert {r.name: r.value for r in DriverReg} == {
        r.name: r.value for r in Reg if r is not Reg.IOCON_ALIAS
    }
    assert (Reg.IODIRA, Reg.IOCON, Reg.GPIOA, Reg.OLATB) == (0x00, 0x0A, 0x12, 0x15)


def test_power_on_reset_values() -> None:
    bus, _chip = _bus()
    assert bus.read_word_data(0x20, Reg.IODIRA) == 0xFFFF, "all pins are inputs after POR"
    for register in (Reg.IPOLA, Reg.GPINTENA, Reg.GPPUA, Reg.OLATA):
        assert bus.read_word_data(0x20, register) == 0
    assert bus.read_byte_data(0x20, Reg.IOCON) == 0


def test_sequential_addressing_and_byte_mode() -> None:
    bus, chip = _bus()
    bus.write_i2c_block_data(0x20, Reg.IODIRA, [0x0F, 0xF0, 0x01])
    assert chip.register(Reg.IODIRA) == 0x0F
    assert chip.register(Reg.IODIRB) == 0xF0
    assert chip.register(Reg.IPOLA) == 0x01, "the pointer moves on after each byte (SEQOP = 0)"
    bus.write_byte_data(0x20, Reg.IOCON, 0x20)
    assert bus.read_i2c_block_data(0x20, Reg.IODIRA, 3) == [0x0F, 0xF0, 0x0F], (
        "with SEQOP = 1 the pointer toggles within the A/B pair"
    )
    assert bus.read_byte_data(0x20, 0x0B) == 0x20, "IOCON is also at 0x0B"


def test_bank_1_is_refused_loudly() -> None:
    bus, _chip = _bus()
    with pytest.raises(ValueError, match="BANK"):
        bus.write_byte_data(0x20, Reg.IOCON, 0x80)


def test_outputs_follow_olat_and_gpio_writes_go_to_olat() -> None:
    bus, chip = _bus()
    bus.write_word_data(0x20, Reg.IODIRA, 0xFF00)
    bus.write_word_data(0x20, Reg.GPIOA, 0x0005)
    assert chip.register(Reg.OLATA) == 0x05
    assert chip.output(0) is True
    assert chip.output(1) is False
    assert chip.output(8) is None, "an input drives nothing"
    assert bus.read_word_data(0x20, Reg.GPIOA) & 0x00FF == 0x05


def test_inputs_read_drive_then_pull_up_then_low_and_ipol_inverts() -> None:
    bus, chip = _bus()
    assert bus.read_word_data(0x20, Reg.GPIOA) == 0, "floating inputs read low in the fake"
    bus.write_word_data(0x20, Reg.GPPUA, 0x0003)
    assert bus.read_word_data(0x20, Reg.GPIOA) == 0x0003
    chip.drive(0, False)
    assert bus.read_word_data(0x20, Reg.GPIOA) == 0x0002
    bus.write_word_data(0x20, Reg.IPOLA, 0x0001)
    assert bus.read_word_data(0x20, Reg.GPIOA) == 0x0003
    chip.float_pin(0)
    bus.write_word_data(0x20, Reg.IPOLA, 0)
    assert bus.read_word_data(0x20, Reg.GPIOA) == 0x0003


def test_interrupt_on_change_latches_intf_and_intcap_until_read() -> None:
    bus, chip = _bus()
    bus.write_word_data(0x20, Reg.GPPUA, 0x0101)
    bus.write_word_data(0x20, Reg.GPINTENA, 0x0101)
    bus.write_byte_data(0x20, Reg.IOCON, 0x00)
    assert not chip.interrupt_asserted("A")
    chip.drive(0, False)
    assert chip.interrupt_asserted("A")
    assert not chip.interrupt_asserted("B")
    assert chip.interrupt_output("A") is False, "INTA is active low by default"
    chip.drive(0, True)
    assert bus.read_byte_data(0x20, Reg.INTFA) == 0x01
    assert bus.read_byte_data(0x20, Reg.INTCAPA) == 0x00, "captured at the first change"
    assert not chip.interrupt_asserted("A"), "reading INTCAP clears the interrupt"
    chip.drive(8, False)
    assert chip.interrupt_asserted("B")
    bus.read_byte_data(0x20, Reg.GPIOB)
    assert not chip.interrupt_asserted("B"), "reading GPIO clears it too"


def test_defval_comparison_reasserts_while_the_pin_differs() -> None:
    bus, chip = _bus()
    bus.write_word_data(0x20, Reg.GPPUA, 0x0001)
    bus.write_word_data(0x20, Reg.DEFVALA, 0x0001)
    bus.write_word_data(0x20, Reg.INTCONA, 0x0001)
    bus.write_word_data(0x20, Reg.GPINTENA, 0x0001)
    chip.drive(0, False)
    bus.read_byte_data(0x20, Reg.GPIOA)
    assert chip.interrupt_asserted("A"), "still differs from DEFVAL: interrupts again"
    chip.drive(0, True)
    bus.read_byte_data(0x20, Reg.GPIOA)
    assert not chip.interrupt_asserted("A")


def test_mirror_and_open_drain_interrupt_outputs() -> None:
    bus, chip = _bus()
    bus.write_word_data(0x20, Reg.GPPUA, 0x0100)
    bus.write_word_data(0x20, Reg.GPINTENA, 0x0100)
    bus.write_byte_data(0x20, Reg.IOCON, 0x40 | 0x04)
    assert chip.interrupt_output("A") is None, "a released open-drain output floats"
    chip.drive(8, False)
    assert chip.interrupt_asserted("A"), "MIRROR: INTA follows port B too"
    assert chip.interrupt_output("A") is False
    bus.write_byte_data(0x20, Reg.IOCON, 0x02)
    assert chip.interrupt_output("B") is True, "INTPOL: active high"
    with pytest.raises(ValueError, match="INTA and INTB"):
        chip.interrupt_asserted("C")


def test_solenoid_latch_follows_its_output_unless_jammed() -> None:
    bus, chip = _bus()
    latch = FakeSolenoidLatch((chip, 2), (chip, 1))
    bus.write_word_data(0x20, Reg.IODIRA, 0xFFFB)
    assert latch.locked
    assert chip.driven(1) is False, "the switch closes to ground while locked"
    bus.write_word_data(0x20, Reg.OLATA, 0x0004)
    assert not latch.locked
    assert chip.driven(1) is True
    latch.jam()
    assert latch.locked
    latch.free()
    assert not latch.locked
    bus.unplug(0x20)
    bus.plug(0x20)
    assert latch.locked, "a power-on reset drops the solenoid"


# --- the driver ---------------------------------------------------------------------------------


def test_pin_labels_and_port_config_validation() -> None:
    assert pin_label(0) == "GPA0"
    assert pin_label(15) == "GPB7"
    with pytest.raises(ValueError, match="0-15"):
        pin_label(16)
    with pytest.raises(ValueError, match="output-only"):
        PortConfig(inputs=0x0080)
    with pytest.raises(ValueError, match="input pins only"):
        PortConfig(inputs=0x0001, pull_ups=0x0002)


def test_claims_refuse_double_use_and_output_only_inputs() -> None:
    bus, _chip = _bus()
    driver = MCP23017(bus, 0x20, name="mcp")
    driver.claim_input(0, owner="slot-1-presence")
    with pytest.raises(PartInUse, match="already used by slot-1-presence") as raised:
        driver.claim_output(0, owner="slot-1-lock")
    assert raised.value.part == "slot-1-lock"
    with pytest.raises(ValueError, match="GPA7 is output-only"):
        driver.claim_input(7, owner="x")
    with pytest.raises(ValueError, match="0x20-0x27"):
        MCP23017(bus, 0x40, name="mcp")


def test_configure_writes_the_claims_and_drives_outputs_low(run_virtual: Any) -> None:
    async def body() -> None:
        bus, chip = _bus()
        chip.power_on_reset()
        bus.write_word_data(0x20, Reg.OLATA, 0xFFFF)
        driver = MCP23017(bus, 0x20, name="mcp")
        driver.claim_input(0, owner="p", pull_up=True, interrupt=True)
        driver.claim_input(9, owner="q", pull_up=False)
        driver.claim_output(2, owner="l")
        await driver.configure()
        assert chip.register(Reg.IOCON) == IOCON_CONFIG
        assert chip.register(Reg.IODIRA) | chip.register(Reg.IODIRB) << 8 == 0x0201
        assert chip.register(Reg.GPPUA) == 0x01
        assert chip.register(Reg.GPINTENA) == 0x01
        assert [chip.output(pin) for pin in (2, 7, 15)] == [False, False, False], (
            "outputs (claimed or not) start low, whatever the latch held"
        )

    run_virtual(body())


def test_inputs_outputs_and_interrupts(run_virtual: Any) -> None:
    async def body() -> None:
        bus, chip = _bus()
        driver = MCP23017(bus, 0x20, name="mcp")
        driver.claim_input(0, owner="p", interrupt=True)
        driver.claim_output(10, owner="l")
        assert await driver.read_inputs() & 1 == 1, "pull-up"
        await driver.write_outputs(1 << 10, 1 << 10)
        assert chip.output(10) is True
        assert await driver.read_latch() == 1 << 10
        chip.drive(0, False)
        capture = await driver.read_interrupt()
        assert capture.flags == 0x0001
        assert capture.captured & 1 == 0
        assert not chip.interrupt_asserted("A")
        with pytest.raises(ValueError, match="cannot drive input"):
            await driver.write_outputs(1, 1)

    run_virtual(body())


def test_shared_reads_within_max_age(run_virtual: Any) -> None:
    async def body() -> None:
        bus, _chip = _bus()
        driver = MCP23017(bus, 0x20, name="mcp")
        driver.claim_input(0, owner="p")
        await driver.read_inputs()
        before = bus.transactions(0x20)
        await driver.read_inputs(max_age_s=0.01)
        assert bus.transactions(0x20) == before, "a fresh enough read is shared"
        await driver.read_inputs()
        assert bus.transactions(0x20) == before + 2, "IODIR check, then GPIO"

    run_virtual(body())


def test_a_latch_that_does_not_read_back_is_read_failed(run_virtual: Any) -> None:
    async def body() -> None:
        bus, chip = _bus()
        driver = MCP23017(bus, 0x20, name="mcp")
        driver.claim_output(3, owner="l")
        await driver.configure()

        original = chip.read

        def stuck_latch(length: int) -> bytes:
            data = original(length)
            return bytes(b & 0xF7 for b in data) if chip.register(Reg.IODIRA) != 0xFF else data

        chip.read = stuck_latch  # type: ignore[method-assign]
        with pytest.raises(ReadFailed, match=r"OLAT read back 0x0000 after writing 0x0008"):
            await driver.write_outputs(0x0008, 0x0008)
        chip.read = original  # type: ignore[method-assign]
        await driver.write_outputs(0x0008, 0x0008)
        assert chip.output(3) is True

    run_virtual(body())


def test_faults_then_recovery(run_virtual: Any) -> None:
    async def body() -> None:
        bus, chip = _bus()
        driver = MCP23017(bus, 0x20, name="mcp")
        driver.claim_output(4, owner="l")
        await driver.write_outputs(0x0010, 0x0010)
        for fault in (BusFault.NACK, BusFault.TIMEOUT):
            bus.inject(0x20, fault)
            with pytest.raises(PartNotResponding) as raised:
                await driver.read_latch()
            assert raised.value.part == "mcp"
            bus.heal(0x20)
        bus.inject(0x20, BusFault.GARBAGE)
        with pytest.raises(ReadFailed, match="did not read back"):
            await driver.read_inputs()
        bus.heal(0x20)
        assert await driver.read_latch() == 0x0010
        bus.unplug(0x20)
        with pytest.raises(PartNotResponding):
            await driver.write_outputs(0, 0x0010)
        bus.plug(0x20)
        assert chip.register(Reg.IODIRA) == 0xFF, "the replugged chip came back from reset"
        assert await driver.read_latch() == 0x0010, "configured again, latch restored"
        assert chip.output(4) is True

    run_virtual(body())
