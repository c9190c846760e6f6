using System.Globalization;
using SiteX.Benchmarks.Infrastructure;

namespace SiteX.Benchmarks.Scenarios.Compare;

/// <summary>
/// The options of the <c>compare</c> scenario. The defaults run F1, F2 and F3 (100 B and 1 MiB, every path, 5 rounds)
/// in about 10 minutes on a 2-core machine; <c>--quick</c> is a smoke run of a minute or two whose CPU per call is
/// still inflated by JIT warm-up.
/// </summary>
internal sealed record CompareOptions(
    int Concurrency,
    IReadOnlyList<(int Size, int Count)> Workloads,
    int Rounds,
    int Warmup,
    int PeerWarmup,
    IReadOnlyList<string> Paths,
    bool Pin,
    bool AccessLog,
    bool LengthOnly,
    string? Out,
    bool Quick,
    IReadOnlyDictionary<string, string> VariantEnvironment,
    string? VariantDll)
{
    /// <summary>The one-hop path of a second SiteX gateway with <see cref="VariantEnvironment"/> (<c>--variant-env</c>),
    /// running <see cref="VariantDll"/> when given (<c>--variant-dll</c>: another build's <c>sitex.dll</c>).</summary>
    public const string Variant = "sitexv";

    /// <summary>Every path the scenario knows, in its default order.</summary>
    public static readonly IReadOnlyList<string> AllPaths = [CompareTopology.Direct, "sitex", Variant, "nginx", "haproxy", "sitex2", "nginx2", "haproxy2"];

    public static CompareOptions Parse(BenchArgs args)
    {
        var quick = args.Flag("quick");
        var sizes = Ints(args.String("sizes", "100,1048576"));
        var counts = Ints(args.String("counts", quick ? "5000,150" : "20000,800"));
        if (counts.Length != sizes.Length)
        {
            throw new ArgumentException($"--counts needs one count per size ({sizes.Length}), got {counts.Length}");
        }

        var paths = args.String("paths", "direct,sitex,nginx,haproxy,sitex2,nginx2").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        var variant = args.Environment("variant-env");
        var variantDll = args.Flag("variant-dll") ? Path.GetFullPath(args.String("variant-dll", "")) : null;
        if (variantDll is not null && !File.Exists(variantDll))
        {
            throw new ArgumentException($"--variant-dll: {variantDll} does not exist (the sitex.dll of another build, e.g. src/SiteX.Cli/bin/Release/net10.0/sitex.dll in a worktree)");
        }

        var hasVariant = variant.Count > 0 || variantDll is not null;
        if (hasVariant && !paths.Contains(Variant))
        {
            // Next to the default gateway, so that every round measures the two side by side.
            var at = Array.IndexOf(paths, "sitex");
            paths = [.. paths[..(at + 1)], Variant, .. paths[(at + 1)..]];
        }
        var unknown = paths.Except(AllPaths).ToArray();
        if (paths.Contains(Variant) && !hasVariant)
        {
            throw new ArgumentException($"--paths: {Variant} is the gateway of --variant-env KEY=VALUE[,KEY=VALUE] or --variant-dll PATH, both missing");
        }

        if (unknown.Length > 0 || !paths.Contains(CompareTopology.Direct))
        {
            throw new ArgumentException($"--paths: {(unknown.Length > 0 ? "unknown " + string.Join(',', unknown) : "direct is required (the baseline)")}; known: {string.Join(',', AllPaths)}");
        }

        var accessLog = args.String("access-log", "on");
        if (accessLog is not ("on" or "off"))
        {
            throw new ArgumentException("--access-log is on or off");
        }

        return new CompareOptions(
            args.Int("concurrency", 16),
            sizes.Zip(counts).ToArray(),
            args.Int("rounds", quick ? 2 : 5),
            args.Int("warmup", quick ? 20_000 : 150_000),
            args.Int("peer-warmup", quick ? 2_000 : 10_000),
            paths,
            !args.Flag("no-pin"),
            accessLog == "on",
            args.Flag("length-only"),
            args.Flag("out") ? args.String("out", "") : null,
            quick,
            variant,
            variantDll);
    }

    private static int[] Ints(string list) =>
        list.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(x => int.Parse(x, CultureInfo.InvariantCulture)).ToArray();
}
