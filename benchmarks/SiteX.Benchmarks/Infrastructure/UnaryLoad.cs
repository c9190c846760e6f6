using System.Diagnostics;
using Grpc.Core;
using SiteX.Samples.V1;

namespace SiteX.Benchmarks.Infrastructure;

/// <summary>Closed-loop unary load: a fixed number of callers share a count of calls on one client, each timed.</summary>
internal static class UnaryLoad
{
    /// <summary>
    /// <paramref name="count"/> <c>Echo/Unary</c> calls of <paramref name="request"/>, <paramref name="concurrency"/>
    /// in flight; returns the wall time and each call's latency in microseconds.
    /// </summary>
    public static async Task<(double Seconds, double[] LatenciesUs)> RunAsync(Echo.EchoClient client, Metadata? headers, EchoRequest request, int concurrency, int count, CancellationToken ct)
    {
        var latencies = new double[count];
        var next = -1;
        var start = Stopwatch.GetTimestamp();
        var workers = Enumerable.Range(0, concurrency).Select(async _ =>
        {
            await Task.Yield();
            int i;
            while ((i = Interlocked.Increment(ref next)) < count)
            {
                var callStart = Stopwatch.GetTimestamp();
                await client.UnaryAsync(request, headers, DateTime.UtcNow.AddSeconds(30), ct);
                latencies[i] = Stopwatch.GetElapsedTime(callStart).TotalMicroseconds;
            }
        }).ToArray();
        await Task.WhenAll(workers);
        return (Stopwatch.GetElapsedTime(start).TotalSeconds, latencies);
    }
}
