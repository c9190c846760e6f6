using System.Diagnostics;
using System.Globalization;
using RabbitMQ.Client;
using SiteX.Benchmarks.Infrastructure;

namespace SiteX.Benchmarks.Scenarios;

/// <summary>
/// <c>rabbitmq</c> (the Q1 peer): persistent messages with publisher confirms against a RabbitMQ on 127.0.0.1 (start
/// it with <c>benchmarks/rabbitmq/rabbitmq.sh start DIR</c>). N durable queues, one channel and one publish in flight
/// per queue (each publish awaits its confirm), for a fixed time; then the same messages consumed with manual acks.
/// Classic and quorum queues, interleaved. Queues are deleted afterwards.
/// </summary>
internal static class RabbitMqScenario
{
    public static async Task<int> RunAsync(BenchArgs options, CancellationToken ct)
    {
        var queues = options.Int("queues", 16);
        var size = options.Int("size", 1024);
        var seconds = options.Int("seconds", 5);
        var rounds = options.Int("rounds", 3);
        var port = options.Int("port", 5672);
        var types = options.String("types", "classic,quorum").Split(',', StringSplitOptions.RemoveEmptyEntries);
        Console.WriteLine($"# rabbitmq: {queues} durable queues, one persistent publish in flight per queue awaiting its confirm, {size} B, {seconds} s per run, {rounds} rounds, types {string.Join('/', types)}; load average {StoreScenario.LoadAverage()}");

        var factory = new ConnectionFactory { HostName = "127.0.0.1", Port = port };
        await using var connection = await factory.CreateConnectionAsync(ct);
        var payload = new byte[size];
        Random.Shared.NextBytes(payload);
        var table = new MarkdownTable("round", "queue type", "published + confirmed msg/s", "confirm p50 ms", "confirm p99 ms", "consumed (acked) msg/s", "load (1 min)");
        var results = types.ToDictionary(t => t, _ => new List<(double Pub, double P50, double P99, double Cons)>());
        for (var round = 1; round <= rounds; round++)
        {
            foreach (var type in round % 2 == 1 ? types : types.Reverse().ToArray())
            {
                var r = await RunOnceAsync(connection, type, queues, payload, TimeSpan.FromSeconds(seconds), ct);
                results[type].Add(r);
                table.Add(round.ToString(CultureInfo.InvariantCulture), type, Stats.F(r.Pub, "0"), Stats.F(r.P50, "0.00"), Stats.F(r.P99, "0.00"), Stats.F(r.Cons, "0"), StoreScenario.LoadAverage());
                Console.WriteLine($"  round {round} {type}: {r.Pub:0}/s published, p99 {r.P99:0.00} ms, {r.Cons:0}/s consumed");
            }
        }

        foreach (var (type, list) in results)
        {
            table.Add("**median**", type, Stats.F(Stats.Median(list.Select(r => r.Pub).ToArray()), "0"), Stats.F(Stats.Median(list.Select(r => r.P50).ToArray()), "0.00"),
                Stats.F(Stats.Median(list.Select(r => r.P99).ToArray()), "0.00"), Stats.F(Stats.Median(list.Select(r => r.Cons).ToArray()), "0"), "");
        }

        table.Print();
        return 0;
    }

    private static async Task<(double Pub, double P50, double P99, double Cons)> RunOnceAsync(IConnection connection, string type, int queues, byte[] payload, TimeSpan duration, CancellationToken ct)
    {
        var names = Enumerable.Range(0, queues).Select(i => $"sitex-bench-{type}-{i}").ToArray();
        // One CreateChannelOptions per channel: a shared one throws or hangs under load (stack-notes.md).
        var channels = new IChannel[queues];
        for (var i = 0; i < queues; i++)
        {
            channels[i] = await connection.CreateChannelAsync(new CreateChannelOptions(publisherConfirmationsEnabled: true, publisherConfirmationTrackingEnabled: true), ct);
            var arguments = new Dictionary<string, object?> { ["x-queue-type"] = type };
            await channels[i].QueueDeclareAsync(names[i], durable: true, exclusive: false, autoDelete: false, arguments: arguments, cancellationToken: ct);
            await channels[i].QueuePurgeAsync(names[i], ct);
        }

        try
        {
            var properties = new BasicProperties { Persistent = true };
            var latencies = new List<double>[queues];
            var stopAt = Stopwatch.GetTimestamp() + (long)(duration.TotalSeconds * Stopwatch.Frequency);
            var start = Stopwatch.GetTimestamp();
            await Task.WhenAll(Enumerable.Range(0, queues).Select(async i =>
            {
                await Task.Yield();
                var mine = latencies[i] = new List<double>(1 << 15);
                while (Stopwatch.GetTimestamp() < stopAt)
                {
                    var t0 = Stopwatch.GetTimestamp();
                    await channels[i].BasicPublishAsync("", names[i], mandatory: false, properties, payload, ct);
                    mine.Add(Stopwatch.GetElapsedTime(t0).TotalMilliseconds);
                }
            }));
            var pubSeconds = Stopwatch.GetElapsedTime(start).TotalSeconds;
            var all = latencies.SelectMany(l => l).ToArray();

            // Consume what was published, manual ack per message (basic.get: one in flight per queue, like a pop).
            var consumeStart = Stopwatch.GetTimestamp();
            await Task.WhenAll(Enumerable.Range(0, queues).Select(async i =>
            {
                await Task.Yield();
                for (var n = 0; n < latencies[i].Count; n++)
                {
                    var got = await channels[i].BasicGetAsync(names[i], autoAck: false, ct) ?? throw new InvalidOperationException($"{names[i]} is empty after {n} of {latencies[i].Count}");
                    await channels[i].BasicAckAsync(got.DeliveryTag, multiple: false, ct);
                }
            }));
            var consSeconds = Stopwatch.GetElapsedTime(consumeStart).TotalSeconds;
            return (all.Length / pubSeconds, Stats.Percentile(all, 50), Stats.Percentile(all, 99), all.Length / consSeconds);
        }
        finally
        {
            for (var i = 0; i < queues; i++)
            {
                await channels[i].QueueDeleteAsync(names[i], cancellationToken: ct);
                await channels[i].DisposeAsync();
            }
        }
    }
}
