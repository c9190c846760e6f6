namespace SiteX.Benchmarks.Scenarios.Compare;

/// <summary>
/// One measured run of one path: throughput, latency percentiles (microseconds, client-observed), and the CPU time the
/// forwarders (<see cref="GatewayUs"/>, null on the direct path) and the sample spent per call, from <c>/proc</c>.
/// <see cref="Load"/> is the 1-minute load average when the round started.
/// </summary>
internal sealed record CompareRun(int Size, int Round, string Load, string Path, double CallsPerSecond, double P50, double P99, double P999, double? GatewayUs, double SampleUs);
