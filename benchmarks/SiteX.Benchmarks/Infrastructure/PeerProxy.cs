using System.Diagnostics;
using System.Globalization;
using System.Net.Sockets;

namespace SiteX.Benchmarks.Infrastructure;

/// <summary>The reverse proxies SiteX is compared with, each run by its script in <c>benchmarks/peers</c>.</summary>
internal enum PeerKind
{
    Nginx,
    Haproxy,
}

/// <summary>
/// A running nginx or haproxy from <c>benchmarks/peers/{nginx,haproxy}.sh run</c>: the script writes the config into
/// a scratch directory and execs the proxy in the foreground, so the child's process id is the proxy's (nginx: the
/// master; its worker is a child). It listens (h2c) on a free 127.0.0.1 port and forwards to one upstream port.
/// Dispose stops it (SIGTERM, then a kill of the tree) and removes the directory.
/// </summary>
internal sealed class PeerProxy : IDisposable
{
    private static readonly TimeSpan s_startTimeout = TimeSpan.FromSeconds(10);

    private PeerProxy(PeerKind kind, ChildProcess process, string directory, int port)
    {
        Kind = kind;
        Process = process;
        Directory = directory;
        Port = port;
    }

    public PeerKind Kind { get; }

    public ChildProcess Process { get; }

    /// <summary>The scratch directory with the config, logs and temp files.</summary>
    public string Directory { get; }

    public int Port { get; }

    public int Id => Process.Id;

    /// <summary>CPU time of the proxy and its workers.</summary>
    public TimeSpan CpuTime() => ProcStats.TreeCpuTime(Id);

    public static string Name(PeerKind kind) => kind.ToString().ToLowerInvariant();

    /// <summary>The installed proxy binary, or null with the reason and the way to install it.</summary>
    public static string? Missing(PeerKind kind)
    {
        if (ExecutablePath.Find(Name(kind)) is null)
        {
            return $"{Name(kind)} is not installed; install both peers with `bash benchmarks/peers/install.sh` (as root: apt-get install nginx haproxy)";
        }

        return File.Exists(Script(kind)) ? null : $"{Script(kind)} is missing (the build copies benchmarks/peers/*.sh next to the benchmarks)";
    }

    /// <summary>The first line of <c>nginx -v</c> / <c>haproxy -v</c>.</summary>
    public static string Version(PeerKind kind)
    {
        using var process = System.Diagnostics.Process.Start(new ProcessStartInfo(ExecutablePath.Find(Name(kind)) ?? Name(kind), "-v")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        })!;
        var text = process.StandardOutput.ReadToEnd() + process.StandardError.ReadToEnd();
        process.WaitForExit();
        return text.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).FirstOrDefault() ?? "unknown version";
    }

    /// <summary>Starts the proxy forwarding to 127.0.0.1:<paramref name="upstreamPort"/>, pinned to <paramref name="cpu"/>
    /// when given, and waits until its port accepts connections. A port taken in between is retried with another.</summary>
    public static async Task<PeerProxy> StartAsync(PeerKind kind, int upstreamPort, int? cpu, bool accessLog, CancellationToken ct)
    {
        var failures = "";
        for (var attempt = 1; attempt <= 3; attempt++)
        {
            var directory = System.IO.Directory.CreateTempSubdirectory($"sitex-bench-{Name(kind)}-").FullName;
            var port = FreePort.Next();
            var process = ChildProcess.Start("bash",
                [Script(kind), "run", directory, port.ToString(CultureInfo.InvariantCulture), upstreamPort.ToString(CultureInfo.InvariantCulture), accessLog ? "on" : "off"],
                cpu, directory, name: Path.GetFileName(Script(kind)));
            var proxy = new PeerProxy(kind, process, directory, port);
            var started = false;
            try
            {
                started = await AcceptsAsync(proxy, ct);
                if (!started)
                {
                    failures += $"attempt {attempt}: {process.Description}{Environment.NewLine}{process.Output}{proxy.ErrorLog()}";
                }
            }
            finally
            {
                if (!started)
                {
                    proxy.Dispose();
                }
            }

            if (started)
            {
                return proxy;
            }
        }

        throw new InvalidOperationException($"{Name(kind)} did not start within {s_startTimeout.TotalSeconds} s:{Environment.NewLine}{failures}");
    }

    public void Dispose()
    {
        Process.Dispose();
        try
        {
            System.IO.Directory.Delete(Directory, recursive: true);
        }
        catch (IOException)
        {
            // Best effort: a scratch directory under /tmp.
        }
        catch (UnauthorizedAccessException)
        {
            // A worker that dropped privileges created files there; still best effort.
        }
    }

    private static string Script(PeerKind kind) => Path.Combine(AppContext.BaseDirectory, "peers", Name(kind) + ".sh");

    /// <summary>True once the port accepts a connection; false if the proxy exited (e.g. the port was taken) or timed out.</summary>
    private static async Task<bool> AcceptsAsync(PeerProxy proxy, CancellationToken ct)
    {
        var deadline = Stopwatch.GetTimestamp() + (long)(Stopwatch.Frequency * s_startTimeout.TotalSeconds);
        while (Stopwatch.GetTimestamp() < deadline && !proxy.Process.HasExited)
        {
            try
            {
                using var probe = new TcpClient();
                await probe.ConnectAsync("127.0.0.1", proxy.Port, ct);
                return true;
            }
            catch (SocketException)
            {
                await Task.Delay(50, ct);
            }
        }

        return false;
    }

    private string ErrorLog()
    {
        var path = Path.Combine(Directory, Kind == PeerKind.Nginx ? "error.log" : "access.log");
        return File.Exists(path) ? File.ReadAllText(path) : "";
    }
}
