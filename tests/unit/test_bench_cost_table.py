"""The benchmark's cost x latency table (bench/cost.py): GB-s per request x the arm64 price plus the request
charge, the cheapest size and the fastest size within 10 % of its cost marked."""

import pytest

from bench.cost import cost_table


def test_a_request_costs_its_memory_times_its_billed_duration_plus_the_request_charge() -> None:
    # 256 MB for 10 ms: 0.25 GB x 0.010 s = 0.0025 GB-s; x $0.0000133334 = $3.33e-8; + $2e-7 per request.
    (row,) = cost_table([{"memory_mb": 256, "billed_ms_mean": 10.0, "p50_ms": 9.4}])

    assert row["gb_s_per_request"] == pytest.approx(0.0025)
    assert row["usd_per_million"] == pytest.approx(0.0025 * 0.0000133334 * 1e6 + 0.20, abs=1e-4)


def test_the_cheapest_and_the_fastest_within_ten_percent_of_it_are_marked() -> None:
    rows = [
        {"memory_mb": 128, "billed_ms_mean": 200.0, "p50_ms": 199.0},  # 0.025 GB-s: the cheapest
        {"memory_mb": 256, "billed_ms_mean": 104.0, "p50_ms": 103.0},  # 0.026 GB-s: within 10 %, and faster
        {"memory_mb": 1024, "billed_ms_mean": 40.0, "p50_ms": 39.0},  # 0.039 GB-s: fastest, but 40 % dearer
    ]

    marks = {row["memory_mb"]: row["marks"] for row in cost_table(rows)}

    assert marks == {128: ["cheapest"], 256: ["fastest within 10 % of the cheapest"], 1024: []}


def test_when_the_cheapest_is_also_the_fastest_near_it_both_marks_are_its() -> None:
    rows = [
        {"memory_mb": 256, "billed_ms_mean": 20.0, "p50_ms": 19.0},
        {"memory_mb": 512, "billed_ms_mean": 19.0, "p50_ms": 18.5},  # barely faster, 90 % dearer
    ]

    marks = {row["memory_mb"]: row["marks"] for row in cost_table(rows)}

    assert marks[256] == ["cheapest", "fastest within 10 % of the cheapest"]
    assert marks[512] == []
