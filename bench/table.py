"""The tables `make bench` prints from the report, and the Markdown table for docs/performance.md.

Every row gives wall time beside the CPU the function's process used (all its threads), at the CPU share
of its memory (the banner says whether that share was emulated).
"""

from typing import Any

WIDTH = 26  # of the first column of the tables


def print_report(report: dict[str, Any]) -> None:
    print("\n" + "=" * 110)
    settings = report["settings"]
    print(
        f"rcs-revoker at Lambda's CPU share, {settings['memory_mb']} MB  (Python {report['machine']['python']}, "
        f"{report['machine']['cpus']} CPUs, {report['machine']['machine']}; load average "
        f"{report['load_at_start']} at the start, {report['load_at_end']} at the end)"
    )
    print(report["cpu_share"]["banner"])
    print("=" * 110)
    print_cold(report)
    print_warm(report)
    print_entry_points(report)
    print_memory_sizes(report)
    print_rss(report)
    print_targets(report)
    print_context(report)
    print_imports(report)
    print_sizes(report)
    print_profile(report)
    print("\nMarkdown for docs/performance.md:\n")
    print(markdown(report))


def _ms(value: float | None, digits: int = 1) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def print_cold(report: dict[str, Any]) -> None:
    cold = report["cold"]
    print(
        f"\nCOLD START: a new process per run, {report['settings']['runs']} rounds, rows interleaved; medians "
        "(wall: min-max)"
    )
    header = (
        f"{'':{WIDTH}} {'answer ms':>16} {'import ms':>10} {'1st call ms':>12} {'1st call CPU':>13} "
        f"{'process CPU':>12} {'peak RSS MB':>12} {'AWS calls':>10}"
    )
    print(header)
    print("-" * len(header))
    for c in cold.values():
        wall = c["first_invoke_ms"] if c["restore"] else c["wall_ms"]
        answer = f"{wall['median']:.0f} ({wall['min']:.0f}-{wall['max']:.0f})"
        calls = "?" if c["aws_calls"] is None else f"{c['aws_calls']['median']:g}"
        print(
            f"{c['label']:{WIDTH}} {answer:>16} {c['import_ms']['median']:>10.0f} "
            f"{c['first_invoke_ms']['median']:>12.1f} {c['first_cpu_ms']['median']:>13.1f} "
            f"{c['cpu_ms']['median']:>12.0f} {c['peak_rss_mb']['median']:>12.1f} {calls:>10}"
        )
    print(
        "answer ms: spawn to answer, measured by the parent (interpreter start-up included); for the restore row, "
        "from the simulated restore to the answer.\nCPU: the function process's user + system time (the "
        "process's whole life, or the first call alone); AWS calls: init and first call, reaching moto."
    )
    dropped = cold.get("service_restore", {}).get("restore_dropped")
    if dropped:
        print("restore: dropped " + ", ".join(f"{n} {what}" for what, n in dropped.items()))


def print_warm(report: dict[str, Any]) -> None:
    warm = report["warm"]
    print(f"\nWARM PATH (API revoke): {report['settings']['warm']} requests in one process after its first")
    header = (
        f"{'':{WIDTH}} {'p50 ms':>8} {'p99 ms':>8} {'CPU ms/req':>11} {'req/s':>8} {'AWS calls/req':>14} "
        f"{'PATCH/req':>10}"
    )
    print(header)
    print("-" * len(header))
    for w in warm.values():
        aws = _calls(w.get("aws_calls_per_warm_request"))
        print(
            f"{w['label']:{WIDTH}} {w['p50_ms']:>8.2f} {w['p99_ms']:>8.2f} {w['cpu_ms_per_request']:>11.2f} "
            f"{w['rps']:>8.1f} {aws:>14} {w['vonage_patches_per_request']:>10g}"
        )


def entry_rows(report: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    entries = report["entry_points"]
    return [
        ("API revoke (full)", report["warm"]["service_full"]),
        ("EventBridge event", entries["RevokeEventFunction"]),
        ("worker batch of 10", entries["RevokeWorkerFunction"]),
        ("timer fire", entries["RevokeTimerFunction"]),
    ]


def print_entry_points(report: dict[str, Any]) -> None:
    print("\nENTRY POINTS (full function, as deployed): the first invocation of a new process, then warm ones")
    header = (
        f"{'':{WIDTH}} {'cold 1st ms':>12} {'cold 1st CPU':>13} {'warm p50':>9} {'warm p99':>9} "
        f"{'CPU ms/inv':>11} {'AWS calls/inv':>14} {'per record':>11} {'n':>5}"
    )
    print(header)
    print("-" * len(header))
    for name, row in entry_rows(report):
        calls = _calls(row.get("aws_calls_per_warm_request"))
        per_record = _calls(row.get("aws_calls_per_warm_record"))
        print(
            f"{name:{WIDTH}} {row['cold_first_invoke_ms']:>12.1f} {row['cold_first_cpu_ms']:>13.1f} "
            f"{_ms(row['p50_ms']):>9} {_ms(row['p99_ms']):>9} {_ms(row['cpu_ms_per_request'], 2):>11} "
            f"{calls:>14} {per_record:>11} {row['requests']:>5}"
        )
    bulk = report["bulk_submit"]
    print(
        f"{'bulk submit of ' + str(bulk['items']):{WIDTH}} wall {bulk['wall_ms']:.0f} ms, CPU {bulk['cpu_ms']:.0f} ms "
        f"= {bulk['cpu_ms_per_item']:.3f} ms per item (in a warm API process; answers {bulk['answers']})"
    )
    print(
        "cold 1st: the first invocation after the import (init done), wall and CPU; AWS calls/inv: the calls "
        "that reached moto per warm invocation (the process's, less a process's that answered the cold one alone)."
    )


def print_memory_sizes(report: dict[str, Any]) -> None:
    print("\nMEMORY SIZES (full function, API revoke) and what a warm request costs (arm64, us-east-1)")
    header = (
        f"{'MB':>6} {'vCPU':>6} {'cold ms':>8} {'1st call':>9} {'p50 ms':>8} {'p99 ms':>8} {'CPU ms/req':>11} "
        f"{'billed ms':>10} {'GB-s/req':>10} {'$/million':>10}  marks"
    )
    print(header)
    print("-" * len(header))
    cost = {row["memory_mb"]: row for row in report["cost"]}
    for row in report["memory_sizes"]:
        priced = cost.get(row["memory_mb"], {})
        vcpus = row["cpu"].get("vcpus")
        print(
            f"{row['memory_mb']:>6} {_ms(vcpus, 3):>6} {row['cold_wall_ms']:>8.0f} "
            f"{row['cold_first_invoke_ms']:>9.0f} {_ms(row['p50_ms'], 2):>8} {_ms(row['p99_ms'], 2):>8} "
            f"{_ms(row['cpu_ms_per_request'], 2):>11} {_ms(row['billed_ms_mean'], 2):>10} "
            f"{priced.get('gb_s_per_request', 0):>10.6f} {priced.get('usd_per_million', 0):>10.3f}  "
            + ", ".join(priced.get("marks", []))
        )
    print(
        "billed ms: the mean of each warm request's duration rounded up to 1 ms; $/million: GB-s x $0.0000133334 "
        "+ $0.20 per million requests. Offline figures (moto, the simulator at 0 ms): compare sizes, not bills."
    )


def print_rss(report: dict[str, Any]) -> None:
    print("\nPEAK RSS after many requests, and the same runs' warm figures, on a FULL CORE (no CPU share)")
    header = f"{'':{WIDTH}} {'requests':>9} {'peak RSS MB':>12} {'p50 ms':>8} {'CPU ms/inv':>11}"
    print(header)
    print("-" * len(header))
    for name, r in report["peak_rss"].items():
        print(
            f"{name:{WIDTH}} {r['records']:>9} {r['peak_rss_mb']:>12.1f} {_ms(r['full_core_p50_ms'], 2):>8} "
            f"{_ms(r['full_core_cpu_ms_per_request'], 2):>11}"
        )
    print("RevokeWorkerFunction: its requests are records, in batches of ten (p50 and CPU per batch).")


def print_targets(report: dict[str, Any]) -> None:
    print(f"\nTargets (issue 16), at {report['settings']['memory_mb']} MB; reported, not asserted:")
    for target in report["targets"]:
        print(f"  {'PASS' if target['pass'] else 'FAIL'}  {target['target']:<52} {target['measured']}")


def print_context(report: dict[str, Any]) -> None:
    moto = report["moto_latency_ms"]
    print(
        f"\nmoto server's own latency per call (median of {moto['calls_each']}, p90; outside the CPU share): "
        + ", ".join(
            f"{name} {v['median']:.2f} ms (p90 {v['p90']:.2f})" for name, v in moto.items() if isinstance(v, dict)
        )
    )
    labels = report["contestants"]
    print(
        "TLS to the simulator: "
        + "; ".join(f"{labels[k]['label']} {v}" for k, v in report["offline_stack"]["tls_verification"].items())
    )
    if report["offline_stack"]["template_notes"]:
        print("Template notes: " + "; ".join(dict.fromkeys(report["offline_stack"]["template_notes"])))


def markdown(report: dict[str, Any]) -> str:
    """The performance table at the deployed memory, then a row per memory size; generated, not edited."""
    memory = report["settings"]["memory_mb"]
    cold, warm, bulk = report["cold"], report["warm"], report["bulk_submit"]
    share = report["cpu_share"][str(memory)]
    where = f"{share['vcpus']} vCPU (cgroup {share['cgroup']})" if share["emulated"] else "a full core (NOT emulated)"
    lines = [
        f"At {memory} MB, CPU share {where}; {report['generated_at']}, load average {report['load_at_start']}.",
        "",
        "| row | wall p50 ms | p99 ms | CPU ms | AWS calls |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    for key in ("baseline", "service_same_job", "service_full", "service_restore"):
        c = cold[key]
        wall = c["first_invoke_ms"] if c["restore"] else c["wall_ms"]
        cpu = c["first_cpu_ms"] if c["restore"] else c["cpu_ms"]
        calls = "-" if c["aws_calls"] is None else f"{c['aws_calls']['median']:g}"
        what = "first request after restore" if c["restore"] else "cold start"
        lines.append(
            f"| {c['label']}: {what} | {wall['median']:.0f} | {wall['max']:.0f} (max) | {cpu['median']:.0f} | {calls} |"
        )
    for key in ("baseline", "service_same_job", "service_reference"):
        if key not in warm:
            continue
        w = warm[key]
        lines.append(
            f"| {w['label']}: warm | {w['p50_ms']:.1f} | {w['p99_ms']:.1f} | {w['cpu_ms_per_request']:.2f} | "
            f"{_calls(w.get('aws_calls_per_warm_request'))} |"
        )
    for name, row in entry_rows(report):
        lines.append(
            f"| {name}: warm | {_ms(row['p50_ms'])} | {_ms(row['p99_ms'])} | {_ms(row['cpu_ms_per_request'], 2)} "
            f"| {_calls(row.get('aws_calls_per_warm_request'))} |"
        )
        lines.append(
            f"| {name}: first after import | {row['cold_first_invoke_ms']:.0f} | - | "
            f"{row['cold_first_cpu_ms']:.0f} | - |"
        )
    lines.append(
        f"| bulk submit of {bulk['items']} | {bulk['wall_ms']:.0f} | - | {bulk['cpu_ms']:.0f} "
        f"({bulk['cpu_ms_per_item']:.3f}/item) | - |"
    )
    lines += [
        "",
        "| memory MB | vCPU | cold start ms | warm p50 ms | CPU ms/req | $ per million warm requests |",
        "| ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    cost = {row["memory_mb"]: row for row in report["cost"]}
    for row in report["memory_sizes"]:
        priced = cost.get(row["memory_mb"], {})
        marks = f" ({', '.join(priced['marks'])})" if priced.get("marks") else ""
        lines.append(
            f"| {row['memory_mb']} | {_ms(row['cpu'].get('vcpus'), 3)} | {row['cold_wall_ms']:.0f} | "
            f"{_ms(row['p50_ms'])} | {_ms(row['cpu_ms_per_request'], 2)} | "
            f"{priced.get('usd_per_million', 0):.3f}{marks} |"
        )
    return "\n".join(lines)


def print_imports(report: dict[str, Any]) -> None:
    labels = report["contestants"]
    print("\nImport time (python -X importtime -c 'import handler'; the median of 3 runs):")
    for key, breakdown in report["import_time"].items():
        print(
            f"  {labels[key]['label']}: handler {breakdown['handler_cumulative_ms']} ms cumulative "
            f"({breakdown['modules_imported']} modules); by package (self ms): "
            + ", ".join(f"{p['package']} {p['self_ms']:.0f}" for p in breakdown["top10_packages_self"])
        )
        for row in breakdown["top10_cumulative"]:
            print(
                f"      {row['cumulative_ms']:>8.1f} ms cum {row['self_ms']:>7.1f} self  {'  ' * row['depth']}"
                f"{row['module']}"
            )


def print_profile(report: dict[str, Any]) -> None:
    profile = report.get("profile")
    if not profile:
        return
    print(
        f"\ncProfile of {profile['requests']} warm requests of the service (same job), per request; "
        f"{profile['file']} (statuses {profile['statuses']}):"
    )
    print("  by self time:")
    for row in profile["top_self"][:12]:
        print(f"    {row['self_ms_per_request']:>7.3f} ms self  {row['calls']:>7} calls  {row['function']}")
    print("  by cumulative time:")
    for row in profile["top_cumulative"][:20]:
        print(f"    {row['cumulative_ms_per_request']:>7.3f} ms cum   {row['calls']:>7} calls  {row['function']}")


def print_sizes(report: dict[str, Any]) -> None:
    sizes = report["size_mb"]
    if sizes is None:
        print("\nDeployed size: skipped (--skip-size)")
        return
    service, baseline = sizes["service"], sizes["baseline"]
    print(
        f"\nDeployed size, unzipped MB: service {service['total']} without bytecode, {service['total_with_bytecode']} "
        f"as shipped with it (RevokeApiFunction "
        f"{service['RevokeApiFunction']} + DependenciesLayer {service['DependenciesLayer']} + layers/revoker "
        f"{service['layers/revoker (without __pycache__)']}); baseline {baseline['total_with_boto3']} with "
        f"boto3, {baseline['total_without_boto3']} without (the runtime ships boto3)"
    )
    print(
        "  largest: service "
        + ", ".join(f"{p['name']} {p['mb']}" for p in service["largest_dependencies"])
        + "; baseline "
        + ", ".join(f"{p['name']} {p['mb']}" for p in baseline["largest_dependencies"])
    )


def _calls(per_warm: float | None) -> str:
    """AWS calls per warm invocation (the container's own first calls apart), or "?" when moto's log was not read."""
    return "?" if per_warm is None else f"{per_warm:g}"
