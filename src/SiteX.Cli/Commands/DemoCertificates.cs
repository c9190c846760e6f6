using System.Globalization;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using SiteX.Server.Routing;
using SiteX.Server.Security;

namespace SiteX.Cli.Commands;

/// <summary>
/// The certificates of <c>sitex demo</c> in <c>DATA-DIR/tls</c>: exactly what <c>sitex certs demo --parties
/// 9999,10000</c> writes, made by the same code (<see cref="CertsCommand.WriteDemo"/>). A set left by an earlier run is
/// reused while every file the gateways read is there, each site certificate goes with its key, chains to
/// <c>ca.crt</c>, names its party, carries 127.0.0.1 and stays valid for at least <see cref="MinimumRemaining"/>;
/// otherwise the whole set is made anew, valid for <see cref="Days"/> days.
/// </summary>
internal sealed class DemoCertificates
{
    /// <summary>Validity of a new set. Longer than <c>sitex certs demo</c>'s default, so that a gateway starting with it
    /// does not warn of an expiry (log event 1413: less than 30 days left).</summary>
    public const int Days = 365;

    /// <summary>How long a reused set must stay valid: over the gateways' 30 days of expiry warning, with a day to spare.</summary>
    public static readonly TimeSpan MinimumRemaining = TimeSpan.FromDays(31);

    private const string Host = "127.0.0.1";

    private readonly Dictionary<string, string> _filesByThumbprint;

    private DemoCertificates(string directory, Dictionary<string, string> filesByThumbprint, DateTime notAfter)
    {
        Directory = directory;
        _filesByThumbprint = filesByThumbprint;
        NotAfter = notAfter;
    }

    public string Directory { get; }

    public string CaFile => CaFileIn(Directory);

    /// <summary>When the first certificate of the set expires (UTC).</summary>
    public DateTime NotAfter { get; }

    /// <summary>Whether this run made the set, and why: "made now", "reused from an earlier run", or "made anew: &lt;what
    /// was wrong with the old one&gt;".</summary>
    public string Origin { get; private set; } = "reused from an earlier run";

    public string CertificateFile(string party) => Path.Combine(Directory, $"{party}.crt");

    public string KeyFile(string party) => Path.Combine(Directory, $"{party}.key");

    /// <summary>The site certificate file with <paramref name="thumbprint"/>, or null when it is none of this set's.</summary>
    public string? FileOf(string thumbprint) => _filesByThumbprint.GetValueOrDefault(thumbprint);

    /// <summary>Reuses the set in <paramref name="directory"/> or makes a new one. Null after a problem was written to
    /// <paramref name="error"/>.</summary>
    public static async Task<DemoCertificates?> EnsureAsync(string directory, IReadOnlyList<string> parties, TextWriter error)
    {
        var now = DateTimeOffset.UtcNow;
        if (TryLoad(directory, parties, now, out var problem) is { } reused)
        {
            return reused;
        }

        var firstRun = CertsCommand.DemoFiles(parties).All(name => !File.Exists(Path.Combine(directory, name)));
        var target = new DirectoryInfo(directory);
        try
        {
            target.Create();
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            await error.WriteLineAsync($"sitex demo: cannot create {directory} for the demo certificates: {ex.Message} (check --data-dir)");
            return null;
        }

        if (!await CertsCommand.PrepareAsync(target, CertsCommand.DemoFiles(parties), force: true, error))
        {
            return null;
        }

        try
        {
            var (dns, addresses) = CertsCommand.LocalNames;
            var (ca, sites) = CertsCommand.WriteDemo(target, parties, dns, addresses, Days, rsa: false);
            ca.Dispose();
            foreach (var site in sites)
            {
                site.Certificate.Dispose();
            }
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or CryptographicException)
        {
            await error.WriteLineAsync($"sitex demo: cannot write the demo certificates to {directory}: {ex.Message} (check --data-dir)");
            return null;
        }

        var made = TryLoad(directory, parties, now, out var stillWrong)
            ?? throw new InvalidOperationException($"the demo certificates just written are not usable: {stillWrong}");
        made.Origin = firstRun ? "made now" : $"made anew: {problem}";
        return made;
    }

    /// <summary>The set in <paramref name="directory"/> if it can be reused at <paramref name="now"/>; otherwise null
    /// and the first thing wrong with it.</summary>
    public static DemoCertificates? TryLoad(string directory, IReadOnlyList<string> parties, DateTimeOffset now, out string problem)
    {
        var caFile = CaFileIn(directory);
        if (!File.Exists(caFile))
        {
            problem = $"{caFile} is missing";
            return null;
        }

        using var ca = LoadCa(caFile, out problem);
        if (ca is null)
        {
            return null;
        }

        var notAfter = ca.NotAfter.ToUniversalTime();
        if (notAfter < (now + MinimumRemaining).UtcDateTime)
        {
            problem = $"{caFile} {(notAfter < now.UtcDateTime ? "expired" : "expires")} {Date(notAfter)}";
            return null;
        }

        var files = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        foreach (var party in parties)
        {
            var (certificateFile, keyFile) = (Path.Combine(directory, $"{party}.crt"), Path.Combine(directory, $"{party}.key"));
            using var site = LoadSite(certificateFile, keyFile, out problem);
            if (site is null)
            {
                return null;
            }

            if (Check(site, ca, party, certificateFile, caFile, now) is { } wrong)
            {
                problem = wrong;
                return null;
            }

            files[site.Thumbprint] = certificateFile;
            notAfter = site.NotAfter.ToUniversalTime() < notAfter ? site.NotAfter.ToUniversalTime() : notAfter;
        }

        problem = "";
        return new DemoCertificates(directory, files, notAfter);
    }

    private static string CaFileIn(string directory) => Path.Combine(directory, "ca.crt");

    private static X509Certificate2? LoadCa(string caFile, out string problem)
    {
        try
        {
            problem = "";
            return X509CertificateLoader.LoadCertificateFromFile(caFile);
        }
        catch (CryptographicException ex)
        {
            problem = $"{caFile} is not a certificate: {ex.Message}";
            return null;
        }
    }

    private static X509Certificate2? LoadSite(string certificateFile, string keyFile, out string problem)
    {
        foreach (var file in (string[])[certificateFile, keyFile])
        {
            if (!File.Exists(file))
            {
                problem = $"{file} is missing";
                return null;
            }
        }

        try
        {
            problem = "";
            return X509Certificate2.CreateFromPemFile(certificateFile, keyFile);
        }
        catch (CryptographicException ex)
        {
            problem = $"{certificateFile} and {keyFile} are not a certificate and its key: {ex.Message}";
            return null;
        }
    }

    /// <summary>What makes <paramref name="site"/> unusable for <paramref name="party"/> in the demo, or null.</summary>
    private static string? Check(X509Certificate2 site, X509Certificate2 ca, string party, string certificateFile, string caFile, DateTimeOffset now)
    {
        if (site.NotAfter.ToUniversalTime() < (now + MinimumRemaining).UtcDateTime)
        {
            return $"{certificateFile} {(site.NotAfter.ToUniversalTime() < now.UtcDateTime ? "expired" : "expires")} {Date(site.NotAfter)}";
        }

        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.Add(ca);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        chain.ChainPolicy.VerificationTime = now.UtcDateTime;
        if (!chain.Build(site))
        {
            return $"{certificateFile} does not chain to {caFile} ({string.Join(", ", chain.ChainStatus.Select(s => s.Status))})";
        }

        if (!CertificateNames.Parties(site, PeerIdentitySource.UriSan).Contains(party))
        {
            return $"{certificateFile} does not name party {party} (URI {SiteCertificates.PartyUriPrefix}{party})";
        }

        return site.MatchesHostname(Host) ? null : $"{certificateFile} does not carry the address {Host}";
    }

    private static string Date(DateTime time) => time.ToUniversalTime().ToString("yyyy-MM-dd HH:mm 'UTC'", CultureInfo.InvariantCulture);
}
