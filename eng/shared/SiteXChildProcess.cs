using System.Diagnostics;

namespace SiteX.Shared;

/// <summary>
/// The environment of a <c>sitex</c> child process started by tests and benchmarks: none of the caller's
/// <c>SITEX_*</c> settings leak in, the dotnet host stays quiet, and only the given overrides apply.
/// Compiled into the test and benchmark projects (neither may depend on the other).
/// </summary>
internal static class SiteXChildProcess
{
    public static void PrepareEnvironment(ProcessStartInfo info, IReadOnlyDictionary<string, string>? overrides)
    {
        foreach (var key in info.Environment.Keys.Where(k => k.StartsWith("SITEX_", StringComparison.OrdinalIgnoreCase)).ToList())
        {
            info.Environment.Remove(key);
        }

        info.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        info.Environment["DOTNET_NOLOGO"] = "1";
        foreach (var (key, value) in overrides ?? new Dictionary<string, string>())
        {
            info.Environment[key] = value;
        }
    }
}
