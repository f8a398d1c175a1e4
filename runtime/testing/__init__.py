"""runtime.testing: real in-memory implementations of every port, shipped as code.

Flow tests, the simulator and the benchmark run on these; `conformance` holds the checks a
real `CallLeg` adapter must pass too, so the fakes stay honest.
"""

from ivr.runtime.testing.channels import (
    MemoryChannels,
    QueueAnswer,
    ScriptedDelivery,
    ScriptedRouting,
    SentMessage,
)
from ivr.runtime.testing.clock import VirtualWallClock
from ivr.runtime.testing.leg import MemoryCallLeg, PlayedPrompt, Transferred
from ivr.runtime.testing.operations import Fixture, FixtureOperations, OperationCall
from ivr.runtime.testing.records import MemoryCallRecords, StoredRecording

__all__ = [
    "Fixture",
    "FixtureOperations",
    "MemoryCallLeg",
    "MemoryCallRecords",
    "MemoryChannels",
    "OperationCall",
    "PlayedPrompt",
    "QueueAnswer",
    "ScriptedDelivery",
    "ScriptedRouting",
    "SentMessage",
    "StoredRecording",
    "Transferred",
    "VirtualWallClock",
]
