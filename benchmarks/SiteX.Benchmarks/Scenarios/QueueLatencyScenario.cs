using System.Diagnostics;
using System.Globalization;
using Google.Protobuf;
using Grpc.Core;
using SiteX.Benchmarks.Infrastructure;
using Client = SiteX.Protocol.Ptp.PrivateTransferTransport.PrivateTransferTransportClient;

namespace SiteX.Benchmarks.Scenarios;

/// <summary>
/// <c>queue-latency</c> (target Q3): a consumer's pop is parked at site B first; then one push, alone, for party 10000:
/// either at B itself (self party) or at A (relayed to B). Measured in this process with one clock: from the push's
/// acknowledgement to the parked pop's response. The two paths alternate in blocks, N samples each.
/// </summary>
internal static class QueueLatencyScenario
{
    public static async Task<int> RunAsync(BenchArgs options, CancellationToken ct)
    {
        var samples = options.Int("samples", 2000);
        var size = options.Int("size", 1024);
        var parkMs = options.Int("park-ms", 5);
        var block = options.Int("block", 100);
        var warmup = options.Int("warmup", 500);
        Console.WriteLine($"# queue-latency: {samples} samples per path of {size} B, pop parked {parkMs} ms before each push, paths alternate every {block}; load average {StoreScenario.LoadAverage()}");

        using var sites = await QueueSites.StartAsync("qlat");
        var payload = UnsafeByteOperations.UnsafeWrap(new byte[size]);
        var paths = new (string Name, Metadata PushHeaders, Client Client)[]
        {
            ($"push at {QueueSites.PartyB} (self)", QueueSites.Headers("lat", QueueSites.PartyB), sites.ClientB),
            ($"push at {QueueSites.PartyA}, relayed to {QueueSites.PartyB}", QueueSites.Headers("lat", QueueSites.PartyB), sites.ClientA),
        };
        var popHeaders = QueueSites.Headers("lat", null);
        var afterAck = paths.Select(_ => new List<double>(samples)).ToArray();
        var pushRtt = paths.Select(_ => new List<double>(samples)).ToArray();
        var early = new int[paths.Length];

        for (var i = 0; i < warmup; i++)
        {
            await SampleAsync(paths[i % 2], sites.ClientB, popHeaders, payload, parkMs: 1, ct);
        }

        var started = Stopwatch.GetTimestamp();
        for (var done = 0; done < samples; done += block)
        {
            for (var p = 0; p < paths.Length; p++)
            {
                for (var i = 0; i < Math.Min(block, samples - done); i++)
                {
                    var (fromAck, rtt) = await SampleAsync(paths[p], sites.ClientB, popHeaders, payload, parkMs, ct);
                    afterAck[p].Add(fromAck);
                    pushRtt[p].Add(rtt);
                    if (fromAck < 0)
                    {
                        early[p]++;
                    }
                }
            }
        }

        var table = new MarkdownTable("path", "samples", "ack to pop p50 ms", "p90 ms", "p99 ms", "p99.9 ms", "max ms", "pop answered before the ack", "push round trip p50 / p99 ms");
        for (var p = 0; p < paths.Length; p++)
        {
            var v = afterAck[p];
            table.Add(paths[p].Name, v.Count.ToString(CultureInfo.InvariantCulture), Stats.F(Stats.Percentile(v, 50), "0.000"), Stats.F(Stats.Percentile(v, 90), "0.000"),
                Stats.F(Stats.Percentile(v, 99), "0.000"), Stats.F(Stats.Percentile(v, 99.9), "0.000"), Stats.F(v.Max(), "0.000"), early[p].ToString(CultureInfo.InvariantCulture),
                $"{Stats.F(Stats.Percentile(pushRtt[p], 50), "0.00")} / {Stats.F(Stats.Percentile(pushRtt[p], 99), "0.00")}");
        }

        table.Print();
        Console.WriteLine($"{Stopwatch.GetElapsedTime(started).TotalSeconds:0} s; load average {StoreScenario.LoadAverage()}. Negative values: the pop's response arrived before the push's ack (both are sent by the same store completion).");
        return 0;
    }

    private static async Task<(double FromAckMs, double PushRttMs)> SampleAsync((string Name, Metadata PushHeaders, Client Client) path, Client popClient,
        Metadata popHeaders, ByteString payload, int parkMs, CancellationToken ct)
    {
        var pop = PopTimedAsync();
        await Task.Delay(parkMs, ct);
        var pushStart = Stopwatch.GetTimestamp();
        await QueueSites.PushAsync(path.Client, path.PushHeaders, "lat", payload, ct);
        var acked = Stopwatch.GetTimestamp();
        var popped = await pop;
        return (Stopwatch.GetElapsedTime(acked, popped).TotalMilliseconds, Stopwatch.GetElapsedTime(pushStart, acked).TotalMilliseconds);

        async Task<long> PopTimedAsync()
        {
            var message = await QueueSites.PopAsync(popClient, popHeaders, "lat", 10_000, ct);
            var at = Stopwatch.GetTimestamp();
            return message is null ? throw new TimeoutException("the parked pop timed out: the push never reached it") : at;
        }
    }
}
