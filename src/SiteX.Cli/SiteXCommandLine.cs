using System.CommandLine;
using SiteX.Cli.Commands;

namespace SiteX.Cli;

/// <summary>Builds the <c>sitex</c> root command. Output writers are injected so tests can capture them.</summary>
internal static class SiteXCommandLine
{
    /// <param name="adminHandler">Sends the admin API requests of <c>sitex queues</c>; null for a real socket handler.</param>
    public static RootCommand Build(TextWriter output, TextWriter error, HttpMessageHandler? adminHandler = null)
    {
        var root = new RootCommand("SiteX: a cross-site service exchange for federated learning, wire-compatible with FATE's OSX.");
        root.Subcommands.Add(ServeCommand.Create(output, error));
        root.Subcommands.Add(RoutesCommand.Create(output, error));
        root.Subcommands.Add(QueuesCommand.Create(output, error, adminHandler));
        root.Subcommands.Add(DemoCommand.Create(output, error));
        root.Subcommands.Add(CertsCommand.Create(output, error));
        root.Subcommands.Add(CheckCommand.Create(output, error));
        return root;
    }

    /// <summary>Parses and runs <paramref name="args"/> the way the <c>sitex</c> executable does.</summary>
    /// <remarks>
    /// SIGTERM and Ctrl+C belong to the gateway hosts: they stop accepting calls and drain those in flight for up to
    /// <c>ShutdownTimeout</c> (30 s by default). System.CommandLine's own handler is switched off
    /// (<c>ProcessTerminationTimeout = null</c>): it would return exit code 143 or 130 two seconds after the signal,
    /// ending the process with calls still draining.
    /// </remarks>
    public static Task<int> InvokeAsync(string[] args, TextWriter output, TextWriter error, HttpMessageHandler? adminHandler = null) =>
        Build(output, error, adminHandler).Parse(args).InvokeAsync(new InvocationConfiguration
        {
            Output = output,
            Error = error,
            ProcessTerminationTimeout = null,
        });
}
