"""Reads the drain audit lines ingestd appends to <state_dir>/audit.log and
groups them into drains, one per drain_started .. drain_finished.

    for drain in read_drains("/var/lib/ingestd/audit.log"):
        drain.time("drain_listeners_closed"), drain.field("drain_finished", "outcome")
"""

import dataclasses
import datetime
import json

# Every drain writes these, in this order.
DRAIN_EVENTS = ("drain_started", "drain_listeners_closed", "drain_cameras_moved", "drain_flushed",
                "drain_finished")


def parse_ts(text):
    """RFC 3339 UTC ("2026-11-22T10:00:00.123Z") -> unix seconds."""
    return datetime.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


@dataclasses.dataclass
class Drain:
    lines: list  # the raw audit lines, in order
    events: dict  # event name -> parsed line (the last one of that name)

    def time(self, event):
        return parse_ts(self.events[event]["ts"]) if event in self.events else None

    def field(self, event, name, default=None):
        return self.events.get(event, {}).get(name, default)

    def missing_events(self):
        return [e for e in DRAIN_EVENTS if e not in self.events]

    @property
    def complete(self):
        return self.field("drain_finished", "outcome") == "complete"


def read_drains(path):
    drains = []
    try:
        with open(path) as f:
            lines = [line.strip() for line in f if line.strip()]
    except FileNotFoundError:
        return drains
    for line in lines:
        record = json.loads(line)
        event = record.get("event", "")
        if not event.startswith("drain_"):
            continue
        if event == "drain_started" or not drains:
            drains.append(Drain(lines=[], events={}))
        drains[-1].lines.append(line)
        drains[-1].events[event] = record
    return drains
