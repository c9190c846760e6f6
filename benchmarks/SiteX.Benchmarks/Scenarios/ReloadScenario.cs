using System.Diagnostics;
using System.Text.Json;
using SiteX.Benchmarks.Infrastructure;

namespace SiteX.Benchmarks.Scenarios;

/// <summary>
/// <c>reload</c>: one <c>sitex serve</c> with a route table file. N times, a new table (party 10000 to another valid
/// but unreachable address) is written to a temp file and renamed over the watched one; the time to the new version
/// on <c>GET /healthz</c> is measured (targets O2: &lt; 100 ms). Then the same with a 10 000-party table (O3: &lt; 1 s),
/// and the RSS it leaves.
/// </summary>
internal static class ReloadScenario
{
    private static readonly TimeSpan s_pollInterval = TimeSpan.FromMilliseconds(1);
    private static readonly TimeSpan s_reloadTimeout = TimeSpan.FromSeconds(30);

    public static async Task<int> RunAsync(BenchArgs options, CancellationToken ct)
    {
        var runs = options.Int("runs", 50);
        var parties = options.Int("parties", 10_000);
        var bigRuns = options.Int("big-runs", 5);
        Console.WriteLine($"# reload: {runs} small-table reloads, then {bigRuns} reloads of a {parties}-party table; /healthz polled every {s_pollInterval.TotalMilliseconds} ms");

        using var site = await SitexProcess.StartAsync("reload", RouteTables.ToPeer("9999", "10000", 9370, "10.255.0.1"));
        using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{site.AdminPort}") };
        var version = await VersionAsync(http, ct);

        // Small tables: party 10000 to a different unreachable address each time.
        var small = new List<double>();
        for (var i = 1; i <= runs; i++)
        {
            await Task.Delay(50, ct); // let the watcher settle, as edits by a person would be spaced
            var (ms, newVersion) = await ReloadAsync(site, http, RouteTables.ToPeer("9999", "10000", 10_000 + i, "10.255.0.1"), version, ct);
            small.Add(ms);
            version = newVersion;
        }

        var rssBefore = ProcStats.Rss(site.Id);
        var big = new List<double>();
        var texts = Enumerable.Range(0, bigRuns).Select(i => RouteTables.Many(parties, 100 * (i + 1))).ToArray();
        Console.WriteLine($"{parties}-party table: {texts[0].Length / 1024.0:0} KiB of JSON");
        var rssAfterEach = new List<string>();
        foreach (var text in texts)
        {
            await Task.Delay(200, ct);
            var (ms, newVersion) = await ReloadAsync(site, http, text, version, ct);
            big.Add(ms);
            version = newVersion;
            await Task.Delay(800, ct);
            rssAfterEach.Add(Stats.Mib(ProcStats.Rss(site.Id)));
        }

        var (partyCount, _) = await HealthAsync(http, ct);
        await Task.Delay(1000, ct);
        var rssAfter = ProcStats.Rss(site.Id);

        var table = new MarkdownTable("reload", "runs", "min ms", "median ms", "p99 ms", "max ms", "target");
        table.Add("small table (1 party), rename to /healthz version", small.Count.ToString(System.Globalization.CultureInfo.InvariantCulture),
            Stats.F(small.Min()), Stats.F(Stats.Median(small)), Stats.F(Stats.Percentile(small, 99)), Stats.F(small.Max()), "O2 < 100 ms");
        table.Add($"{parties}-party table, rename to /healthz version", big.Count.ToString(System.Globalization.CultureInfo.InvariantCulture),
            Stats.F(big.Min()), Stats.F(Stats.Median(big)), Stats.F(Stats.Percentile(big, 99)), Stats.F(big.Max()), "O3 < 1000 ms");
        table.Print();
        Console.WriteLine($"RSS 0.8 s after each {parties}-party load (MiB): {string.Join(", ", rssAfterEach)}");
        Console.WriteLine($"{parties}-party table loaded ({partyCount} parties on /healthz): RSS {Stats.Mib(rssBefore)} MiB with the 1-party table, {Stats.Mib(rssAfter)} MiB after {bigRuns} loads of the {parties}-party table (growth {Stats.Mib(rssAfter - rssBefore)} MiB)");
        return 0;
    }

    private static async Task<(double Ms, long Version)> ReloadAsync(SitexProcess site, HttpClient http, string json, long oldVersion, CancellationToken ct)
    {
        // The rename is the moment a deployment tool publishes the table; the temp file is written before it.
        var temp = site.RouteTablePath + ".tmp";
        await File.WriteAllTextAsync(temp, json, ct);
        var start = Stopwatch.GetTimestamp();
        File.Move(temp, site.RouteTablePath, overwrite: true);
        while (true)
        {
            var version = await VersionAsync(http, ct);
            if (version != oldVersion)
            {
                return (Stopwatch.GetElapsedTime(start).TotalMilliseconds, version);
            }

            if (Stopwatch.GetElapsedTime(start) > s_reloadTimeout)
            {
                throw new TimeoutException($"the route table version stayed {oldVersion} for {s_reloadTimeout.TotalSeconds} s after the rename; /healthz: {await http.GetStringAsync("/healthz", ct)}");
            }

            await Task.Delay(s_pollInterval, ct);
        }
    }

    private static async Task<long> VersionAsync(HttpClient http, CancellationToken ct) => (await HealthAsync(http, ct)).Version;

    private static async Task<(int Parties, long Version)> HealthAsync(HttpClient http, CancellationToken ct)
    {
        await using var body = await http.GetStreamAsync("/healthz", ct);
        using var health = await JsonDocument.ParseAsync(body, cancellationToken: ct);
        var routeTable = health.RootElement.GetProperty("routeTable");
        return (routeTable.GetProperty("parties").GetInt32(), routeTable.GetProperty("version").GetInt64());
    }
}
