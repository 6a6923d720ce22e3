"""The hardware abstraction layer: the parts' protocols, their errors and the assembled device.

Real drivers (:mod:`drivers`) and simulated parts (:mod:`hal_sim`) both implement these
protocols; the agent's services know nothing else about hardware.
"""

from agent.hal.errors import HalError, LockJammed, PartInUse, PartNotResponding, ReadFailed
from agent.hal.hardware import Backend, Hardware, SlotParts
from agent.hal.parts import (
    BadgeRead,
    BadgeReader,
    BarcodeRead,
    BarcodeScanner,
    DoorSensor,
    GarbledInput,
    Indicator,
    IndicatorState,
    LightColour,
    Lock,
    PowerMonitor,
    PowerStatus,
    PresenceSensor,
    RfidReader,
    SlotLight,
    TemperatureProbe,
)

__all__ = [
    "Backend",
    "BadgeRead",
    "BadgeReader",
    "BarcodeRead",
    "BarcodeScanner",
    "DoorSensor",
    "GarbledInput",
    "HalError",
    "Hardware",
    "Indicator",
    "IndicatorState",
    "LightColour",
    "Lock",
    "LockJammed",
    "PartInUse",
    "PartNotResponding",
    "PowerMonitor",
    "PowerStatus",
    "PresenceSensor",
    "ReadFailed",
    "RfidReader",
    "SlotLight",
    "SlotParts",
    "TemperatureProbe",
]
