using System.Globalization;

namespace SiteX.Benchmarks.Infrastructure;

/// <summary>
/// Reads counters from a gateway's Prometheus endpoint (<c>/metrics</c> on its admin port). The runtime's
/// <c>dotnet_gc_heap_total_allocated_bytes_total</c> gives the bytes a run allocated in the gateway: unlike CPU time,
/// it does not depend on what else the machine is doing, so it is the steady measure of per-call work.
/// </summary>
internal static class GatewayMetricsReader
{
    public const string AllocatedBytes = "dotnet_gc_heap_total_allocated_bytes_total";

    private static readonly HttpClient s_http = new() { Timeout = TimeSpan.FromSeconds(10) };

    /// <summary>The sum of every series of <paramref name="name"/> (a counter without labels has one).</summary>
    public static async Task<double> ReadAsync(int adminPort, string name, CancellationToken ct)
    {
        var text = await s_http.GetStringAsync($"http://127.0.0.1:{adminPort}/metrics", ct);
        var total = 0.0;
        foreach (var line in text.Split('\n'))
        {
            if (line.StartsWith(name, StringComparison.Ordinal) && line.Length > name.Length && line[name.Length] is ' ' or '{')
            {
                var value = line[(line.LastIndexOf(' ') + 1)..];
                total += double.Parse(value, NumberStyles.Float, CultureInfo.InvariantCulture);
            }
        }

        return total;
    }
}
