using System.CommandLine;
using System.Globalization;
using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using SiteX.Server.Security;

namespace SiteX.Cli.Commands;

/// <summary>
/// <c>sitex certs ca|site|demo</c>: a private test CA and site certificates for a demo of mutual TLS between sites
/// (<see cref="SiteCertificates"/>: the party as CN and as the URI name <c>urn:sitex:party:&lt;id&gt;</c>, DNS and IP
/// names for host name checks). Private keys are written readable by their owner only (0600). Not for production
/// key management.
/// </summary>
/// <remarks>Exit codes: 0 written, 1 a file could not be written or the CA could not be read, 2 bad options.</remarks>
internal static class CertsCommand
{
    /// <summary>The names a site certificate carries when no <c>--dns</c> or <c>--ip</c> is given: this machine's.</summary>
    internal static (string[] Dns, IPAddress[] Addresses) LocalNames => (["localhost"], [IPAddress.Loopback]);

    private static Option<DirectoryInfo> Out() => new("--out") { Description = "Directory to write the files to (created if missing)", Required = true, HelpName = "dir" };

    private static Option<bool> Force() => new("--force") { Description = "Overwrite existing files" };

    public static Command Create(TextWriter output, TextWriter error)
    {
        var certs = new Command("certs", "Create a test CA and site certificates for mutual TLS between sites (demos and tests).");
        certs.Subcommands.Add(CreateCa(output, error));
        certs.Subcommands.Add(CreateSite(output, error));
        certs.Subcommands.Add(CreateDemo(output, error));
        return certs;
    }

    private static Command CreateCa(TextWriter output, TextWriter error)
    {
        var outDir = Out();
        var force = Force();
        var name = new Option<string>("--name") { Description = "The CA's name (its CN)", DefaultValueFactory = _ => "SiteX demo CA", HelpName = "name" };
        var days = new Option<int>("--days") { Description = "Validity in days", DefaultValueFactory = _ => 365 };
        var rsa = new Option<bool>("--rsa") { Description = "RSA 2048 key instead of ECDSA P-256" };
        var command = new Command("ca", "Create a CA: DIR/ca.crt (give it to every site as \"caFile\") and DIR/ca.key (keep it off the gateways).") { outDir, name, days, rsa, force };
        command.SetAction(async (parse, _) =>
        {
            var directory = parse.GetValue(outDir)!;
            if (await CheckDaysAsync(parse.GetValue(days), error) is false || !await PrepareAsync(directory, ["ca.crt", "ca.key"], parse.GetValue(force), error))
            {
                return 2;
            }

            return await RunAsync(error, async () =>
            {
                using var ca = WriteCa(directory, parse.GetValue(name)!, parse.GetValue(days), parse.GetValue(rsa));
                await DescribeCaAsync(output, directory, ca);
            });
        });
        return command;
    }

    private static Command CreateSite(TextWriter output, TextWriter error)
    {
        var outDir = Out();
        var force = Force();
        var caFile = new Option<FileInfo>("--ca") { Description = "The CA certificate (PEM), e.g. DIR/ca.crt", Required = true, HelpName = "file" };
        var caKey = new Option<FileInfo>("--ca-key") { Description = "The CA's private key (PEM), e.g. DIR/ca.key", Required = true, HelpName = "file" };
        var party = new Option<string>("--party") { Description = "The site's party id (CN and urn:sitex:party:<id>)", Required = true, HelpName = "id" };
        var (dns, ip, days, rsa) = SiteOptions();
        var pkcs1 = new Option<bool>("--pkcs1") { Description = "Write the key as PKCS#1 (BEGIN RSA PRIVATE KEY); implies --rsa" };
        var pkcs12 = new Option<bool>("--pkcs12") { Description = "Write certificate and key as one PKCS#12 key store DIR/<party>.p12" };
        var password = new Option<string?>("--password") { Description = "Password of the PKCS#12 key store; a random one is generated and printed when omitted", HelpName = "password" };
        var command = new Command("site", "Create a site certificate signed by a CA: DIR/<party>.crt and DIR/<party>.key, or DIR/<party>.p12.")
        {
            caFile, caKey, party, dns, ip, days, rsa, pkcs1, pkcs12, password, outDir, force,
        };
        command.SetAction(async (parse, _) =>
        {
            var directory = parse.GetValue(outDir)!;
            var id = parse.GetValue(party)!;
            if (!SiteX.Server.Routing.RouteTableParser.IsValidId(id))
            {
                await error.WriteLineAsync($"sitex: --party \"{id}\" is not a valid party id (1-128 letters, digits, '.', '_' or '-')");
                return 2;
            }

            if (parse.GetValue(pkcs1) && parse.GetValue(pkcs12))
            {
                await error.WriteLineAsync("sitex: choose one of --pkcs1 (PEM key) and --pkcs12 (key store)");
                return 2;
            }

            var names = await ParseNamesAsync(parse.GetValue(dns), parse.GetValue(ip), error);
            var format = parse.GetValue(pkcs12) ? SiteFormat.Pkcs12 : parse.GetValue(pkcs1) ? SiteFormat.Pkcs1 : SiteFormat.Pkcs8;
            if (names is null || await CheckDaysAsync(parse.GetValue(days), error) is false
                || !await PrepareAsync(directory, SiteFiles(id, format), parse.GetValue(force), error))
            {
                return 2;
            }

            return await RunAsync(error, async () =>
            {
                using var ca = SiteCertificates.LoadAuthority(parse.GetValue(caFile)!.FullName, parse.GetValue(caKey)!.FullName);
                var written = WriteSite(directory, ca, id, names.Value.Dns, names.Value.Addresses, parse.GetValue(days), parse.GetValue(rsa), format, parse.GetValue(password));
                await DescribeSiteAsync(output, written);
                await DescribeUseAsync(output, parse.GetValue(caFile)!.FullName, [written]);
            });
        });
        return command;
    }

    private static Command CreateDemo(TextWriter output, TextWriter error)
    {
        var outDir = Out();
        var force = Force();
        var parties = new Option<string[]>("--parties") { Description = "Party ids, comma-separated (e.g. 9999,10000)", Required = true, AllowMultipleArgumentsPerToken = true, HelpName = "ids" };
        var (dns, ip, days, rsa) = SiteOptions();
        var command = new Command("demo", "Create a CA and a certificate for each party in one go: DIR/ca.crt, DIR/ca.key, DIR/<party>.crt, DIR/<party>.key.")
        {
            parties, dns, ip, days, rsa, outDir, force,
        };
        command.SetAction(async (parse, _) =>
        {
            var directory = parse.GetValue(outDir)!;
            var ids = parse.GetValue(parties)!.SelectMany(p => p.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)).Distinct(StringComparer.Ordinal).ToArray();
            var bad = ids.FirstOrDefault(p => !SiteX.Server.Routing.RouteTableParser.IsValidId(p));
            if (ids.Length == 0 || bad is not null)
            {
                await error.WriteLineAsync($"sitex: --parties needs valid party ids (1-128 letters, digits, '.', '_' or '-'){(bad is null ? "" : $"; \"{bad}\" is not one")}");
                return 2;
            }

            var names = await ParseNamesAsync(parse.GetValue(dns), parse.GetValue(ip), error);
            if (names is null || await CheckDaysAsync(parse.GetValue(days), error) is false
                || !await PrepareAsync(directory, DemoFiles(ids), parse.GetValue(force), error))
            {
                return 2;
            }

            return await RunAsync(error, async () =>
            {
                var (ca, written) = WriteDemo(directory, ids, names.Value.Dns, names.Value.Addresses, parse.GetValue(days), parse.GetValue(rsa));
                using (ca)
                {
                    await DescribeCaAsync(output, directory, ca);
                }

                foreach (var site in written)
                {
                    await DescribeSiteAsync(output, site);
                }

                await DescribeUseAsync(output, Path.Combine(directory.FullName, "ca.crt"), written);
            });
        });
        return command;
    }

    /// <summary>The files <c>sitex certs demo</c> writes for <paramref name="parties"/>, by name.</summary>
    internal static string[] DemoFiles(IEnumerable<string> parties) => ["ca.crt", "ca.key", .. parties.SelectMany(p => SiteFiles(p, SiteFormat.Pkcs8))];

    /// <summary>
    /// What <c>sitex certs demo</c> writes, and <c>sitex demo</c> too: a CA valid for at least a year (<c>ca.crt</c>,
    /// <c>ca.key</c>), then for each party a site certificate signed by it, valid for <paramref name="days"/> days
    /// (<c>&lt;party&gt;.crt</c>, <c>&lt;party&gt;.key</c>, PKCS#8, mode 0600). Clear old files first
    /// (<see cref="PrepareAsync"/>), so every key file is created anew with its mode. Returns the CA (with its key; the
    /// caller disposes it) and the sites written.
    /// </summary>
    internal static (X509Certificate2 Ca, IReadOnlyList<WrittenSite> Sites) WriteDemo(DirectoryInfo directory, IReadOnlyList<string> parties, string[] dns, IPAddress[] addresses, int days, bool rsa)
    {
        var ca = WriteCa(directory, "SiteX demo CA", Math.Max(days, 365), rsa);
        try
        {
            return (ca, [.. parties.Select(party => WriteSite(directory, ca, party, dns, addresses, days, rsa, SiteFormat.Pkcs8, null))]);
        }
        catch
        {
            ca.Dispose();
            throw;
        }
    }

    private static (Option<string[]> Dns, Option<string[]> Ip, Option<int> Days, Option<bool> Rsa) SiteOptions() => (
        new Option<string[]>("--dns") { Description = "DNS name of the site's gateway (repeatable); default localhost when no --dns or --ip is given", AllowMultipleArgumentsPerToken = true, HelpName = "name" },
        new Option<string[]>("--ip") { Description = "IP address of the site's gateway (repeatable); default 127.0.0.1 when no --dns or --ip is given", AllowMultipleArgumentsPerToken = true, HelpName = "address" },
        new Option<int>("--days") { Description = "Validity in days", DefaultValueFactory = _ => 30 },
        new Option<bool>("--rsa") { Description = "RSA 2048 keys instead of ECDSA P-256 (for older Java stacks)" });

    /// <summary>How a site certificate and its key are written.</summary>
    internal enum SiteFormat
    {
        Pkcs8,
        Pkcs1,
        Pkcs12,
    }

    /// <summary>A site certificate written to files: a PEM pair or a PKCS#12 key store (with its password).</summary>
    internal sealed record WrittenSite(string Party, X509Certificate2 Certificate, string? CertificateFile, string? KeyFile, string? KeyStoreFile, string? Password, SiteFormat Format);

    private static string[] SiteFiles(string party, SiteFormat format) =>
        format == SiteFormat.Pkcs12 ? [$"{party}.p12"] : [$"{party}.crt", $"{party}.key"];

    private static X509Certificate2 WriteCa(DirectoryInfo directory, string name, int days, bool rsa)
    {
        var now = DateTimeOffset.UtcNow;
        var ca = SiteCertificates.CreateAuthority(name, now.AddMinutes(-5), now.AddDays(days), rsa ? SiteKeyAlgorithm.Rsa2048 : SiteKeyAlgorithm.EcdsaP256);
        SiteCertificates.WritePem(ca, Path.Combine(directory.FullName, "ca.crt"), Path.Combine(directory.FullName, "ca.key"));
        return ca;
    }

    private static WrittenSite WriteSite(DirectoryInfo directory, X509Certificate2 ca, string party, string[] dns, IPAddress[] addresses, int days, bool rsa, SiteFormat format, string? password)
    {
        var now = DateTimeOffset.UtcNow;
        var algorithm = rsa || format == SiteFormat.Pkcs1 ? SiteKeyAlgorithm.Rsa2048 : SiteKeyAlgorithm.EcdsaP256;
        var site = SiteCertificates.CreateSite(ca, party, dns, addresses, now.AddMinutes(-5), now.AddDays(days), algorithm);
        if (format == SiteFormat.Pkcs12)
        {
            password ??= Convert.ToBase64String(RandomNumberGenerator.GetBytes(18)).Replace('+', '-').Replace('/', '_');
            var store = Path.Combine(directory.FullName, $"{party}.p12");
            SiteCertificates.WritePkcs12(site, store, password);
            return new WrittenSite(party, site, null, null, store, password, format);
        }

        var certificateFile = Path.Combine(directory.FullName, $"{party}.crt");
        var keyFile = Path.Combine(directory.FullName, $"{party}.key");
        SiteCertificates.WritePem(site, certificateFile, keyFile, format == SiteFormat.Pkcs1 ? PemKeyFormat.Pkcs1 : PemKeyFormat.Pkcs8);
        return new WrittenSite(party, site, certificateFile, keyFile, null, null, format);
    }

    private static async Task DescribeCaAsync(TextWriter output, DirectoryInfo directory, X509Certificate2 ca)
    {
        await output.WriteLineAsync($"wrote {Path.Combine(directory.FullName, "ca.crt")}  CA certificate {ca.Subject}, valid until {Date(ca.NotAfter)}: give it to every site, as \"caFile\"");
        await output.WriteLineAsync($"wrote {Path.Combine(directory.FullName, "ca.key")}  CA private key (mode 0600): keep it away from the gateways; it signs new site certificates");
    }

    private static async Task DescribeSiteAsync(TextWriter output, WrittenSite site)
    {
        var names = CertificateNames.Describe(site.Certificate);
        if (site.Format == SiteFormat.Pkcs12)
        {
            await output.WriteLineAsync($"wrote {site.KeyStoreFile}  PKCS#12 key store of party {site.Party} (certificate and key, mode 0600); password: {site.Password}");
        }
        else
        {
            await output.WriteLineAsync($"wrote {site.CertificateFile}  certificate of party {site.Party}: {site.Certificate.Subject}; {names}; valid until {Date(site.Certificate.NotAfter)}");
            await output.WriteLineAsync($"wrote {site.KeyFile}  its private key ({(site.Format == SiteFormat.Pkcs1 ? "PKCS#1 RSA" : "PKCS#8")}, mode 0600)");
        }
    }

    /// <summary>How to use the files: each site's route to each other party, and how to check it.</summary>
    private static async Task DescribeUseAsync(TextWriter output, string caFile, IReadOnlyList<WrittenSite> sites)
    {
        await output.WriteLineAsync();
        foreach (var site in sites)
        {
            var peer = sites.FirstOrDefault(s => s.Party != site.Party)?.Party ?? "<peer party>";
            var identity = site.Format == SiteFormat.Pkcs12
                ? $"\"useKeyStore\": true, \"keyStoreFile\": \"{site.KeyStoreFile}\", \"keyStorePassword\": \"{site.Password}\""
                : $"\"certChainFile\": \"{site.CertificateFile}\", \"privateKeyFile\": \"{site.KeyFile}\"";
            await output.WriteLineAsync($"At site {site.Party}, a route to party {peer} over mutual TLS (its gateway's TLS port at <host>:<port>):");
            await output.WriteLineAsync($"  \"{peer}\": {{ \"default\": [ {{ \"ip\": \"<host>\", \"port\": <port>, \"useSSL\": true, {identity}, \"caFile\": \"{caFile}\", \"peer_party\": \"{peer}\" }} ] }}");
        }

        await output.WriteLineAsync("Then check each route step by step (DNS, TCP, TLS, certificate, party, a round trip): sitex check <party> --route-table route_table.json");
    }

    private static async Task<(string[] Dns, IPAddress[] Addresses)?> ParseNamesAsync(string[]? dns, string[]? ips, TextWriter error)
    {
        var names = (dns ?? []).SelectMany(d => d.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)).ToArray();
        var addresses = new List<IPAddress>();
        foreach (var text in (ips ?? []).SelectMany(i => i.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)))
        {
            if (!IPAddress.TryParse(text, out var address))
            {
                await error.WriteLineAsync($"sitex: --ip \"{text}\" is not an IP address");
                return null;
            }

            addresses.Add(address);
        }

        var bad = names.FirstOrDefault(n => Uri.CheckHostName(n) != UriHostNameType.Dns);
        if (bad is not null)
        {
            await error.WriteLineAsync($"sitex: --dns \"{bad}\" is not a DNS name");
            return null;
        }

        return names.Length == 0 && addresses.Count == 0 ? LocalNames : (names, [.. addresses]);
    }

    private static async Task<bool> CheckDaysAsync(int days, TextWriter error)
    {
        if (days is >= 1 and <= 3650)
        {
            return true;
        }

        await error.WriteLineAsync($"sitex: --days {days} is out of range; use 1 to 3650");
        return false;
    }

    /// <summary>Creates the directory; refuses to overwrite existing files without --force, and removes them with it
    /// (so a key file is created anew with mode 0600, whatever the old file's mode was).</summary>
    internal static async Task<bool> PrepareAsync(DirectoryInfo directory, IEnumerable<string> files, bool force, TextWriter error)
    {
        try
        {
            directory.Create();
            foreach (var file in files)
            {
                var path = Path.Combine(directory.FullName, file);
                if (!File.Exists(path))
                {
                    continue;
                }

                if (!force)
                {
                    await error.WriteLineAsync($"sitex: {path} exists; choose another --out, or add --force to overwrite it");
                    return false;
                }

                File.Delete(path);
            }

            return true;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            await error.WriteLineAsync($"sitex: cannot write to {directory.FullName}: {ex.Message}");
            return false;
        }
    }

    private static async Task<int> RunAsync(TextWriter error, Func<Task> action)
    {
        try
        {
            await action();
            return 0;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or ArgumentException or CryptographicException)
        {
            await error.WriteLineAsync($"sitex: {ex.Message}");
            return 1;
        }
    }

    private static string Date(DateTime time) => time.ToUniversalTime().ToString("yyyy-MM-dd HH:mm 'UTC'", CultureInfo.InvariantCulture);
}
