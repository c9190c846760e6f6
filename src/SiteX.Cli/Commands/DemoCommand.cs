using System.CommandLine;
using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Console;
using Microsoft.Extensions.Options;
using SiteX.Samples;
using SiteX.Server.Configuration;
using SiteX.Server.Hosting;
using SiteX.Server.Routing;

namespace SiteX.Cli.Commands;

/// <summary>
/// <c>sitex demo</c>: the five-minute tour. One process runs the Echo sample and two gateways (site 9999 and site
/// 10000), writes their route tables as real files, sends two calls through both gateways, explains what happened
/// and keeps serving until Ctrl+C or SIGTERM.
/// </summary>
/// <remarks>
/// Start order follows the data: the sample first (its port goes into site 10000's table), then site 10000 (its port
/// goes into site 9999's table), then site 9999. Shutdown runs front to back, so a call in flight drains through
/// every hop before the hop behind it stops.
/// </remarks>
internal static class DemoCommand
{
    public const string PartyA = "9999";
    public const string PartyB = "10000";
    public const string ReadyLine = "SiteX demo ready";

    public static Command Create(TextWriter output, TextWriter error)
    {
        var portA = new Option<int>("--port-a") { Description = "gRPC port of site 9999, where the demo sends its calls; 0 picks a free port", HelpName = "port", DefaultValueFactory = _ => 9370 };
        var portB = new Option<int>("--port-b") { Description = "gRPC port of site 10000; 0 picks a free port", HelpName = "port", DefaultValueFactory = _ => 9371 };
        var adminPortA = new Option<int>("--admin-port-a") { Description = "Admin port (/metrics, /healthz) of site 9999; 0 picks a free port", HelpName = "port", DefaultValueFactory = _ => 0 };
        var adminPortB = new Option<int>("--admin-port-b") { Description = "Admin port of site 10000; 0 picks a free port", HelpName = "port", DefaultValueFactory = _ => 0 };
        var dataDir = new Option<string>("--data-dir") { Description = "Where the route tables and access logs go (one folder per site)", HelpName = "dir", DefaultValueFactory = _ => Path.Combine(".", "data", "demo") };
        var verbose = new Option<bool>("--verbose") { Description = "Also show the gateways' informational logs" };
        var command = new Command("demo", "Start two gateways (site 9999 and site 10000) and an Echo sample service in one process, send calls through them and keep serving until Ctrl+C.")
        {
            portA, portB, adminPortA, adminPortB, dataDir, verbose,
        };
        command.SetAction(async (parse, cancellationToken) =>
        {
            var settings = new DemoSettings
            {
                PortA = parse.GetValue(portA),
                PortB = parse.GetValue(portB),
                AdminPortA = parse.GetValue(adminPortA),
                AdminPortB = parse.GetValue(adminPortB),
                DataDir = parse.GetValue(dataDir)!,
                Verbose = parse.GetValue(verbose),
            };
            return await RunAsync(settings, output, error, cancellationToken);
        });
        return command;
    }

    internal static async Task<int> RunAsync(DemoSettings settings, TextWriter output, TextWriter error, CancellationToken cancellationToken)
    {
        if (settings.Validate() is { } problem)
        {
            await error.WriteLineAsync($"sitex demo: {problem}");
            return 2;
        }

        var dataDir = Path.GetFullPath(settings.DataDir);
        var siteA = new DemoSite(PartyA, Path.Combine(dataDir, "site-" + PartyA), settings.PortA, settings.AdminPortA, "--port-a", "--admin-port-a");
        var siteB = new DemoSite(PartyB, Path.Combine(dataDir, "site-" + PartyB), settings.PortB, settings.AdminPortB, "--port-b", "--admin-port-b");

        // Check the fixed ports up front, so a second demo says at once which ones are taken (not one per attempt).
        var busy = new[] { siteA, siteB }.SelectMany(s => s.RequestedPorts()).Where(p => p.Port != 0 && !IsFree(p.Port)).ToList();
        if (busy.Count > 0)
        {
            foreach (var (port, option, what) in busy)
            {
                await error.WriteLineAsync($"sitex demo: {DemoSite.InUse(port, option, what)}");
            }

            return 1;
        }

        await using var sample = await SampleHost.StartAsync(new SampleHostOptions { Name = $"echo@{PartyB}" }, cancellationToken);
        if (!await TryWriteTableAsync(siteB.TablePath, DemoRouteTables.ForSiteB(PartyB, sample.Port), error, cancellationToken))
        {
            return 1;
        }

        await using var serverB = await StartSiteAsync(siteB, settings.Verbose, error, cancellationToken);
        if (serverB is null)
        {
            return 1;
        }

        if (!await TryWriteTableAsync(siteA.TablePath, DemoRouteTables.ForSiteA(PartyA, PartyB, serverB.GrpcPort), error, cancellationToken))
        {
            return 1;
        }

        await using var serverA = await StartSiteAsync(siteA, settings.Verbose, error, cancellationToken);
        if (serverA is null)
        {
            return 1;
        }

        await using var tour = new DemoTour(siteA, serverA, siteB, serverB, sample, output);
        await tour.PrintLayoutAsync();
        await tour.SendCallsAsync(cancellationToken);
        await tour.PrintNextStepsAsync(CliInvocation());
        await output.WriteLineAsync($"{ReadyLine}. Press Ctrl+C to stop.");
        await output.FlushAsync(cancellationToken);
        tour.ResendOnRouteTableChanges();

        // Each gateway's host turns SIGTERM/SIGINT into ApplicationStopping; nobody stops a host but this method.
        await WhenStoppingAsync(serverA, serverB, cancellationToken);
        await tour.StopAsync();
        await output.WriteLineAsync("Stopping: site 9999, site 10000, then the Echo sample...");
        await output.FlushAsync(CancellationToken.None);
        await serverA.StopAsync(CancellationToken.None);
        await serverB.StopAsync(CancellationToken.None);
        await sample.StopAsync();
        await output.WriteLineAsync("Stopped.");
        return 0;
    }

    private static async Task<bool> TryWriteTableAsync(string path, string json, TextWriter error, CancellationToken cancellationToken)
    {
        try
        {
            await DemoRouteTables.WriteAsync(path, json, cancellationToken);
            return true;
        }
        catch (Exception ex) when (StartFailure.IsEnvironmental(ex))
        {
            await error.WriteLineAsync($"sitex demo: cannot write the route table {path}: {ex.Message} (check --data-dir)");
            return false;
        }
    }

    private static async Task<SiteXServer?> StartSiteAsync(DemoSite site, bool verbose, TextWriter error, CancellationToken cancellationToken)
    {
        var options = new SiteXOptions
        {
            SelfParties = [site.Party],
            RouteTable = site.TablePath,
            Bind = "127.0.0.1",
            GrpcPort = site.GrpcPort,
            AdminBind = "127.0.0.1",
            AdminPort = site.AdminPort,
            HttpPort = 0,
            DataDir = site.DataDir,
            InstanceId = "demo-" + site.Party,
            ShutdownTimeout = TimeSpan.FromSeconds(5),
        };
        SiteXServer server;
        try
        {
            server = SiteXServer.Create(options, logging => ConfigureLogging(logging, verbose));
        }
        catch (Exception ex) when (ex is RouteTableException or OptionsValidationException)
        {
            await error.WriteLineAsync($"sitex demo: cannot start site {site.Party}: {ex.Message}");
            return null;
        }

        try
        {
            await server.StartAsync(cancellationToken);
            return server;
        }
        catch (Exception ex) when (StartFailure.IsEnvironmental(ex))
        {
            await server.DisposeAsync();
            var reason = StartFailure.IsBindFailure(ex) ? site.DescribeBindFailure(ex) : $"cannot start site {site.Party}: {ex.Message} (check --data-dir)";
            await error.WriteLineAsync($"sitex demo: {reason}");
            return null;
        }
    }

    private static void ConfigureLogging(ILoggingBuilder logging, bool verbose)
    {
        logging.SetMinimumLevel(verbose ? LogLevel.Information : LogLevel.Warning);
        if (!verbose)
        {
            // The tour prints every call's outcome itself; a refused connection need not add two stack traces.
            logging.AddFilter("Yarp", LogLevel.Error);
            logging.AddFilter("SiteX.Server.Forwarding", LogLevel.Error);

            // A failed start (a port in use) is explained by the demo in one line, without the host's stack trace.
            logging.AddFilter("Microsoft.Extensions.Hosting", LogLevel.None);
        }

        logging.AddSimpleConsole(console =>
        {
            console.SingleLine = true;
            console.TimestampFormat = "HH:mm:ss ";
        });

        // The tour owns standard output; the gateways' own logs (a rejected route table edit, say) go to stderr.
        logging.Services.Configure<ConsoleLoggerOptions>(console => console.LogToStandardErrorThreshold = LogLevel.Trace);
    }

    private static async Task WhenStoppingAsync(SiteXServer serverA, SiteXServer serverB, CancellationToken cancellationToken)
    {
        var stopping = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using var a = serverA.Services.GetRequiredService<IHostApplicationLifetime>().ApplicationStopping.Register(() => stopping.TrySetResult());
        using var b = serverB.Services.GetRequiredService<IHostApplicationLifetime>().ApplicationStopping.Register(() => stopping.TrySetResult());
        using var c = cancellationToken.Register(() => stopping.TrySetResult());
        await stopping.Task;
    }

    private static bool IsFree(int port)
    {
        try
        {
            using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            socket.Bind(new IPEndPoint(IPAddress.Loopback, port));
            socket.Listen();
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }

    /// <summary>How the user ran this command, so printed commands can be pasted as they are.</summary>
    private static string CliInvocation()
    {
        var process = Environment.ProcessPath ?? "sitex";
        var name = Path.GetFileNameWithoutExtension(process);
        return name == "dotnet" ? $"dotnet {Path.Combine(AppContext.BaseDirectory, "sitex.dll")}" : process;
    }
}
