using System.CommandLine;
using System.Text.Json;
using Microsoft.Extensions.Configuration;
using SiteX.Server.Configuration;

namespace SiteX.Cli.Commands;

/// <summary>A setting that cannot be used, with a message that says which and why.</summary>
internal sealed class SettingsException(string message) : Exception(message);

/// <summary>
/// The gateway settings as command-line options. Precedence, lowest first: built-in defaults, the JSON file of
/// <c>--config</c>, environment variables <c>SITEX_*</c>, command-line options.
/// </summary>
internal sealed class ServeSettings
{
    private static readonly HashSet<string> s_knownKeys = typeof(SiteXOptions).GetProperties().Select(p => p.Name).ToHashSet(StringComparer.OrdinalIgnoreCase);
    private static readonly HashSet<string> s_knownTlsKeys = typeof(TlsOptions).GetProperties().Where(p => p.CanWrite).Select(p => p.Name).ToHashSet(StringComparer.OrdinalIgnoreCase);
    private const string AdminTokenVariable = "SITEX_ADMIN_TOKEN";
    private const string AdminTokenKey = "Admin:Token";
    private const string AdminTokenFileKey = "Admin:TokenFile";
    private const string TokenKeyFileKey = "Tokens:KeyFile";

    public Option<FileInfo?> Config { get; } = new("--config") { Description = "JSON settings file (same names as the options, e.g. {\"grpcPort\": 9370, \"routeTable\": \"route_table.json\"})" };
    public Option<string?> RouteTable { get; } = new("--route-table") { Description = "Route table: an OSX route_table.json or a flat rule list; hot-reloaded on change" };
    public Option<int?> GrpcPort { get; } = new("--grpc-port") { Description = "Intra-site gRPC port (cleartext HTTP/2); default 9370; 0 picks a free port" };
    public Option<int?> HttpPort { get; } = new("--http-port") { Description = "HTTP/1.1 port of /v1/interconn/chan/* on the --bind address; default 8807; 0 picks a free port" };
    public Option<int?> AdminPort { get; } = new("--admin-port") { Description = "Admin port (/healthz, /metrics); default 9380, bound to 127.0.0.1" };
    public Option<string?> DataDir { get; } = new("--data-dir") { Description = "Data directory (access log, queues); default ./data" };
    public Option<string?> BindAddress { get; } = new("--bind") { Description = "Address of the plain intra-site gRPC and HTTP ports; default 127.0.0.1 (set the site's local network address for services on other hosts)" };
    public Option<string?> AdminBind { get; } = new("--admin-bind") { Description = "Address of the admin port; default 127.0.0.1" };
    public Option<string[]> SelfParty { get; } = new("--self-party") { Description = "Self party id(s) when the route table has no self_party; default 9999", AllowMultipleArgumentsPerToken = true };
    public Option<int?> GrpcTlsPort { get; } = new("--grpc-tls-port") { Description = "Inter-site gRPC port (TLS, mTLS); default 9371; open only with a certificate; 0 picks a free port" };
    public Option<int?> HttpsPort { get; } = new("--https-port") { Description = "Inter-site HTTPS port (TLS, mTLS, HTTP/1.1 and HTTP/2); default 8809; open only with a certificate; 0 picks a free port" };
    public Option<string?> TlsCert { get; } = new("--tls-cert") { Description = "PEM certificate (and chain) of this gateway; opens the TLS ports" };
    public Option<string?> TlsKey { get; } = new("--tls-key") { Description = "PEM private key of --tls-cert (PKCS#8 or PKCS#1)" };
    public Option<string?> TlsCa { get; } = new("--tls-ca") { Description = "PEM bundle of the CAs that issue peers' client certificates (only these are trusted)" };
    public Option<string?> TlsBind { get; } = new("--tls-bind") { Description = "Address of the TLS ports; default 0.0.0.0" };
    public Option<string?> AccessLog { get; } = new("--access-log") { Description = "Access log file (flow.log format); '-' for standard output; default <data-dir>/logs/flow.log" };
    public Option<string?> AdminToken { get; } = new("--admin-token") { Description = "Bearer token of the admin API (at least 16 characters); default: a random one written to <data-dir>/admin.token. Prefer SITEX_ADMIN_TOKEN or --admin-token-file: a command line is visible to other users" };
    public Option<string?> AdminTokenFile { get; } = new("--admin-token-file") { Description = "File holding the admin API's bearer token (e.g. a mounted secret)" };

    public void AddTo(Command command)
    {
        command.Options.Add(Config);
        command.Options.Add(RouteTable);
        command.Options.Add(GrpcPort);
        command.Options.Add(HttpPort);
        command.Options.Add(AdminPort);
        command.Options.Add(DataDir);
        command.Options.Add(BindAddress);
        command.Options.Add(AdminBind);
        command.Options.Add(SelfParty);
        command.Options.Add(AccessLog);
        command.Options.Add(GrpcTlsPort);
        command.Options.Add(HttpsPort);
        command.Options.Add(TlsCert);
        command.Options.Add(TlsKey);
        command.Options.Add(TlsCa);
        command.Options.Add(TlsBind);
        command.Options.Add(AdminToken);
        command.Options.Add(AdminTokenFile);
    }

    public SiteXOptions Bind(ParseResult parse) => Bind(parse, Environment.GetEnvironmentVariables());

    /// <summary>The settings, or null after writing why they cannot be used to <paramref name="error"/> (exit code 2).</summary>
    public async Task<SiteXOptions?> TryBindAsync(ParseResult parse, TextWriter error)
    {
        try
        {
            return Bind(parse);
        }
        catch (SettingsException ex)
        {
            await error.WriteLineAsync($"sitex: {ex.Message}");
            return null;
        }
    }

    public SiteXOptions Bind(ParseResult parse, System.Collections.IDictionary environment)
    {
        var builder = new ConfigurationBuilder();
        var configFile = parse.GetValue(Config);
        if (configFile is not null)
        {
            if (!configFile.Exists)
            {
                throw new SettingsException($"config file {configFile.FullName} does not exist");
            }

            CheckConfigFile(configFile);
            builder.AddJsonFile(configFile.FullName, optional: false, reloadOnChange: false);
        }

        var fromEnvironment = new Dictionary<string, string?>(StringComparer.OrdinalIgnoreCase);
        foreach (System.Collections.DictionaryEntry entry in environment)
        {
            var key = (string)entry.Key;
            if (key.StartsWith("SITEX_", StringComparison.OrdinalIgnoreCase))
            {
                // SITEX_ADMIN_TOKEN is what `sitex queues` reads too: one variable serves the gateway and the CLI.
                var name = string.Equals(key, AdminTokenVariable, StringComparison.OrdinalIgnoreCase)
                    ? AdminTokenKey
                    : key["SITEX_".Length..].Replace("__", ":", StringComparison.Ordinal);
                if (!s_knownKeys.Contains(name.Split(':')[0]))
                {
                    throw new SettingsException($"environment variable {key} is not a SiteX setting; known settings: {string.Join(", ", s_knownKeys.Order())}");
                }

                fromEnvironment[name] = entry.Value as string;
            }
        }

        builder.AddInMemoryCollection(fromEnvironment);
        var fromCommandLine = new Dictionary<string, string?>(StringComparer.OrdinalIgnoreCase);
        void Set(string key, string? value)
        {
            if (value is not null)
            {
                fromCommandLine[key] = value;
            }
        }

        Set(nameof(SiteXOptions.RouteTable), parse.GetValue(RouteTable));
        Set(nameof(SiteXOptions.GrpcPort), parse.GetValue(GrpcPort)?.ToString(System.Globalization.CultureInfo.InvariantCulture));
        Set(nameof(SiteXOptions.AdminPort), parse.GetValue(AdminPort)?.ToString(System.Globalization.CultureInfo.InvariantCulture));
        Set(nameof(SiteXOptions.HttpPort), parse.GetValue(HttpPort)?.ToString(System.Globalization.CultureInfo.InvariantCulture));
        Set(nameof(SiteXOptions.DataDir), parse.GetValue(DataDir));
        Set(nameof(SiteXOptions.Bind), parse.GetValue(BindAddress));
        Set(nameof(SiteXOptions.AdminBind), parse.GetValue(AdminBind));
        Set(nameof(SiteXOptions.AccessLog), parse.GetValue(AccessLog));
        Set(TlsKeys.GrpcTlsPort, parse.GetValue(GrpcTlsPort)?.ToString(System.Globalization.CultureInfo.InvariantCulture));
        Set(TlsKeys.HttpsPort, parse.GetValue(HttpsPort)?.ToString(System.Globalization.CultureInfo.InvariantCulture));
        Set(TlsKeys.CertFile, parse.GetValue(TlsCert));
        Set(TlsKeys.KeyFile, parse.GetValue(TlsKey));
        Set(TlsKeys.CaFile, parse.GetValue(TlsCa));
        Set(TlsKeys.Bind, parse.GetValue(TlsBind));
        Set(AdminTokenKey, parse.GetValue(AdminToken));
        Set(AdminTokenFileKey, parse.GetValue(AdminTokenFile));
        var selfParties = parse.GetValue(SelfParty)?.SelectMany(p => p.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)).ToArray();
        builder.AddInMemoryCollection(fromCommandLine);
        var configuration = builder.Build();

        var options = new SiteXOptions();
        try
        {
            // Unknown nested keys (a misspelt "admin": {"tokne": ...}) stop the start like unknown top-level ones.
            configuration.Bind(options, binder => binder.ErrorOnUnknownConfiguration = true);
        }
        catch (InvalidOperationException ex)
        {
            throw new SettingsException($"invalid setting: {ex.Message}");
        }

        if (selfParties is { Length: > 0 })
        {
            options.SelfParties = [.. selfParties];
        }
        else if (configuration.GetSection(nameof(SiteXOptions.SelfParties)).GetChildren().Any())
        {
            // Binding appends to the default list; the configured list replaces it.
            options.SelfParties = [.. configuration.GetSection(nameof(SiteXOptions.SelfParties)).GetChildren().Select(c => c.Value!)];
        }

        if (configFile is not null)
        {
            ResolveAgainstConfigFile(options, configFile, fromEnvironment, fromCommandLine);
        }

        return options;
    }

    /// <summary>Relative paths written in the config file are relative to that file, not to the working directory.</summary>
    private static void ResolveAgainstConfigFile(SiteXOptions options, FileInfo configFile, Dictionary<string, string?> fromEnvironment, Dictionary<string, string?> fromCommandLine)
    {
        var directory = configFile.DirectoryName!;
        string? Resolve(string name, string? value) =>
            value is null || value == "-" || Path.IsPathRooted(value) || fromEnvironment.ContainsKey(name) || fromCommandLine.ContainsKey(name)
                ? value
                : Path.Combine(directory, value);

        options.RouteTable = Resolve(nameof(SiteXOptions.RouteTable), options.RouteTable);
        options.AccessLog = Resolve(nameof(SiteXOptions.AccessLog), options.AccessLog);
        options.Tls.CertFile = Resolve(TlsKeys.CertFile, options.Tls.CertFile);
        options.Tls.KeyFile = Resolve(TlsKeys.KeyFile, options.Tls.KeyFile);
        options.Tls.CaFile = Resolve(TlsKeys.CaFile, options.Tls.CaFile);
        options.Tls.Pkcs12File = Resolve(TlsKeys.Pkcs12File, options.Tls.Pkcs12File);
        options.Admin.TokenFile = Resolve(AdminTokenFileKey, options.Admin.TokenFile);
        options.Tokens.KeyFile = Resolve(TokenKeyFileKey, options.Tokens.KeyFile);
        if (!fromEnvironment.ContainsKey(nameof(SiteXOptions.DataDir)) && !fromCommandLine.ContainsKey(nameof(SiteXOptions.DataDir)) && FileSets(configFile, nameof(SiteXOptions.DataDir)))
        {
            options.DataDir = Resolve(nameof(SiteXOptions.DataDir), options.DataDir)!;
        }
    }

    private static bool FileSets(FileInfo configFile, string name)
    {
        using var document = JsonDocument.Parse(File.ReadAllText(configFile.FullName), new JsonDocumentOptions { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true });
        return document.RootElement.EnumerateObject().Any(p => string.Equals(p.Name, name, StringComparison.OrdinalIgnoreCase));
    }

    private static void CheckConfigFile(FileInfo file)
    {
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(File.ReadAllText(file.FullName), new JsonDocumentOptions { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true });
        }
        catch (JsonException ex)
        {
            throw new SettingsException($"config file {file.FullName} is not valid JSON: {ex.Message}");
        }

        using (document)
        {
            if (document.RootElement.ValueKind != JsonValueKind.Object)
            {
                throw new SettingsException($"config file {file.FullName} must hold a JSON object of settings");
            }

            foreach (var property in document.RootElement.EnumerateObject())
            {
                if (!s_knownKeys.Contains(property.Name))
                {
                    throw new SettingsException($"config file {file.FullName}: \"{property.Name}\" is not a SiteX setting; known settings: {string.Join(", ", s_knownKeys.Order())}");
                }

                if (string.Equals(property.Name, nameof(SiteXOptions.Tls), StringComparison.OrdinalIgnoreCase) && property.Value.ValueKind == JsonValueKind.Object)
                {
                    foreach (var tls in property.Value.EnumerateObject().Where(p => !s_knownTlsKeys.Contains(p.Name)))
                    {
                        throw new SettingsException($"config file {file.FullName}: \"{property.Name}.{tls.Name}\" is not a TLS setting; known: {string.Join(", ", s_knownTlsKeys.Order())}");
                    }
                }
            }
        }
    }
}

/// <summary>Configuration keys of the TLS settings (the <c>Tls</c> section).</summary>
internal static class TlsKeys
{
    public const string GrpcTlsPort = "Tls:" + nameof(TlsOptions.GrpcTlsPort);
    public const string HttpsPort = "Tls:" + nameof(TlsOptions.HttpsPort);
    public const string CertFile = "Tls:" + nameof(TlsOptions.CertFile);
    public const string KeyFile = "Tls:" + nameof(TlsOptions.KeyFile);
    public const string CaFile = "Tls:" + nameof(TlsOptions.CaFile);
    public const string Pkcs12File = "Tls:" + nameof(TlsOptions.Pkcs12File);
    public const string Bind = "Tls:" + nameof(TlsOptions.Bind);
}
