using System.Diagnostics;
using System.Runtime.InteropServices;

namespace SiteX.Shared;

/// <summary>
/// The environment of a <c>sitex</c> child process started by tests and benchmarks: none of the caller's
/// <c>SITEX_*</c> settings leak in, the dotnet host stays quiet, and only the given overrides apply.
/// Compiled into the test and benchmark projects (neither may depend on the other).
/// </summary>
internal static partial class SiteXChildProcess
{
    private const int Sigterm = 15;

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

    /// <summary>The dotnet muxer to start a child with: the one <c>dotnet test</c> names in <c>DOTNET_HOST_PATH</c>, else
    /// the one running this process, else <c>dotnet</c> from PATH.</summary>
    public static string DotnetHost()
    {
        var fromSdk = Environment.GetEnvironmentVariable("DOTNET_HOST_PATH");
        if (!string.IsNullOrEmpty(fromSdk) && File.Exists(fromSdk))
        {
            return fromSdk;
        }

        var current = Environment.ProcessPath;
        return current is not null && Path.GetFileNameWithoutExtension(current) == "dotnet" ? current : "dotnet";
    }

    /// <summary>Sends SIGTERM (a graceful stop) to <paramref name="pid"/>; 0 on success, else -1 with the errno in
    /// <see cref="Marshal.GetLastPInvokeError"/>.</summary>
    public static int SendSigterm(int pid) => kill(pid, Sigterm);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int kill(int pid, int signal);
}
