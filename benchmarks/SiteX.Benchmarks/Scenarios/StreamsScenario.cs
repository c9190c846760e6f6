using System.Diagnostics;
using System.Globalization;
using Google.Protobuf;
using Grpc.Core;
using SiteX.Benchmarks.Infrastructure;
using SiteX.Samples.V1;

namespace SiteX.Benchmarks.Scenarios;

/// <summary>
/// <c>streams</c> (target F5): N concurrent long-lived duplex streams through one gateway (site 9999 with the sample as
/// its local service <c>echo</c>). Every stream opens with one ping-pong, all N stay open for the hold time, then each
/// plays a second ping-pong, ends its side and waits for the sample's end and status OK. Reports how many completed,
/// how long opening took, and the gateway's RSS (sampled every 10 ms, and VmHWM), descriptors and threads while all
/// streams were open, and its CPU time.
/// </summary>
internal static class StreamsScenario
{
    public static async Task<int> RunAsync(BenchArgs options, CancellationToken ct)
    {
        var streams = options.Int("streams", 10_000);
        var holdSeconds = options.Int("hold", 10);
        var payloadBytes = options.Int("payload", 100);
        var opening = options.Int("opening", 256);
        Console.WriteLine($"# streams: {streams} concurrent duplex streams through one gateway, held {holdSeconds} s, {payloadBytes} B messages, at most {opening} opening at once");

        var (sampleProcess, samplePort) = await SampleMode.StartChildAsync("echo@9999");
        using var sample = sampleProcess;
        using var gateway = await SitexProcess.StartAsync("streams", RouteTables.Local("9999", "echo", samplePort));
        using var channel = EchoClients.Channel(gateway.GrpcPort);
        var client = new Echo.EchoClient(channel);
        var headers = EchoClients.Targeting("9999", "echo");
        var request = new EchoRequest { Payload = ByteString.CopyFrom(new byte[payloadBytes]) };

        // Warm up: the channel's first connection and the gateway's connection to the sample, with a few streams.
        for (var i = 0; i < 3; i++)
        {
            var warm = await OpenAsync(client, headers, request, ct);
            await CloseAsync(warm, request);
        }

        await Task.Delay(1000, ct);
        var idleRss = ProcStats.Rss(gateway.Id);
        ProcStats.ResetPeak(gateway.Id);
        var cpuBefore = ProcStats.CpuTime(gateway.Id);
        using var sampler = new RssSampler(gateway.Id);

        // Open: every stream, at most `opening` in flight at once; a stream counts as open after its first echo.
        var calls = new AsyncDuplexStreamingCall<EchoRequest, EchoReply>?[streams];
        var failures = new List<string>();
        var watch = Stopwatch.StartNew();
        using (var gate = new SemaphoreSlim(opening))
        {
            var opens = Enumerable.Range(0, streams).Select(async i =>
            {
                await gate.WaitAsync(ct);
                try
                {
                    calls[i] = await OpenAsync(client, headers, request, ct);
                }
                catch (Exception ex) when (ex is RpcException or InvalidOperationException or IOException)
                {
                    Record(failures, $"open: {ex.Message}");
                }
                finally
                {
                    gate.Release();
                }
            }).ToArray();
            await Task.WhenAll(opens);
        }

        var openSeconds = watch.Elapsed.TotalSeconds;
        var open = calls.Count(c => c is not null);
        Console.WriteLine($"opened {open} of {streams} in {openSeconds:0.0} s; holding {holdSeconds} s");
        await Task.Delay(TimeSpan.FromSeconds(holdSeconds), ct);
        var heldRss = ProcStats.Rss(gateway.Id);
        var descriptors = Directory.GetFiles($"/proc/{gateway.Id}/fd").Length;
        var threads = Directory.GetDirectories($"/proc/{gateway.Id}/task").Length;

        // Close: a second ping-pong on every stream, then its end and status.
        watch.Restart();
        var closes = calls.Where(c => c is not null).Select(async call =>
        {
            try
            {
                await CloseAsync(call!, request);
                return true;
            }
            catch (Exception ex) when (ex is RpcException or InvalidOperationException or IOException)
            {
                Record(failures, $"close: {ex.Message}");
                return false;
            }
        }).ToArray();
        var completed = (await Task.WhenAll(closes)).Count(ok => ok);
        var closeSeconds = watch.Elapsed.TotalSeconds;
        foreach (var call in calls)
        {
            call?.Dispose();
        }

        await Quiescence.WaitAsync([gateway.Id, sample.Id], ct);
        var cpu = ProcStats.CpuTime(gateway.Id) - cpuBefore;
        var peak = Math.Max(sampler.Peak(gateway.Id), ProcStats.Hwm(gateway.Id));
        var afterRss = ProcStats.Rss(gateway.Id);

        var table = new MarkdownTable("streams", "opened", "completed", "failed", "open s", "close s", "gateway RSS idle MiB", "RSS all open MiB", "peak RSS MiB",
            "RSS after MiB", "descriptors all open", "threads all open", "gateway CPU s");
        table.Add(N(streams), N(open),
            N(completed), N(streams - completed),
            Stats.F(openSeconds), Stats.F(closeSeconds), Stats.Mib(idleRss), Stats.Mib(heldRss), Stats.Mib(peak), Stats.Mib(afterRss),
            N(descriptors), N(threads), Stats.F(cpu.TotalSeconds));
        table.Print();
        lock (failures)
        {
            foreach (var failure in failures.GroupBy(f => f).OrderByDescending(g => g.Count()).Take(5))
            {
                Console.WriteLine($"{failure.Count()} x {failure.Key}");
            }
        }

        Console.WriteLine("F5 target: all complete, gateway RSS < 1 GiB");
        return completed == streams ? 0 : 1;
    }

    private static async Task<AsyncDuplexStreamingCall<EchoRequest, EchoReply>> OpenAsync(Echo.EchoClient client, Metadata headers, EchoRequest request, CancellationToken ct)
    {
        var call = client.Duplex(headers, DateTime.UtcNow.AddMinutes(30), ct);
        try
        {
            await PingAsync(call, request, expectedCount: 1);
            return call;
        }
        catch
        {
            call.Dispose();
            throw;
        }
    }

    private static async Task CloseAsync(AsyncDuplexStreamingCall<EchoRequest, EchoReply> call, EchoRequest request)
    {
        await PingAsync(call, request, expectedCount: 2);
        await call.RequestStream.CompleteAsync();
        if (await call.ResponseStream.MoveNext())
        {
            throw new InvalidOperationException("the sample sent a reply after the last request");
        }

        if (call.GetStatus().StatusCode != StatusCode.OK)
        {
            throw new InvalidOperationException($"the stream ended with {call.GetStatus()}");
        }
    }

    private static async Task PingAsync(AsyncDuplexStreamingCall<EchoRequest, EchoReply> call, EchoRequest request, int expectedCount)
    {
        await call.RequestStream.WriteAsync(request);
        if (!await call.ResponseStream.MoveNext())
        {
            throw new InvalidOperationException("the stream ended before the echo");
        }

        var reply = call.ResponseStream.Current;
        if (reply.Count != expectedCount || reply.PayloadLength != request.Payload.Length)
        {
            throw new InvalidOperationException($"echo {reply.Count} of {reply.PayloadLength} B, expected {expectedCount} of {request.Payload.Length} B");
        }
    }

    private static string N(int value) => value.ToString(CultureInfo.InvariantCulture);

    private static void Record(List<string> failures, string failure)
    {
        lock (failures)
        {
            failures.Add(failure);
        }
    }
}
