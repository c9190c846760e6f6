using System.Diagnostics;
using System.Globalization;

namespace SiteX.IntegrationTests;

/// <summary>
/// A <c>sitex serve</c> that a test kills with SIGKILL and starts again on the same gRPC port and data directory.
/// The first start takes a free port (<c>--grpc-port 0</c>); later starts reuse it, retrying briefly while it is
/// still taken.
/// </summary>
internal sealed class RestartableGateway(Func<string, IReadOnlyList<string>, SiteXProcess> start, string dataDir, string selfParty, IReadOnlyList<string>? extraArgs = null)
{
    private readonly List<(long Started, long Ended)> _kills = [];

    public int GrpcPort { get; private set; }

    public int AdminPort { get; private set; }

    /// <summary>The gateway's data directory (its queues, and the <c>admin.token</c> it writes at every start).</summary>
    public string DataDir => dataDir;

    /// <summary>The admin API token the current process generated (read from <c>&lt;DataDir&gt;/admin.token</c>).</summary>
    public string AdminToken => File.ReadAllText(Path.Combine(dataDir, "admin.token")).Trim();

    public SiteXProcess Current { get; private set; } = null!;

    /// <summary>Every process started, in order (the first is the initial start).</summary>
    public List<SiteXProcess> Processes { get; } = [];

    public int Kills
    {
        get
        {
            lock (_kills)
            {
                return _kills.Count;
            }
        }
    }

    /// <summary>Each kill as <see cref="Stopwatch"/> timestamps: just before the signal, and once the process was
    /// gone. The killed process may still answer calls in between.</summary>
    public IReadOnlyList<(long Started, long Ended)> KillTimes
    {
        get
        {
            lock (_kills)
            {
                return [.. _kills];
            }
        }
    }

    public async Task StartAsync()
    {
        for (var attempt = 0; ; attempt++)
        {
            var args = new List<string>
            {
                "serve", "--self-party", selfParty, "--bind", "127.0.0.1", "--admin-port", "0", "--http-port", "0",
                "--grpc-port", GrpcPort.ToString(CultureInfo.InvariantCulture), "--data-dir", dataDir,
            };
            args.AddRange(extraArgs ?? []);
            var process = start($"gateway-{Processes.Count}-{attempt}", args);
            try
            {
                var ready = await process.WaitForOutputAsync("SiteX ready");
                (GrpcPort, AdminPort) = SiteXProcess.ParseReadyPorts(ready);
                Current = process;
                Processes.Add(process);
                return;
            }
            catch (InvalidOperationException) when (GrpcPort != 0 && attempt < 50 && process.StandardError.Contains("already in use", StringComparison.Ordinal))
            {
                await Task.Delay(100); // the old socket is not gone yet
            }
        }
    }

    /// <summary>kill -9, then wait until the process is gone.</summary>
    public void Kill()
    {
        var started = Stopwatch.GetTimestamp();
        Current.Kill();
        lock (_kills)
        {
            _kills.Add((started, Stopwatch.GetTimestamp()));
        }
    }

    public async Task KillAndRestartAsync()
    {
        Kill();
        await StartAsync();
    }
}
