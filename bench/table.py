"""The tables `make bench` prints from the report: cold start, warm path, the comparison, imports, sizes."""

from typing import Any

WIDTH = 22  # of the first column of the tables


def print_report(report: dict[str, Any]) -> None:
    print("\n" + "=" * 100)
    print(
        f"rcs-revoker vs the official Vonage SDK  (Python {report['machine']['python']}, "
        f"{report['machine']['cpus']} CPUs, {report['machine']['machine']})"
    )
    print("=" * 100)
    print_cold(report)
    print_warm(report)
    print_comparison(report)
    print_imports(report)
    print_sizes(report)
    print_profile(report)


def print_cold(report: dict[str, Any]) -> None:
    cold, labels = report["cold"], report["contestants"]
    runs = report["settings"]["cold_runs"]
    print(f"\nCOLD START: a new process per run, {runs} runs each, interleaved; medians (wall: min-max)")
    header = (
        f"{'':{WIDTH}} {'spawn->answer ms':>20} {'import ms':>10} {'1st call ms':>12} {'CPU ms':>8} {'peak RSS MB':>12}"
    )
    print(header)
    print("-" * len(header))
    for key, c in cold.items():
        wall = f"{c['wall_ms']['median']:.0f} ({c['wall_ms']['min']:.0f}-{c['wall_ms']['max']:.0f})"
        print(
            f"{labels[key]['label']:{WIDTH}} {wall:>20} {c['import_ms']['median']:>10.0f} "
            f"{c['first_invoke_ms']['median']:>12.1f} {c['cpu_ms']['median']:>8.0f} {c['peak_rss_mb']['median']:>12.1f}"
        )
    print(
        "spawn->answer: measured by the parent, interpreter start-up included; import / 1st call / CPU (user+sys,"
        " whole process) / peak RSS after the 1st request: measured in the child."
    )


def print_warm(report: dict[str, Any]) -> None:
    warm, labels = report["warm"], report["contestants"]
    requests = report["settings"]["warm_requests"]
    print(f"\nWARM PATH: {requests} requests in one process after its first, each for a new message")
    header = (
        f"{'':{WIDTH}} {'p50 ms':>8} {'p99 ms':>8} {'req/s':>8} {'CPU ms/req':>11} {'AWS calls/req':>14} "
        f"{'PATCH/req':>10}"
    )
    print(header)
    print("-" * len(header))
    for key, w in warm.items():
        aws = "?" if w["aws_calls_per_request"] is None else f"{w['aws_calls_per_request']:g}"
        print(
            f"{labels[key]['label']:{WIDTH}} {w['p50_ms']:>8.2f} {w['p99_ms']:>8.2f} {w['rps']:>8.1f} "
            f"{w['cpu_ms_per_request']:>11.2f} {aws:>14} {w['vonage_patches_per_request']:>10g}"
        )
    print(
        "CPU ms/req: the function process's own CPU (waits on moto server and the simulator excluded); "
        "AWS calls/req: requests that reached moto server."
    )
    for key, w in warm.items():
        for note in labels[key]["notes"]:
            print(f"note ({labels[key]['label']}): {note}")
        others = {status: n for status, n in w["statuses"].items() if status != "202"}
        if others:
            print(
                f"WARNING ({labels[key]['label']}): warm answers other than 202: {others}; first: "
                f"{w['unexpected_answers'][:1]}"
            )


def print_comparison(report: dict[str, Any]) -> None:
    cold, warm, labels = report["cold"], report["warm"], report["contestants"]
    others = [key for key in cold if key != "baseline"]
    base = cold["baseline"]["wall_ms"]["median"]
    print(
        "\nService vs baseline: cold start "
        + ", ".join(f"{labels[k]['label']} {cold[k]['wall_ms']['median'] / base:.2f} x" for k in others)
        + "; warm throughput "
        + ", ".join(f"{labels[k]['label']} {warm[k]['rps'] / warm['baseline']['rps']:.1f} x" for k in others)
    )
    print("\nTargets (service, same job):")
    for target in report["targets"]:
        print(f"  {'PASS' if target['pass'] else 'FAIL'}  {target['target']:<36} {target['measured']}")
    moto = report["moto_latency_ms"]
    print(
        f"\nmoto server's own latency per call (median of {moto['calls_each']}, p90): "
        + ", ".join(
            f"{name} {v['median']:.2f} ms (p90 {v['p90']:.2f})" for name, v in moto.items() if isinstance(v, dict)
        )
    )
    print(
        "TLS to the simulator: "
        + "; ".join(f"{labels[k]['label']} {v}" for k, v in report["offline_stack"]["tls_verification"].items())
    )
    if report["offline_stack"]["template_notes"]:
        print("Template notes: " + "; ".join(report["offline_stack"]["template_notes"]))


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
