namespace SiteX.Cli.Commands;

/// <summary>
/// The admin API token the CLI sends, and where it came from (for messages). In order: <c>--admin-token</c>, the
/// environment (<c>SITEX_ADMIN_TOKEN</c>, or <c>SITEX_ADMIN__TOKEN</c>, the gateway's own setting), the file
/// <c>admin.token</c> that a gateway without a configured token writes in its data directory.
/// </summary>
internal sealed record AdminCredentials(string? Token, string Source)
{
    public const string EnvironmentVariable = "SITEX_ADMIN_TOKEN";
    public const string ServeEnvironmentVariable = "SITEX_ADMIN__TOKEN";

    public static AdminCredentials Resolve(string? option, string dataDir, Func<string, string?> environment)
    {
        if (!string.IsNullOrWhiteSpace(option))
        {
            return new(option.Trim(), "the token given with --admin-token");
        }

        foreach (var name in new[] { EnvironmentVariable, ServeEnvironmentVariable })
        {
            if (environment(name) is { } value && !string.IsNullOrWhiteSpace(value))
            {
                return new(value.Trim(), $"the token in ${name}");
            }
        }

        var file = Path.GetFullPath(Path.Combine(dataDir, "admin.token"));
        try
        {
            var text = File.ReadAllText(file).Trim();
            if (text.Length > 0)
            {
                return new(text, $"the token read from {file}");
            }
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return new(null, $"no token was sent: none given with --admin-token or ${EnvironmentVariable}, and {file} could not be read ({ex.Message}); point --data-dir at the gateway's data directory");
        }

        return new(null, $"no token was sent: {file} is empty");
    }

    /// <summary>Says which token was tried, for a refused request.</summary>
    public string Describe() => Token is null ? Source : $"sent {Source}; check --admin-token, ${EnvironmentVariable} or --data-dir";
}
