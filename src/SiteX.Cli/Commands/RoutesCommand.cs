using System.CommandLine;
using SiteX.Server.Routing;
using SiteX.Server.Security;

namespace SiteX.Cli.Commands;

/// <summary><c>sitex routes validate FILE</c>: checks a route table the way the gateway would load it.</summary>
internal static class RoutesCommand
{
    public static Command Create(TextWriter output, TextWriter error)
    {
        var routes = new Command("routes", "Work with route tables.");
        var file = new Argument<FileInfo>("file") { Description = "An OSX route_table.json or a flat rule list" };
        var validate = new Command("validate", "Check a route table: print every error with its path and fix (exit 1), or a summary (exit 0).") { file };
        validate.SetAction(async (parse, cancellationToken) => await ValidateAsync(parse.GetValue(file)!, output, error));
        routes.Subcommands.Add(validate);
        return routes;
    }

    internal static async Task<int> ValidateAsync(FileInfo file, TextWriter output, TextWriter error)
    {
        string text;
        try
        {
            text = await File.ReadAllTextAsync(file.FullName);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            await error.WriteLineAsync($"{file.FullName}: cannot read: {ex.Message}");
            return 1;
        }

        // As the gateway loads it: the document, then the TLS files it names (relative to the file's directory).
        var parsed = RouteTableParser.Parse(text, out var errors);
        var config = parsed is null ? null : OutboundTlsLoader.Load(parsed, file.DirectoryName!, out errors);
        if (config is null)
        {
            await error.WriteLineAsync($"{file.FullName}: {errors.Count} error(s)");
            foreach (var e in errors)
            {
                await error.WriteLineAsync($"  {e}");
            }

            return 1;
        }

        var table = RouteTable.Create(config, ["9999"], 1, file.FullName);
        await output.WriteLineAsync($"{file.FullName}: valid {(config.Format == RouteTableFormat.Osx ? "OSX route_table.json" : "flat rule list")}");
        await output.WriteLineAsync(config.SelfParties is null
            ? "  self parties: none in the file (the gateway's --self-party applies, default 9999)"
            : $"  self parties: {string.Join(", ", config.SelfParties)}");
        await output.WriteLineAsync($"  {table.PartyCount} parties, {table.RuleCount} routes, {config.Bindings.Count} service bindings");
        foreach (var rule in config.Rules.OrderBy(r => r.DstParty, StringComparer.Ordinal).ThenBy(r => r.Service, StringComparer.Ordinal))
        {
            var from = rule.SrcParty is null ? "" : $" (from {rule.SrcParty})";
            await output.WriteLineAsync($"  {rule.DstParty}/{rule.Service}{from} -> {string.Join(", ", rule.Endpoints.Select(Describe))}");
        }

        foreach (var binding in config.Bindings)
        {
            await output.WriteLineAsync($"  binding {binding.GrpcService ?? binding.PathPrefix} -> {binding.Party}/{binding.Service}");
        }

        var permissions = config.Permissions;
        if (permissions.DefaultPath.Length == 0)
        {
            await output.WriteLineAsync("  permissions: none (every call is allowed)");
        }
        else
        {
            await output.WriteLineAsync($"  permissions: {permissions.Rules.Count} rule(s), calls no rule matches are {(permissions.Default == PermissionAction.Allow ? "allowed" : "denied")} ({permissions.DefaultPath})");
            foreach (var rule in permissions.Rules)
            {
                await output.WriteLineAsync($"  {(rule.Action == PermissionAction.Allow ? "allow" : "deny ")} {rule.From} -> {rule.To}  ({rule.Path})");
            }
        }

        foreach (var key in config.ExtraJson.Keys)
        {
            await output.WriteLineAsync($"  kept as is (not used by SiteX): \"{key}\"");
        }

        return 0;
    }

    private static string Describe(EndpointConfig endpoint)
    {
        if (!endpoint.UseTls)
        {
            return endpoint.Display;
        }

        var client = endpoint.Tls?.ClientCertificate is { } certificate ? $"client {certificate.GetNameInfo(System.Security.Cryptography.X509Certificates.X509NameType.SimpleName, false)}, " : "";
        var party = endpoint.PeerParty is null ? "" : $", peer party {endpoint.PeerParty}";
        return $"tls {endpoint.Display} ({client}trusting {(endpoint.Tls?.TrustAnchors is null ? "system roots" : "its CA file")}{party})";
    }
}
