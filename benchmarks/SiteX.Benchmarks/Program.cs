using SiteX.Benchmarks.Infrastructure;
using SiteX.Benchmarks.Scenarios;

namespace SiteX.Benchmarks;

/// <summary>
/// <c>dotnet run -c Release --project benchmarks/SiteX.Benchmarks -- &lt;scenario&gt; [options]</c>. Every scenario runs
/// on 127.0.0.1 only, starts the processes it needs, stops them, and ends by itself within its bounds.
/// </summary>
internal static class Program
{
    private const string Usage = """
        usage: SiteX.Benchmarks <scenario> [options]
          large-message  [--size-mib 256] [--chunk-mib 1] [--runs 3] [--no-stream]  two sitex processes + sample, RSS per gateway, MB/s vs direct
          http-large     [--size-mib 1024] [--runs 3] [--peer grpc,http] [--chunked]  plain HTTP body up and down through two sitex processes to a sink
          startup        [--runs 10] [--idle-ms 1000]                                 sitex serve start to ready, idle RSS
          reload         [--runs 50] [--parties 10000] [--big-runs 5]                 route table rename to /healthz version change
          unary          [--concurrency 16] [--count 20000] [--payload 100] [--rounds 3] [--warmup 150000] [--no-pin] [--variant-env KEY=VALUE,...] [--variant-dll PATH/sitex.dll] [--raw-sample]
          compare        [--sizes 100,1048576] [--counts 20000,800] [--rounds 5] [--concurrency 16] [--warmup 150000] [--peer-warmup 10000]
                         [--paths direct,sitex,nginx,haproxy,sitex2,nginx2] (or +haproxy2) [--access-log on|off] [--length-only] [--quick] [--no-pin] [--out FILE]
                         [--variant-env KEY=VALUE,...] [--variant-dll PATH/sitex.dll]  adds path sitexv: a second one-hop sitex with that
                         environment and/or another build's sitex.dll, beside sitex
                         direct vs sitex vs nginx vs haproxy, one and two hops (targets F1-F3; peers: bash benchmarks/peers/install.sh)
          streams        [--streams 10000] [--hold 10] [--payload 100] [--opening 256]  concurrent long-lived duplex streams through one gateway, RSS (target F5)
          store          [--appenders 16] [--seconds 3] [--rounds 3] [--sizes 1024,1048576] [--durability Fsync] [--preallocation ZeroFill,Off] [--dir /tmp]
          queue-throughput [--size 1024] [--count 32000] [--topics 16] [--rounds 3] [--warmup 8000] [--pop-timeout-ms 5000] [--settle-seconds 0]
          queue-latency  [--samples 2000] [--size 1024] [--park-ms 5] [--block 100] [--warmup 500]
          rabbitmq       [--queues 16] [--size 1024] [--seconds 5] [--rounds 3] [--types classic,quorum] [--port 5672]   (start it: benchmarks/rabbitmq/rabbitmq.sh start DIR)
          every scenario: [--gateway-env KEY=VALUE[,KEY=VALUE]]  extra environment of each sitex process, e.g. DOTNET_gcServer=0
          sample         [--name echo] [--raw]                                        (internal) runs the Echo sample (--raw: Kestrel alone), prints its port
          http-sink                                                                   (internal) runs the HTTP sink of http-large, prints its port
        """;

    public static async Task<int> Main(string[] args)
    {
        if (args.Length == 0 || args[0] is "-h" or "--help")
        {
            Console.WriteLine(Usage);
            return args.Length == 0 ? 2 : 0;
        }

        var options = BenchArgs.Parse(args.AsSpan(1));
        foreach (var (key, value) in options.Environment("gateway-env"))
        {
            SitexProcess.Environment[key] = value;
        }

        if (args[0] is not ("sample" or "http-sink") && !IsRelease())
        {
            await Console.Error.WriteLineAsync("SiteX.Benchmarks: built in Debug; numbers would be meaningless. Run with -c Release.");
            return 2;
        }

        using var stop = new CancellationTokenSource();
        Console.CancelKeyPress += (_, e) =>
        {
            e.Cancel = true;
            stop.Cancel();
        };

        return args[0] switch
        {
            "sample" => await SampleMode.RunAsync(options),
            "http-sink" => await HttpSinkMode.RunAsync(),
            "large-message" => await LargeMessageScenario.RunAsync(options, stop.Token),
            "http-large" => await HttpLargeScenario.RunAsync(options, stop.Token),
            "startup" => await StartupScenario.RunAsync(options, stop.Token),
            "reload" => await ReloadScenario.RunAsync(options, stop.Token),
            "unary" => await UnaryScenario.RunAsync(options, stop.Token),
            "compare" => await CompareScenario.RunAsync(options, stop.Token),
            "streams" => await StreamsScenario.RunAsync(options, stop.Token),
            "store" => await StoreScenario.RunAsync(options, stop.Token),
            "queue-throughput" => await QueueThroughputScenario.RunAsync(options, stop.Token),
            "queue-latency" => await QueueLatencyScenario.RunAsync(options, stop.Token),
            "rabbitmq" => await RabbitMqScenario.RunAsync(options, stop.Token),
            _ => Unknown(args[0]),
        };
    }

    private static int Unknown(string scenario)
    {
        Console.Error.WriteLine($"SiteX.Benchmarks: unknown scenario \"{scenario}\"{Environment.NewLine}{Usage}");
        return 2;
    }

    private static bool IsRelease()
    {
#if DEBUG
        return false;
#else
        return true;
#endif
    }
}
