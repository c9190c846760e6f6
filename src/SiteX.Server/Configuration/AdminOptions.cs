namespace SiteX.Server.Configuration;

/// <summary>
/// The admin API's bearer token (<c>SiteXOptions.Admin</c>; config file <c>{"admin": {"token": ...}}</c>, environment
/// <c>SITEX_ADMIN__TOKEN</c>, <c>--admin-token</c>). With neither <see cref="Token"/> nor <see cref="TokenFile"/> set, a
/// random 256-bit token is generated at every start and written to <c>&lt;DataDir&gt;/admin.token</c> (mode 0600).
/// </summary>
public sealed class AdminOptions
{
    /// <summary>The file SiteX writes a generated token to, inside <see cref="SiteXOptions.DataDir"/>.</summary>
    public const string GeneratedTokenFileName = "admin.token";

    /// <summary>The shortest token SiteX accepts from the configuration.</summary>
    public const int MinTokenLength = 16;

    /// <summary>The token itself. Prefer <see cref="TokenFile"/> or the environment: a command line is visible to
    /// every user of the machine.</summary>
    public string? Token { get; set; }

    /// <summary>A file holding the token (surrounding whitespace ignored), such as a mounted secret.</summary>
    public string? TokenFile { get; set; }
}
