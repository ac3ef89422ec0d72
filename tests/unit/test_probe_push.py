"""floatnet.lab.probe's push session (pure): the server's framing read back across split reads, and the
receiver's verdict on a session across an HA takeover (bench/ha_failover.py)."""

from __future__ import annotations

from floatnet.lab import probe


def test_frames_split_anywhere_read_back_in_order() -> None:
    stream = b"".join(probe.push_line(n) for n in range(12))
    numbers, rest = [], b""
    for start in range(0, len(stream), 5):  # reads cut frames in the middle
        got, rest = probe.push_lines(rest + stream[start : start + 5])
        numbers += got
    assert numbers == list(range(12))
    assert rest == b""
    assert probe.push_lines(b"7\n8") == ([7], b"8")


def test_a_session_survives_only_with_reads_after_the_takeover_in_sequence_and_no_reset() -> None:
    numbers, arrivals = list(range(6)), [100.0, 100.1, 100.2, 105.0, 105.1, 105.2]
    verdict = probe.push_verdict(numbers, arrivals, None, after=104.0)
    assert verdict == {"survived": True, "frames": 6, "reads_after_takeover": 3, "in_order": True, "error": None}
    assert not probe.push_verdict(numbers[:3], arrivals[:3], None, after=104.0)["survived"]  # went silent
    reset = probe.push_verdict(numbers, arrivals, "ConnectionResetError(104)", after=104.0)
    assert not reset["survived"] and reset["error"] == "ConnectionResetError(104)"
    restarted = probe.push_verdict([0, 1, 2, 0, 1], arrivals[:5], None, after=104.0)  # a new session's frames
    assert not restarted["survived"] and not restarted["in_order"]
