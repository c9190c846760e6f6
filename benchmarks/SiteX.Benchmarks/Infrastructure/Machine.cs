using System.Globalization;
using System.Runtime.InteropServices;

namespace SiteX.Benchmarks.Infrastructure;

/// <summary>What a result depends on besides the code: the machine, and how busy it is (others share it).</summary>
internal static class Machine
{
    /// <summary>The 1-, 5- and 15-minute load averages, as in <c>/proc/loadavg</c>.</summary>
    public static string LoadAverages() => string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ').Take(3));

    /// <summary>The 1-minute load average.</summary>
    public static string Load1() => File.ReadAllText("/proc/loadavg").Split(' ')[0];

    /// <summary>CPU count and model, OS, kernel and .NET runtime, on one line.</summary>
    public static string Describe()
    {
        var model = File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal))?.Split(':', 2)[1].Trim() ?? "unknown CPU";
        return string.Create(CultureInfo.InvariantCulture,
            $"{Environment.ProcessorCount} CPUs ({model}), {RuntimeInformation.OSDescription}, kernel {File.ReadAllText("/proc/sys/kernel/osrelease").Trim()}, .NET {Environment.Version}");
    }

    /// <summary>The current time, UTC, to the second.</summary>
    public static string Now() => DateTime.UtcNow.ToString("yyyy-MM-dd HH:mm:ss 'UTC'", CultureInfo.InvariantCulture);
}
