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
using SiteX.Server.Security;

namespace SiteX.Cli.Commands;

/// <summary>
/// <c>sitex demo</c>: the five-minute tour. One process runs the Echo sample and two gateways (site 9999 and site
/// 10000) that call each other over mutual TLS: it makes (or reuses) a demo CA and a certificate per site, writes
/// their route tables as real files, sends two calls through both gateways and one without a client certificate that
/// site 10000 refuses, explains what happened and keeps serving until Ctrl+C or SIGTERM.
/// </summary>
/// <remarks>
/// Start order follows the data: the certificates first (every site and site 9999's route use them), then the sample
/// (its port goes into site 10000's table), then site 10000 (its TLS port goes into site 9999's table), then site 9999.
/// Shutdown runs front to back, so a call in flight drains through every hop before the hop behind it stops. The
/// demo's client and site 10000's call to the sample use the plain intra-site ports; only gateway to gateway is TLS.
/// </remarks>
internal static class DemoCommand
{
    public const string PartyA = "9999";
    public const string PartyB = "10000";
    public const string ReadyLine = "SiteX demo ready";

    public static Command Create(TextWriter output, TextWriter error)
    {
        var defaults = new DemoSettings();
        var grpcPortA = PortOption(defaults.PortsA.Grpc, "Plain gRPC port of site 9999, where the demo sends its calls");
        var grpcTlsPortA = PortOption(defaults.PortsA.GrpcTls, "TLS gRPC port of site 9999 (client certificates required)");
        var adminPortA = PortOption(defaults.PortsA.Admin, "Admin port (/metrics, /healthz) of site 9999");
        var grpcPortB = PortOption(defaults.PortsB.Grpc, "Plain gRPC port of site 10000");
        var grpcTlsPortB = PortOption(defaults.PortsB.GrpcTls, "TLS gRPC port of site 10000, where site 9999's route to party 10000 leads (client certificates required)");
        var adminPortB = PortOption(defaults.PortsB.Admin, "Admin port of site 10000");
        var dataDir = new Option<string>("--data-dir") { Description = "Where the certificates (tls/), route tables and access logs (one folder per site) go", HelpName = "dir", DefaultValueFactory = _ => Path.Combine(".", "data", "demo") };
        var verbose = new Option<bool>("--verbose") { Description = "Also show the gateways' informational logs" };
        var command = new Command("demo", "Start two gateways (site 9999 and site 10000) that call each other over mutual TLS and an Echo sample service in one process, send calls through them and keep serving until Ctrl+C.")
        {
            grpcPortA, grpcTlsPortA, adminPortA, grpcPortB, grpcTlsPortB, adminPortB, dataDir, verbose,
        };
        command.SetAction(async (parse, cancellationToken) =>
        {
            var settings = new DemoSettings
            {
                GrpcPortA = parse.GetValue(grpcPortA),
                GrpcTlsPortA = parse.GetValue(grpcTlsPortA),
                AdminPortA = parse.GetValue(adminPortA),
                GrpcPortB = parse.GetValue(grpcPortB),
                GrpcTlsPortB = parse.GetValue(grpcTlsPortB),
                AdminPortB = parse.GetValue(adminPortB),
                DataDir = parse.GetValue(dataDir)!,
                Verbose = parse.GetValue(verbose),
            };
            return await RunAsync(settings, output, error, cancellationToken);
        });
        return command;
    }

    private static Option<int> PortOption(DemoPort port, string description) =>
        new(port.Option) { Description = $"{description}; 0 picks a free port", HelpName = "port", DefaultValueFactory = _ => port.Port };

    internal static async Task<int> RunAsync(DemoSettings settings, TextWriter output, TextWriter error, CancellationToken cancellationToken)
    {
        if (settings.Validate() is { } problem)
        {
            await error.WriteLineAsync($"sitex demo: {problem}");
            return 2;
        }

        var dataDir = Path.GetFullPath(settings.DataDir);
        var siteA = new DemoSite(PartyA, Path.Combine(dataDir, "site-" + PartyA), settings.PortsA);
        var siteB = new DemoSite(PartyB, Path.Combine(dataDir, "site-" + PartyB), settings.PortsB);

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

        var certificates = await DemoCertificates.EnsureAsync(Path.Combine(dataDir, "tls"), [PartyA, PartyB], error);
        if (certificates is null)
        {
            return 1;
        }

        await using var sample = await SampleHost.StartAsync(new SampleHostOptions { Name = $"echo@{PartyB}" }, cancellationToken);
        if (!await TryWriteTableAsync(siteB.TablePath, DemoRouteTables.ForSiteB(PartyB, sample.Port), error, cancellationToken))
        {
            return 1;
        }

        await using var serverB = await StartSiteAsync(siteB, certificates, settings.Verbose, error, cancellationToken);
        if (serverB is null)
        {
            return 1;
        }

        if (!await TryWriteTableAsync(siteA.TablePath, DemoRouteTables.ForSiteA(PartyA, PartyB, serverB.GrpcTlsPort, certificates), error, cancellationToken))
        {
            return 1;
        }

        await using var serverA = await StartSiteAsync(siteA, certificates, settings.Verbose, error, cancellationToken);
        if (serverA is null)
        {
            return 1;
        }

        await using var tour = new DemoTour(siteA, serverA, siteB, serverB, sample, certificates, output);
        await tour.PrintLayoutAsync();
        await tour.SendCallsAsync(cancellationToken);
        await tour.SendWithoutCertificateAsync(cancellationToken);
        await tour.PrintNextStepsAsync(CliInvocation());
        await output.WriteLineAsync($"{ReadyLine}. Press Ctrl+C to stop.");
        await output.FlushAsync(cancellationToken);
        tour.Watch();

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

    private static async Task<SiteXServer?> StartSiteAsync(DemoSite site, DemoCertificates certificates, bool verbose, TextWriter error, CancellationToken cancellationToken)
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
            Tls = new TlsOptions
            {
                Bind = "127.0.0.1",
                GrpcTlsPort = site.GrpcTlsPort,
                HttpsPort = 0,
                CertFile = certificates.CertificateFile(site.Party),
                KeyFile = certificates.KeyFile(site.Party),
                CaFile = certificates.CaFile,
                ClientCertificate = ClientCertificateRequirement.Required,
            },
            DataDir = site.DataDir,
            InstanceId = "demo-" + site.Party,
            ShutdownTimeout = TimeSpan.FromSeconds(5),
        };
        SiteXServer server;
        try
        {
            server = SiteXServer.Create(options, logging => ConfigureLogging(logging, site.Handshakes, verbose));
        }
        catch (Exception ex) when (ex is RouteTableException or OptionsValidationException or TlsConfigurationException)
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

    private static void ConfigureLogging(ILoggingBuilder logging, DemoHandshakeLog handshakes, bool verbose)
    {
        logging.SetMinimumLevel(verbose ? LogLevel.Information : LogLevel.Warning);

        // The tour shows what the TLS ports say about each client (the proven party is a debug event).
        logging.AddProvider(handshakes);
        logging.AddFilter<DemoHandshakeLog>(DemoHandshakeLog.Category, LogLevel.Debug);
        if (!verbose)
        {
            // The tour prints every call's outcome itself; a refused connection need not add two stack traces.
            logging.AddFilter("Yarp", LogLevel.Error);
            logging.AddFilter("SiteX.Server.Forwarding", LogLevel.Error);

            // Nor a refused client certificate: the tour prints the site's message.
            logging.AddFilter<ConsoleLoggerProvider>(DemoHandshakeLog.Category, LogLevel.None);

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
