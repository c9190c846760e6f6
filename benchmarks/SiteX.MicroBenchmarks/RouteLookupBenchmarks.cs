using BenchmarkDotNet.Attributes;
using SiteX.Server.Routing;
using SiteX.Shared;

namespace SiteX.MicroBenchmarks;

/// <summary>Route lookup on a 10 000-party table (target O3: allocation-free) and endpoint selection, once per
/// forwarded call.</summary>
[MemoryDiagnoser]
public class RouteLookupBenchmarks
{
    private RouteTable _table = null!;
    private RouteTable _exchange = null!;
    private RouteGroup _oneEndpoint = null!;
    private RouteGroup _threeEndpoints = null!;
    private string _knownParty = null!;
    private string _unknownParty = null!;
    private string _service = null!;
    private string _source = null!;

    [GlobalSetup]
    public void Setup()
    {
        _table = HotPathInputs.RouteTable(withDefaultParty: false);
        _exchange = HotPathInputs.RouteTable(withDefaultParty: true);
        (_knownParty, _unknownParty, _service, _source) = (HotPathInputs.KnownParty, HotPathInputs.UnknownParty, HotPathInputs.Service, HotPathInputs.SelfParty);
        _table.TryLookup(_knownParty, _service, _source, out var one);
        _exchange.TryLookup(_unknownParty, _service, _source, out var three);
        (_oneEndpoint, _threeEndpoints) = (one.Group, three.Group);
    }

    /// <summary>The party and its named service are in the table.</summary>
    [Benchmark]
    public RouteMatch TryLookup_Hit()
    {
        _table.TryLookup(_knownParty, _service, _source, out var match);
        return match;
    }

    /// <summary>The party is not in the table: the <c>default</c> party (an exchange) and its <c>default</c> service answer.</summary>
    [Benchmark]
    public RouteMatch TryLookup_DefaultParty()
    {
        _exchange.TryLookup(_unknownParty, _service, _source, out var match);
        return match;
    }

    /// <summary>No route: the party is not in a table without a <c>default</c> party.</summary>
    [Benchmark]
    public bool TryLookup_Miss() => _table.TryLookup(_unknownParty, _service, _source, out _);

    /// <summary>A route with one endpoint. 16 picks per invocation: one pick alone is below the harness's own cost,
    /// which BenchmarkDotNet subtracts.</summary>
    [Benchmark(OperationsPerInvoke = PicksPerInvoke)]
    public RouteDestination Pick_OneEndpoint() => PickMany(_oneEndpoint);

    /// <summary>Round robin (an interlocked increment) over the exchange's three endpoints, 16 picks per invocation.</summary>
    [Benchmark(OperationsPerInvoke = PicksPerInvoke)]
    public RouteDestination Pick_ThreeEndpoints() => PickMany(_threeEndpoints);

    private const int PicksPerInvoke = 16;

    private static RouteDestination PickMany(RouteGroup group)
    {
        var last = group.Pick();
        for (var i = 1; i < PicksPerInvoke; i++)
        {
            last = group.Pick();
        }

        return last;
    }
}
