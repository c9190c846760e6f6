using SiteX.Samples.V1;

namespace SiteX.Benchmarks.Scenarios.Compare;

/// <summary>
/// One way from the load generator to the Echo sample: straight (<see cref="Hops"/> 0), or through one or two
/// forwarders of one kind. <see cref="GatewayCpu"/> is the CPU time so far of every forwarder on the way (null when
/// there is none).
/// </summary>
internal sealed record ComparePath(string Name, int Hops, Echo.EchoClient Client, Func<TimeSpan>? GatewayCpu)
{
    public bool IsSitex => Name.StartsWith("sitex", StringComparison.Ordinal);

    /// <summary>The SiteX path with as many hops, which a peer's path is compared with (null for direct and SiteX).</summary>
    public string? SitexCounterpart => Hops == 0 || IsSitex ? null : Hops == 1 ? "sitex" : "sitex2";

    /// <summary>How the path reads in a table.</summary>
    public string Label => Hops switch
    {
        0 => Name,
        1 => $"{Name} (1 hop)",
        _ => $"{Name} ({Hops} hops)",
    };
}
