using System.CommandLine;
using SiteX.Cli.Commands;

namespace SiteX.Cli;

/// <summary>Builds the <c>sitex</c> root command. Output writers are injected so tests can capture them.</summary>
internal static class SiteXCommandLine
{
    public static RootCommand Build(TextWriter output, TextWriter error)
    {
        var root = new RootCommand("SiteX: a cross-site service exchange for federated learning, wire-compatible with FATE's OSX.");
        root.Subcommands.Add(ServeCommand.Create(output, error));
        root.Subcommands.Add(RoutesCommand.Create(output, error));
        root.Subcommands.Add(DemoCommand.Create(output, error));
        return root;
    }
}
