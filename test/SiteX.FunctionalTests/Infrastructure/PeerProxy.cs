using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace SiteX.FunctionalTests.Infrastructure;

/// <summary>
/// A real nginx (<c>grpc_pass</c>) or haproxy (HTTP/2 both sides) between a gateway and a service, as the benchmark
/// runs them: <c>benchmarks/peers/{nginx,haproxy}.sh run</c> with its config in a scratch directory, on 127.0.0.1, in
/// the foreground (the script execs the proxy, so this process owns it). Disposing stops it.
/// </summary>
/// <remarks>CI installs both (<c>.ci/run</c> calls <c>benchmarks/peers/install.sh</c>); elsewhere a test that needs one
/// is skipped with the install command when it is missing (<see cref="SkipUnlessInstalled"/>).</remarks>
internal sealed class PeerProxy : IAsyncDisposable
{
    private readonly Process _process;

    private PeerProxy(Process process, int port, string name)
    {
        _process = process;
        Port = port;
        Name = name;
    }

    public string Name { get; }

    public int Port { get; }

    public static string Binary(string name) => name switch
    {
        "nginx" => "/usr/sbin/nginx",
        "haproxy" => "/usr/sbin/haproxy",
        _ => throw new ArgumentOutOfRangeException(nameof(name), name, "nginx or haproxy"),
    };

    /// <summary>Skips the test when <paramref name="name"/> is not installed, except in CI, where it must be.</summary>
    public static void SkipUnlessInstalled(string name)
    {
        var missing = !File.Exists(Binary(name));
        Assert.False(missing && Environment.GetEnvironmentVariable("CI") == "true", $"{Binary(name)} is missing on a CI machine: .ci/run installs it");
        Skip.If(missing, $"{name} is not installed (sudo bash benchmarks/peers/install.sh)");
    }

    /// <summary>Starts <paramref name="name"/> on a free loopback port, proxying to 127.0.0.1:<paramref name="upstreamPort"/>;
    /// returns once it accepts connections.</summary>
    public static async Task<PeerProxy> StartAsync(string name, int upstreamPort, string directory)
    {
        var script = Path.Combine(RepositoryRoot(), "benchmarks", "peers", name + ".sh");
        Exception? last = null;
        for (var attempt = 0; attempt < 3; attempt++)
        {
            // The proxy binds the port itself: take a free one from the kernel and hand it over (a port taken by someone
            // else in between fails the start, and the next attempt takes another).
            var port = FreePort();
            var start = new ProcessStartInfo("bash") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
            foreach (var argument in new[] { script, "run", Path.Combine(directory, $"{name}-{attempt}"), I(port), I(upstreamPort), "off" })
            {
                start.ArgumentList.Add(argument);
            }

            var process = Process.Start(start)!;
            var proxy = new PeerProxy(process, port, name);
            var stderr = process.StandardError.ReadToEndAsync();
            _ = process.StandardOutput.ReadToEndAsync();
            try
            {
                await WaitUntilListeningAsync(process, port).DefaultTimeout();
                return proxy;
            }
            catch (Exception e)
            {
                await proxy.DisposeAsync();
                last = new InvalidOperationException($"{name} did not start on 127.0.0.1:{port}: {await stderr.DefaultTimeout()}", e);
            }
        }

        throw last!;
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            // SIGTERM: nginx and haproxy stop at once (fast shutdown); the script's exec made the proxy this child.
            Process.Start("kill", ["-TERM", I(_process.Id)])?.WaitForExit();
            using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            try
            {
                await _process.WaitForExitAsync(stop.Token);
            }
            catch (OperationCanceledException)
            {
                _process.Kill(entireProcessTree: true);
            }
        }

        _process.Dispose();
    }

    private static async Task WaitUntilListeningAsync(Process process, int port)
    {
        while (true)
        {
            if (process.HasExited)
            {
                throw new InvalidOperationException($"the proxy exited with {process.ExitCode}");
            }

            try
            {
                using var probe = new TcpClient();
                await probe.ConnectAsync(IPAddress.Loopback, port);
                return;
            }
            catch (SocketException)
            {
                await Task.Delay(50);
            }
        }
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private static string RepositoryRoot()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            if (File.Exists(Path.Combine(directory.FullName, "SiteX.slnx")))
            {
                return directory.FullName;
            }
        }

        throw new InvalidOperationException($"no SiteX.slnx above {AppContext.BaseDirectory}");
    }

    private static string I(int value) => value.ToString(CultureInfo.InvariantCulture);
}
