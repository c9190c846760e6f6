using System.CommandLine;
using Microsoft.Extensions.Options;
using SiteX.Server.Configuration;
using SiteX.Server.Hosting;
using SiteX.Server.Routing;

namespace SiteX.Cli.Commands;

/// <summary><c>sitex serve</c>: runs a gateway until SIGTERM or Ctrl+C, then drains in-flight calls.</summary>
internal static class ServeCommand
{
    public static Command Create(TextWriter output, TextWriter error)
    {
        var settings = new ServeSettings();
        var command = new Command("serve", "Run a SiteX gateway. With no options: self party 9999, an empty route table, data under ./data.");
        settings.AddTo(command);
        command.SetAction(async (parse, cancellationToken) =>
        {
            if (await settings.TryBindAsync(parse, error) is not { } options)
            {
                return 2;
            }

            return await RunAsync(options, output, error, cancellationToken);
        });
        return command;
    }

    internal static async Task<int> RunAsync(SiteXOptions options, TextWriter output, TextWriter error, CancellationToken cancellationToken)
    {
        InlineSocketCompletions.EnableFor(options); // before the process's first socket
        SiteXServer server;
        try
        {
            server = SiteXServer.Create(options);
        }
        catch (RouteTableException ex)
        {
            await error.WriteLineAsync($"sitex: cannot start: {ex.Message}");
            return 1;
        }
        catch (SiteX.Server.Security.TlsConfigurationException ex)
        {
            await error.WriteLineAsync($"sitex: cannot start: TLS: {ex.Message}");
            return 1;
        }
        catch (OptionsValidationException ex)
        {
            await error.WriteLineAsync($"sitex: cannot start: invalid settings:{Environment.NewLine}  {string.Join(Environment.NewLine + "  ", ex.Failures)}");
            return 2;
        }

        await using (server)
        {
            try
            {
                await server.StartAsync(cancellationToken);
            }
            catch (Exception ex) when (StartFailure.IsEnvironmental(ex))
            {
                var hint = StartFailure.IsBindFailure(ex)
                    ? $"gRPC port {options.GrpcPort}, admin port {options.AdminPort}, HTTP port {options.HttpPort}{(options.Tls.Enabled ? $", TLS gRPC port {options.Tls.GrpcTlsPort}, HTTPS port {options.Tls.HttpsPort}" : "")}; choose others with --grpc-port/--admin-port/--http-port{(options.Tls.Enabled ? "/--grpc-tls-port/--https-port" : "")}, 0 picks a free port"
                    : $"data directory {Path.GetFullPath(options.DataDir)}; check --data-dir and --access-log name a writable directory";
                await error.WriteLineAsync($"sitex: cannot start: {ex.Message} ({hint})");
                return 1;
            }

            var table = server.Routes.Current;
            await output.WriteLineAsync(
                $"SiteX ready: party {string.Join(",", table.SelfPartyList)}, gRPC on {options.Bind}:{server.GrpcPort}, admin on http://{options.AdminBind}:{server.AdminPort}, route table {table.Source} (version {table.Version}), data in {Path.GetFullPath(options.DataDir)}, HTTP on {options.Bind}:{server.HttpPort}{(options.Tls.Enabled ? $", TLS gRPC on {options.Tls.Bind}:{server.GrpcTlsPort}, HTTPS on {options.Tls.Bind}:{server.HttpsPort}" : "")}");
            await output.FlushAsync(cancellationToken);
            await server.WaitForShutdownAsync(CancellationToken.None);
        }

        return 0;
    }
}
