using System.Diagnostics;
using System.Runtime.InteropServices;
using Grpc.Core;
using SiteX.Benchmarks.Infrastructure;
using SiteX.Benchmarks.Scenarios.Compare;

namespace SiteX.Benchmarks.Scenarios;

/// <summary>
/// <c>compare</c>: the same unary load, side by side in one run, straight to the Echo sample, through one SiteX gateway,
/// nginx (grpc_pass) and haproxy (HTTP/2), and through two-hop chains of SiteX and of nginx: targets F1 (100 B), F2
/// (1 MiB) and F3 (two hops). Paths are interleaved in rounds, the order rotating each round; servers are pinned to CPU 0,
/// this load generator to CPU 1. Peers come from <c>benchmarks/peers</c>; one that is not installed is skipped.
/// </summary>
internal static class CompareScenario
{
    private const int ServerCpu = 0;
    private const int ClientCpu = 1;

    public static async Task<int> RunAsync(BenchArgs args, CancellationToken interrupted)
    {
        var options = CompareOptions.Parse(args);
        var report = new ReportWriter(options.Out);
        var elapsed = Stopwatch.StartNew();

        // Ctrl+C (the caller's token) or SIGTERM: stop the load and let the usings stop every process started.
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(interrupted);
        using var term = PosixSignalRegistration.Create(PosixSignal.SIGTERM, context =>
        {
            context.Cancel = true;
            stop.Cancel();
        });
        var ct = stop.Token;
        try
        {
            var pin = options.Pin && Cpu.CanPin && Cpu.PinSelf(ClientCpu);
            Header(report, options, pin);
            using var topology = await CompareTopology.StartAsync(options, pin ? ServerCpu : null, report, ct);
            var runner = new CompareRunner(topology, options, report);
            await runner.WarmUpAsync(ct);

            var summary = new CompareReport(topology.Paths, report);
            foreach (var (size, count) in options.Workloads)
            {
                var runs = await runner.MeasureAsync(size, count, ct);
                summary.AddWorkload(size, count, options.Concurrency, runs);
            }

            summary.Verdicts();
            report.Line($"Ended {Machine.Now()}, load average {Machine.LoadAverages()}, {elapsed.Elapsed.TotalMinutes:0.0} min in all.");
            return 0;
        }
        catch (Exception e) when (ct.IsCancellationRequested && e is OperationCanceledException or RpcException { StatusCode: StatusCode.Cancelled })
        {
            // gRPC reports a cancelled call as an RpcException, not as an OperationCanceledException.
            report.Line($"Interrupted {Machine.Now()}; every process started was stopped.");
            return 130;
        }
        finally
        {
            report.Save();
        }
    }

    private static void Header(ReportWriter report, CompareOptions options, bool pin)
    {
        report.Line($"## compare: {string.Join(", ", options.Workloads.Select(w => CompareRunner.Size(w.Size)))} unary, {options.Concurrency} concurrent on one channel per path, {options.Rounds} rounds{(options.Quick ? " (--quick: CPU per call still inflated by JIT warm-up)" : "")}");
        report.Line();
        report.Line($"- started {Machine.Now()}, load average {Machine.LoadAverages()}");
        report.Line($"- machine: {Machine.Describe()}");
        report.Line($"- peers: {string.Join(", ", Enum.GetValues<PeerKind>().Select(k => PeerProxy.Missing(k) is null ? PeerProxy.Version(k) : PeerProxy.Name(k) + " not installed"))}");
        report.Line($"- {(pin ? $"servers pinned to CPU {ServerCpu}, load generator to CPU {ClientCpu}" : "not pinned")}; access log {(options.AccessLog ? "on in every forwarder (sitex flow.log, nginx buffered 64k, haproxy to a file)" : "off in every forwarder")}; replies {(options.LengthOnly ? "carry the length only" : "echo the payload")}");
        if (options.VariantEnvironment.Count > 0 || options.VariantDll is not null)
        {
            var environment = options.VariantEnvironment.Count > 0 ? " with " + string.Join(",", options.VariantEnvironment.Select(p => $"{p.Key}={p.Value}")) : "";
            var build = options.VariantDll is null ? "" : $" running {options.VariantDll}";
            report.Line($"- {CompareOptions.Variant}: a second one-hop SiteX gateway{environment}{build}");
        }

        report.Line($"- warm-up: {options.Warmup} calls of 100 B per SiteX path, {options.PeerWarmup} per other path, then a fifth of a run per path at each size");
    }
}
