using System.Globalization;
using SiteX.Benchmarks.Infrastructure;

namespace SiteX.Benchmarks.Scenarios.Compare;

/// <summary>
/// The Markdown of the <c>compare</c> scenario: per size, every run and the per-path medians (ratios are medians of the
/// per-round ratios, so a round's load hits both sides of a ratio alike), then the verdict against F1, F2 and F3.
/// </summary>
internal sealed class CompareReport(IReadOnlyList<ComparePath> paths, ReportWriter report)
{
    private const int F1Size = 100;
    private const int F2Size = 1024 * 1024;

    private readonly List<CompareRun> _runs = [];

    public void AddWorkload(int size, int count, int concurrency, IReadOnlyList<CompareRun> runs)
    {
        _runs.AddRange(runs);
        report.Line($"### {CompareRunner.Size(size)}, {count} calls per run, {concurrency} concurrent on one channel");
        var table = new MarkdownTable("round", "load", "path", "calls/s", "p50 us", "p99 us", "p99.9 us", "gateway CPU us/call", "sample CPU us/call", "x direct");
        foreach (var run in runs)
        {
            var direct = runs.Single(r => r.Round == run.Round && r.Path == CompareTopology.Direct);
            table.Add(I(run.Round), run.Load, Label(run.Path), F0(run.CallsPerSecond), F0(run.P50), F0(run.P99), F0(run.P999), Cpu(run.GatewayUs), F0(run.SampleUs),
                Stats.F(run.CallsPerSecond / direct.CallsPerSecond, "0.00"));
        }

        report.Table(table);

        var medians = new MarkdownTable("path", "calls/s", "p50 us", "p99 us", "p99.9 us", "gateway CPU us/call", "sample CPU us/call", "x direct", "sitex / this (calls/s)");
        foreach (var path in paths.Where(p => runs.Any(r => r.Path == p.Name)))
        {
            var mine = runs.Where(r => r.Path == path.Name).ToArray();
            medians.Add($"**{path.Label}**", F0(Median(mine, r => r.CallsPerSecond)), F0(Median(mine, r => r.P50)), F0(Median(mine, r => r.P99)), F0(Median(mine, r => r.P999)),
                Cpu(mine.Any(r => r.GatewayUs is null) ? null : Median(mine, r => r.GatewayUs!.Value)), F0(Median(mine, r => r.SampleUs)),
                Stats.F(Ratio(runs, path.Name, CompareTopology.Direct), "0.00"),
                path.SitexCounterpart is { } sitex && runs.Any(r => r.Path == sitex) ? Stats.F(Ratio(runs, sitex, path.Name), "0.00") : "");
        }

        report.Line($"Medians over {runs.Max(r => r.Round)} rounds ({CompareRunner.Size(size)}):");
        report.Table(medians);
        if (count < 10_000)
        {
            report.Line($"(p99.9 over {count} calls rests on the {Math.Max(1, count / 1000)} slowest: close to the maximum.)");
            report.Line();
        }
    }

    /// <summary>F1, F2 and F3 of shared/design/targets.md, from the medians; a criterion whose paths were not run says so.</summary>
    public void Verdicts()
    {
        var table = new MarkdownTable("target", "criterion", "measured (medians)", "verdict");
        foreach (var sitex in new[] { "sitex", CompareOptions.Variant }.Where(name => name == "sitex" || _runs.Any(r => r.Path == name)))
        {
            ThroughputRow(table, "F1", F1Size, sitex, "nginx", 1.1);
            ThroughputRow(table, "F1", F1Size, sitex, "haproxy", 1.0);
            LowerOrEqualRow(table, "F1", sitex, "gateway CPU per call", r => r.GatewayUs ?? double.NaN, "us");
            LowerOrEqualRow(table, "F1", sitex, "p99", r => r.P99, "us");
            ThroughputRow(table, "F2", F2Size, sitex, "haproxy", 1.0);
        }

        ThroughputRow(table, "F3", F1Size, "sitex2", "nginx2", 1.1);
        ThroughputRow(table, "F3", F2Size, "sitex2", "nginx2", 1.1);
        report.Line("### Against the targets");
        report.Table(table);
    }

    private void ThroughputRow(MarkdownTable table, string target, int size, string sitex, string peer, double needed)
    {
        var runs = _runs.Where(r => r.Size == size).ToArray();
        var criterion = $"{CompareRunner.Size(size)}: {Label(sitex)} calls/s >= {needed:0.0}x {Label(peer)}";
        if (!runs.Any(r => r.Path == sitex) || !runs.Any(r => r.Path == peer))
        {
            table.Add(target, criterion, "not measured", "-");
            return;
        }

        var ratio = Ratio(runs, sitex, peer);
        var measured = $"{ratio:0.00}x ({F0(Median(runs.Where(r => r.Path == sitex).ToArray(), r => r.CallsPerSecond))} vs {F0(Median(runs.Where(r => r.Path == peer).ToArray(), r => r.CallsPerSecond))} calls/s)";
        table.Add(target, criterion, measured, ratio >= needed ? "met" : $"**not met**: needs {needed / ratio - 1:P0} more calls/s");
    }

    private void LowerOrEqualRow(MarkdownTable table, string target, string sitexPath, string what, Func<CompareRun, double> value, string unit)
    {
        var runs = _runs.Where(r => r.Size == F1Size).ToArray();
        var criterion = $"{CompareRunner.Size(F1Size)}: {Label(sitexPath)} {what} <= {Label("haproxy")}'s";
        if (!runs.Any(r => r.Path == sitexPath) || !runs.Any(r => r.Path == "haproxy"))
        {
            table.Add(target, criterion, "not measured", "-");
            return;
        }

        var sitex = Median(runs.Where(r => r.Path == sitexPath).ToArray(), value);
        var haproxy = Median(runs.Where(r => r.Path == "haproxy").ToArray(), value);
        table.Add(target, criterion, $"{F0(sitex)} vs {F0(haproxy)} {unit}", sitex <= haproxy ? "met" : $"**not met** ({sitex / haproxy - 1:P0} over)");
    }

    /// <summary>The median over rounds of <paramref name="numerator"/>'s calls/s divided by <paramref name="denominator"/>'s in the same round.</summary>
    private static double Ratio(IReadOnlyCollection<CompareRun> runs, string numerator, string denominator) =>
        Stats.Median(runs.Where(r => r.Path == numerator)
            .Join(runs.Where(r => r.Path == denominator), r => r.Round, r => r.Round, (n, d) => n.CallsPerSecond / d.CallsPerSecond).ToArray());

    private static double Median(IReadOnlyCollection<CompareRun> runs, Func<CompareRun, double> value) => Stats.Median(runs.Select(value).ToArray());

    private string Label(string name) => paths.FirstOrDefault(p => p.Name == name)?.Label ?? name;

    private static string Cpu(double? us) => us is { } value ? F0(value) : "-";

    private static string F0(double value) => Stats.F(value, "0");

    private static string I(int value) => value.ToString(CultureInfo.InvariantCulture);
}
