"""Sends a few events with Python's fluent-logger package, a Forward client written elsewhere.

Usage: fluent_logger_client.py HOST PORT PHASE, where PHASE is
- "seconds": a default sender (integer and float times, fluent.event.Event);
- "nanos": a sender with nanosecond_precision=True (EventTime), with Unicode text.

tests/forward_input.rs runs it and checks the exact lines at /logs. Exits non-zero if any emit
failed.
"""

import sys

from fluent import event, sender


def main():
    host, port, phase = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    if phase == "seconds":
        client = sender.FluentSender("app", host=host, port=port, timeout=10.0)
        results = [
            client.emit_with_time("int", 1700000000, {"msg": "integer seconds", "n": 1}),
            client.emit_with_time(
                "float",
                1700000000.25,
                {"msg": "float seconds", "nested": {"list": [1, 2.5, True, None], "neg": -3}},
            ),
        ]
        event.Event("event", {"msg": "via fluent.event.Event"}, sender=client, time=1700000001)
    elif phase == "nanos":
        client = sender.FluentSender(
            "app", host=host, port=port, timeout=10.0, nanosecond_precision=True
        )
        results = [
            client.emit_with_time(
                "nano", sender.EventTime(1700000002, 123456789), {"text": "h\u00e9llo 日本 🚀"}
            ),
            # A float time becomes an EventTime with nanosecond_precision.
            client.emit_with_time("nanofloat", 1700000003.5, {"msg": "float to EventTime"}),
        ]
        event.Event(
            "event",
            {"msg": "Event with EventTime", "ok": False},
            sender=client,
            time=sender.EventTime(1700000004, 7),
        )
    else:
        sys.exit(f"unknown phase {phase!r}")
    error = client.last_error
    client.close()
    if not all(results) or error is not None:
        sys.exit(f"emit failed: results={results} last_error={error!r}")


if __name__ == "__main__":
    main()
