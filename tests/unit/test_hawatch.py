"""floatnet.lab.hawatch's reading of a watch (pure): outages as runs of lost probes, and two replicas answering
one ARP probe (or two MACs) as a duplicate address."""

from __future__ import annotations

from floatnet.lab import hawatch


def record(replies: list[bool], answers: list[list[object]] | None = None) -> dict[str, object]:
    probes = [[100.0 + i * 0.05, (100.0 + i * 0.05 + 0.001) if ok else None] for i, ok in enumerate(replies)]
    return {"interval": 0.05, "probes": probes, "answers": answers or [], "garps": [],
            "arp_sent": [p[0] for p in probes]}  # fmt: skip


def test_outages_are_runs_of_lost_probes_and_an_open_run_counts_to_the_end() -> None:
    watch = record([True, False, False, True, True, False])
    runs = hawatch.outages(watch)
    assert [run["lost"] for run in runs] == [2, 1]
    assert abs(runs[0]["seconds"] - 0.10) < 1e-9 and runs[0]["from"] == 100.05
    assert abs(runs[1]["seconds"] - 0.05) < 1e-9  # still lost when the watch ended: one interval
    assert hawatch.outages(watch, start=100.12, end=100.2) == []


def test_duplicates_are_probes_answered_twice_or_by_two_macs() -> None:
    answers = [[100.001, 0, "fa:16:3e:00:00:01"], [100.051, 1, "fa:16:3e:00:00:01"],
               [100.052, 1, "fa:16:3e:00:00:01"], [100.101, 2, "fa:16:3e:00:00:02"]]  # fmt: skip
    watch = record([True, True, True], answers)
    assert hawatch.duplicates(watch) == [{"at": 100.05, "answers": 2, "macs": ["fa:16:3e:00:00:01"]}]
    assert hawatch.macs(watch) == ["fa:16:3e:00:00:01", "fa:16:3e:00:00:02"]
    assert hawatch.duplicates(watch, start=100.06) == []


def test_a_late_answer_in_the_next_window_is_not_a_duplicate() -> None:
    """Probe 1's answer arrives after probe 2 was sent (a loaded machine): window 1 is empty, window 2 holds two
    answers of one MAC — one late answer. Two replicas answering every probe after an outage of 1 s are found
    once the outage's last LATE_S of unanswered probes has been matched."""
    mac = "fa:16:3e:00:00:01"
    late = [[100.001, 0, mac], [100.101, 2, mac], [100.102, 2, mac], [100.151, 3, mac]]
    assert hawatch.duplicates(record([True] * 4, late)) == []
    twice = [[100.0 + i * 0.05 + 0.001 + j / 1000, i, mac] for i in range(20, 40) for j in (0, 1)]
    found = hawatch.duplicates(record([True] * 40, [[100.001, 0, mac], *twice]))
    assert len(found) >= 10 and {d["answers"] for d in found} == {2}
