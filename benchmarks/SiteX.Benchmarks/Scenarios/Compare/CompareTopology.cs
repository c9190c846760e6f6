using SiteX.Benchmarks.Infrastructure;
using SiteX.Samples.V1;

namespace SiteX.Benchmarks.Scenarios.Compare;

/// <summary>
/// The processes of the <c>compare</c> scenario and the paths through them, all on 127.0.0.1, servers pinned to one CPU:
/// the Echo sample; SiteX site 10000 (<c>sitex serve</c>, its service <c>echo</c> is the sample) as the one-hop gateway
/// and the last hop of the chain, with site 9999 (routes party 10000 to 10000's gRPC port) in front for two hops; and
/// for each peer, one proxy to the sample and, for two hops, a second one in front of it. Every call carries
/// <c>x-ptp-target-node-id: 10000</c> and <c>x-ptp-target-component-name: echo</c> (the peers pass them through).
/// Dispose stops every process it started.
/// </summary>
internal sealed class CompareTopology : IDisposable
{
    public const string Direct = "direct";
    public const string Party = "10000";
    public const string Service = "echo";

    private readonly List<IDisposable> _owned = [];
    private readonly List<ComparePath> _paths = [];
    private readonly List<Func<TimeSpan>> _serverCpu = [];

    private CompareTopology()
    {
    }

    public IReadOnlyList<ComparePath> Paths => _paths;

    public int SampleId { get; private set; }

    /// <summary>The sample's CPU time so far.</summary>
    public TimeSpan SampleCpu() => ProcStats.CpuTime(SampleId);

    /// <summary>The CPU time so far of every server process (sample, gateways, proxies and their workers).</summary>
    public TimeSpan ServersCpu() => _serverCpu.Aggregate(TimeSpan.Zero, (sum, cpu) => sum + cpu());

    /// <summary>Starts what <paramref name="options"/>' paths need; a peer that is not installed is reported and left out.</summary>
    public static async Task<CompareTopology> StartAsync(CompareOptions options, int? cpu, ReportWriter report, CancellationToken ct)
    {
        var topology = new CompareTopology();
        try
        {
            await topology.StartServersAsync(options, cpu, report, ct);
            return topology;
        }
        catch
        {
            topology.Dispose();
            throw;
        }
    }

    /// <summary>Leaves a path out of the rest of the run (it failed its probe).</summary>
    public void Drop(ComparePath path) => _paths.Remove(path);

    public void Dispose()
    {
        // Front hops before the ones behind them, the sample last: the reverse of the start order.
        for (var i = _owned.Count - 1; i >= 0; i--)
        {
            _owned[i].Dispose();
        }

        _owned.Clear();
    }

    private async Task StartServersAsync(CompareOptions options, int? cpu, ReportWriter report, CancellationToken ct)
    {
        var wanted = options.Paths.ToHashSet(StringComparer.Ordinal);
        var (sample, samplePort) = await SampleMode.StartChildAsync(Service + "@" + Party, cpu);
        Own(sample);
        SampleId = sample.Id;
        _serverCpu.Add(SampleCpu);
        Add(Direct, 0, samplePort, null);

        if (!options.AccessLog)
        {
            SitexProcess.Environment["SITEX_ACCESSLOGENABLED"] = "false";
        }

        if (wanted.Contains(CompareOptions.Variant))
        {
            var variant = Own(await SitexProcess.StartAsync("compare-variant-" + Party, RouteTables.Local(Party, Service, samplePort), cpu, environment: options.VariantEnvironment, dll: options.VariantDll));
            TimeSpan VariantCpu() => ProcStats.CpuTime(variant.Id);
            _serverCpu.Add(VariantCpu);
            Add(CompareOptions.Variant, 1, variant.GrpcPort, VariantCpu);
        }

        if (wanted.Contains("sitex") || wanted.Contains("sitex2"))
        {
            var last = Own(await SitexProcess.StartAsync("compare-" + Party, RouteTables.Local(Party, Service, samplePort), cpu));
            TimeSpan LastCpu() => ProcStats.CpuTime(last.Id);
            _serverCpu.Add(LastCpu);
            Add("sitex", 1, last.GrpcPort, LastCpu);
            if (wanted.Contains("sitex2"))
            {
                var front = Own(await SitexProcess.StartAsync("compare-9999", RouteTables.ToPeer("9999", Party, last.GrpcPort), cpu));
                TimeSpan FrontCpu() => ProcStats.CpuTime(front.Id);
                _serverCpu.Add(FrontCpu);
                Add("sitex2", 2, front.GrpcPort, () => FrontCpu() + LastCpu());
            }
        }

        foreach (var kind in Enum.GetValues<PeerKind>())
        {
            var name = PeerProxy.Name(kind);
            if (!wanted.Contains(name) && !wanted.Contains(name + "2"))
            {
                continue;
            }

            if (PeerProxy.Missing(kind) is { } reason)
            {
                report.Line($"**{name} skipped**: {reason}.");
                continue;
            }

            var last = Own(await PeerProxy.StartAsync(kind, samplePort, cpu, options.AccessLog, ct));
            _serverCpu.Add(last.CpuTime);
            Add(name, 1, last.Port, last.CpuTime);
            if (wanted.Contains(name + "2"))
            {
                var front = Own(await PeerProxy.StartAsync(kind, last.Port, cpu, options.AccessLog, ct));
                _serverCpu.Add(front.CpuTime);
                Add(name + "2", 2, front.Port, () => front.CpuTime() + last.CpuTime());
            }
        }

        // The order of --paths, which is also the first round's order.
        _paths.RemoveAll(p => !wanted.Contains(p.Name));
        _paths.Sort((a, b) => IndexOf(options.Paths, a.Name).CompareTo(IndexOf(options.Paths, b.Name)));
    }

    private void Add(string name, int hops, int port, Func<TimeSpan>? gatewayCpu)
    {
        var channel = Own(EchoClients.Channel(port));
        _paths.Add(new ComparePath(name, hops, new Echo.EchoClient(channel), gatewayCpu));
    }

    private T Own<T>(T disposable)
        where T : IDisposable
    {
        _owned.Add(disposable);
        return disposable;
    }

    private static int IndexOf(IReadOnlyList<string> names, string name)
    {
        for (var i = 0; i < names.Count; i++)
        {
            if (names[i] == name)
            {
                return i;
            }
        }

        return int.MaxValue;
    }
}
