using SiteX.Server.Configuration;

namespace SiteX.Server.Hosting;

/// <summary>
/// With SiteX's own HTTP/2 server, a process runs socket completions on the runtime's socket threads (one per core)
/// instead of handing each one to the thread pool: a forwarded byte then goes from one socket to the other on the
/// thread that read it, as in nginx or haproxy (ADR 0011; docs/benchmarks.md section 15: 16 % less gateway CPU per
/// 1 MiB call).
/// </summary>
/// <remarks>The runtime reads <see cref="Variable"/> once, when the process first uses a socket, so
/// <see cref="EnableFor"/> must run before that: <c>sitex serve</c> calls it before it builds the host. An explicit
/// value in the environment (<c>0</c> or <c>1</c>) is left as it is.</remarks>
internal static class InlineSocketCompletions
{
    public const string Variable = "DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS";

    /// <summary>Whether a process with <paramref name="options"/> should turn inline completions on, given the
    /// variable's current value.</summary>
    public static bool ShouldEnable(SiteXOptions options, string? current) =>
        options.Http2Server == Http2ServerEngine.SiteX && string.IsNullOrEmpty(current);

    /// <summary>Turns inline completions on for this process when <see cref="ShouldEnable"/> says so; true when it did.</summary>
    public static bool EnableFor(SiteXOptions options)
    {
        if (!ShouldEnable(options, Environment.GetEnvironmentVariable(Variable)))
        {
            return false;
        }

        Environment.SetEnvironmentVariable(Variable, "1");
        return true;
    }
}
