using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using SiteX.Server.Configuration;
using SiteX.Server.Diagnostics;

namespace SiteX.Server.Admin;

/// <summary>What a request's <c>Authorization</c> header amounts to.</summary>
internal enum AdminCredential
{
    Valid = 0,
    /// <summary>No <c>Authorization</c> header.</summary>
    Missing = 1,
    /// <summary>Not <c>Bearer &lt;token&gt;</c>, or several headers.</summary>
    Malformed = 2,
    /// <summary>A bearer token that is not this gateway's.</summary>
    Wrong = 3,
}

/// <summary>
/// The admin API's bearer token: taken from <see cref="AdminOptions.Token"/> or <see cref="AdminOptions.TokenFile"/>,
/// or generated (256 random bits) at start and written to <c>&lt;DataDir&gt;/admin.token</c> with mode 0600 for the
/// local CLI. Only a SHA-256 hash of it stays in memory; presented tokens are hashed and compared in constant time,
/// so neither the token nor its length leaks through timing. The token itself is never logged.
/// </summary>
internal sealed class AdminToken
{
    private const int MaxPresentedLength = 1024;
    private readonly SiteXOptions _options;
    private readonly ILogger _logger;
    private byte[]? _hash;
    private string? _pendingWrite;

    public AdminToken(IOptions<SiteXOptions> options, ILoggerFactory loggers)
    {
        _options = options.Value;
        _logger = loggers.CreateLogger(AdminGuard.AuditCategory);
    }

    /// <summary>Where a generated token was written, or null when the token comes from the configuration.</summary>
    public string? GeneratedFile { get; private set; }

    /// <summary>
    /// Reads or generates the token (a generated one is written by <see cref="WriteGeneratedFile"/> when the server
    /// starts). Throws <see cref="OptionsValidationException"/> for a configured token that cannot be used (an empty or
    /// too short token, an unreadable token file), naming the setting.
    /// </summary>
    public void Initialize()
    {
        var admin = _options.Admin;
        string token;
        var generatedPath = Path.GetFullPath(Path.Combine(_options.DataDir, AdminOptions.GeneratedTokenFileName));
        if (!string.IsNullOrEmpty(admin.Token) && !string.IsNullOrEmpty(admin.TokenFile))
        {
            throw Invalid("Admin:Token and Admin:TokenFile are both set; keep one of them");
        }

        if (!string.IsNullOrEmpty(admin.Token))
        {
            token = Check(admin.Token.Trim(), "Admin:Token (--admin-token, SITEX_ADMIN_TOKEN)");
            AuditLog.TokenConfigured(_logger, "the Admin:Token setting");
            DeleteStaleGeneratedFile(generatedPath, keep: null);
        }
        else if (!string.IsNullOrEmpty(admin.TokenFile))
        {
            var path = Path.GetFullPath(admin.TokenFile);
            try
            {
                token = Check(File.ReadAllText(path).Trim(), $"Admin:TokenFile ({path})");
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                throw Invalid($"Admin:TokenFile: cannot read {path}: {ex.Message}");
            }

            AuditLog.TokenConfigured(_logger, path);
            DeleteStaleGeneratedFile(generatedPath, keep: path);
        }
        else
        {
            token = Base64Url(RandomNumberGenerator.GetBytes(32));
            GeneratedFile = generatedPath;
            _pendingWrite = token;
        }

        _hash = SHA256.HashData(Encoding.UTF8.GetBytes(token));
    }

    /// <summary>Writes a generated token to <see cref="GeneratedFile"/> (once, at start, with the data directory's other
    /// files); throws <see cref="IOException"/> or <see cref="UnauthorizedAccessException"/> when the data directory
    /// cannot take it.</summary>
    public void WriteGeneratedFile()
    {
        if (_pendingWrite is not { } token || GeneratedFile is null)
        {
            return;
        }

        WritePrivate(GeneratedFile, token);
        _pendingWrite = null;
        AuditLog.TokenGenerated(_logger, GeneratedFile);
    }

    /// <summary>Checks an <c>Authorization</c> header value (all values of the header).</summary>
    public AdminCredential Verify(Microsoft.Extensions.Primitives.StringValues authorization)
    {
        var expected = _hash ?? throw new InvalidOperationException("the admin token was not initialized");
        if (authorization.Count == 0)
        {
            return AdminCredential.Missing;
        }

        var value = authorization.Count == 1 ? authorization[0] : null;
        const string scheme = "Bearer ";
        if (value is null || value.Length <= scheme.Length || !value.StartsWith(scheme, StringComparison.OrdinalIgnoreCase))
        {
            return AdminCredential.Malformed;
        }

        var presented = value.AsSpan(scheme.Length).Trim();
        if (presented.Length is 0 or > MaxPresentedLength)
        {
            return AdminCredential.Wrong;
        }

        Span<byte> bytes = stackalloc byte[Encoding.UTF8.GetMaxByteCount(MaxPresentedLength)];
        var length = Encoding.UTF8.GetBytes(presented, bytes);
        Span<byte> hash = stackalloc byte[SHA256.HashSizeInBytes];
        SHA256.HashData(bytes[..length], hash);
        return CryptographicOperations.FixedTimeEquals(hash, expected) ? AdminCredential.Valid : AdminCredential.Wrong;
    }

    private static string Check(string token, string setting)
    {
        if (token.Length < AdminOptions.MinTokenLength)
        {
            throw Invalid($"{setting}: the admin token must be at least {AdminOptions.MinTokenLength} characters (it is {token.Length}); use a long random value, e.g. from `openssl rand -base64 32`");
        }

        if (token.Length > MaxPresentedLength || token.Any(c => c <= ' ' || c == 0x7F))
        {
            throw Invalid($"{setting}: the admin token must be at most {MaxPresentedLength} printable characters without spaces");
        }

        return token;
    }

    /// <summary>Writes <paramref name="token"/> to <paramref name="path"/> readable by this user only: a temporary file
    /// created with mode 0600 is renamed over any older file, so the token is never readable by others, even briefly.</summary>
    private static void WritePrivate(string path, string token)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        var temp = $"{path}.{Environment.ProcessId}.tmp";
        var options = new FileStreamOptions { Mode = FileMode.Create, Access = FileAccess.Write, Share = FileShare.None };
        if (!OperatingSystem.IsWindows())
        {
            options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        }

        using (var file = new FileStream(temp, options))
        {
            file.Write(Encoding.ASCII.GetBytes(token + "\n"));
            file.Flush(flushToDisk: true);
        }

        File.Move(temp, path, overwrite: true);
    }

    /// <summary>A generated token left by an earlier start would only mislead the CLI once the token is configured.</summary>
    private static void DeleteStaleGeneratedFile(string generatedPath, string? keep)
    {
        if (keep is not null && string.Equals(keep, generatedPath, StringComparison.Ordinal))
        {
            return;
        }

        try
        {
            File.Delete(generatedPath);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            // Not ours to insist on; the CLI reports a refused token clearly.
        }
    }

    private static string Base64Url(byte[] bytes) => Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');

    private static OptionsValidationException Invalid(string message) => new(nameof(SiteXOptions.Admin), typeof(SiteXOptions), [message]);
}
