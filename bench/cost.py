"""The cost x latency table: per memory size, what a warm request of the full function costs, beside its p50.

GB-s per request = memory (GB, 1,024 MB) x billed duration (each request's duration rounded up to the next
millisecond, as Lambda bills it; the mean over the warm requests). Price: arm64 duration and the request
charge, on-demand, first tier, us-east-1 (https://aws.amazon.com/lambda/pricing/; the same constants as
bench/timers.py). The figures are offline ones (moto answers in about a millisecond where DynamoDB takes a few,
the simulator at once): compare sizes with each other, not with a bill.
"""

from typing import Any

LAMBDA_ARM64_PER_GB_S = 0.0000133334
LAMBDA_PER_REQUEST = 0.20 / 1e6
WITHIN = 0.10  # "fastest within 10 % of the cheapest"


def cost_table(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each row (memory_mb, billed_ms_mean, p50_ms) with its GB-s and $ per million requests, the cheapest and
    the fastest of those within 10 % of its cost marked."""
    priced = []
    for row in rows:
        if row.get("billed_ms_mean") is None:
            continue
        gb_s = row["memory_mb"] / 1024 * row["billed_ms_mean"] / 1000
        usd = gb_s * LAMBDA_ARM64_PER_GB_S + LAMBDA_PER_REQUEST
        priced.append(
            {
                "memory_mb": row["memory_mb"],
                "p50_ms": row["p50_ms"],
                "billed_ms_mean": row["billed_ms_mean"],
                "gb_s_per_request": round(gb_s, 7),
                "usd_per_million": round(usd * 1e6, 4),
                "marks": [],
            }
        )
    if not priced:
        return priced
    cheapest = min(priced, key=lambda r: r["usd_per_million"])
    cheapest["marks"].append("cheapest")
    near = [r for r in priced if r["usd_per_million"] <= cheapest["usd_per_million"] * (1 + WITHIN)]
    min(near, key=lambda r: r["p50_ms"])["marks"].append("fastest within 10 % of the cheapest")
    return priced
