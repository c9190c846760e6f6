using SiteX.Benchmarks.Infrastructure;

namespace SiteX.Benchmarks.Scenarios;

/// <summary>
/// <c>startup</c>: <c>sitex serve</c> on embedded defaults (free ports, a temp data directory, no route table), N
/// times: process start to the <c>SiteX ready</c> line (targets O1: &lt; 1 s) and RSS when idle (O4: &lt; 100 MiB).
/// </summary>
internal static class StartupScenario
{
    public static async Task<int> RunAsync(BenchArgs options, CancellationToken ct)
    {
        var runs = options.Int("runs", 10);
        var idleMs = options.Int("idle-ms", 1000);
        Console.WriteLine($"# startup: {runs} runs of `dotnet sitex.dll serve --grpc-port 0 --admin-port 0 --bind 127.0.0.1 --data-dir TMP --self-party 9999`, idle RSS {idleMs} ms after ready");

        var ready = new List<double>();
        var rssAtReady = new List<double>();
        var rssIdle = new List<double>();
        var table = new MarkdownTable("run", "start to ready ms", "RSS at ready MiB", $"RSS {idleMs} ms idle MiB");
        for (var run = 1; run <= runs; run++)
        {
            ct.ThrowIfCancellationRequested();
            using var site = await SitexProcess.StartAsync("startup", routeTable: null);
            var atReady = ProcStats.Rss(site.Id) / (1024.0 * 1024.0);
            await Task.Delay(idleMs, ct);
            var idle = ProcStats.Rss(site.Id) / (1024.0 * 1024.0);
            await site.Process.StopAsync(TimeSpan.FromSeconds(10));
            ready.Add(site.ReadyMs);
            rssAtReady.Add(atReady);
            rssIdle.Add(idle);
            table.Add(run.ToString(System.Globalization.CultureInfo.InvariantCulture), Stats.F(site.ReadyMs, "0"), Stats.F(atReady), Stats.F(idle));
        }

        table.Print();
        var summary = new MarkdownTable("metric", "min", "median", "p90", "max", "target");
        summary.Add("start to ready (ms)", Stats.F(ready.Min(), "0"), Stats.F(Stats.Median(ready), "0"), Stats.F(Stats.Percentile(ready, 90), "0"), Stats.F(ready.Max(), "0"), "O1 < 1000");
        summary.Add("RSS at ready (MiB)", Stats.F(rssAtReady.Min()), Stats.F(Stats.Median(rssAtReady)), Stats.F(Stats.Percentile(rssAtReady, 90)), Stats.F(rssAtReady.Max()), "");
        summary.Add($"RSS idle {idleMs} ms (MiB)", Stats.F(rssIdle.Min()), Stats.F(Stats.Median(rssIdle)), Stats.F(Stats.Percentile(rssIdle, 90)), Stats.F(rssIdle.Max()), "O4 < 100");
        summary.Print();
        return 0;
    }
}
