using System.Net.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using SiteX.Server.Configuration;

namespace SiteX.Server.Security;

/// <summary>
/// Turns the configured TLS files into a <see cref="TlsMaterial"/>: a PEM certificate chain with a PKCS#8 (plain or
/// encrypted), PKCS#1 or SEC1 key, or a PKCS#12 file; and a PEM CA bundle. Every problem is a
/// <see cref="TlsConfigurationException"/> that names the setting, the file and what is wrong with it.
/// </summary>
internal static class TlsMaterialLoader
{
    private const string RsaOid = "1.2.840.113549.1.1.1";
    private const string EcOid = "1.2.840.10045.2.1";
    private const string ServerAuthOid = "1.3.6.1.5.5.7.3.1";

    /// <summary>Checks the combination of settings (not the files). Throws when the TLS ports cannot be opened.</summary>
    public static void CheckSettings(TlsOptions options)
    {
        var hasPem = !string.IsNullOrWhiteSpace(options.CertFile);
        var hasPkcs12 = !string.IsNullOrWhiteSpace(options.Pkcs12File);
        if (hasPem && hasPkcs12)
        {
            throw new TlsConfigurationException($"both {TlsSettings.CertFile} and {TlsSettings.Pkcs12File} are set; set one: a PEM certificate (with {TlsSettings.KeyFile}) or a PKCS#12 file");
        }

        if (!hasPem && !string.IsNullOrWhiteSpace(options.KeyFile))
        {
            throw new TlsConfigurationException($"{TlsSettings.KeyFile} is set without {TlsSettings.CertFile}; set the certificate too (--tls-cert)");
        }

        if (string.IsNullOrWhiteSpace(options.CaFile))
        {
            throw new TlsConfigurationException($"{TlsSettings.CaFile} is not set; name the PEM bundle of the CAs that issue your peers' certificates (--tls-ca): only they are trusted");
        }
    }

    public static TlsMaterial Load(TlsOptions options, TlsFileSet files, DateTimeOffset now)
    {
        CheckSettings(options);
        var (certificate, chain, source) = files[TlsSettings.Pkcs12File] is { } pkcs12
            ? LoadPkcs12(pkcs12, options.Pkcs12Password)
            : LoadPem(files[TlsSettings.CertFile]!, files[TlsSettings.KeyFile], options.KeyPassword);

        CheckUsable(certificate, source, now);
        var caFile = files[TlsSettings.CaFile]!;
        var authorities = LoadAuthorities(caFile);
        var context = SslStreamCertificateContext.Create(certificate, chain, offline: true);
        return new TlsMaterial
        {
            Certificate = certificate,
            CertificateContext = context,
            TrustedAuthorities = authorities,
            FileHash = files.Hash,
            Source = source,
            CaFile = caFile.Path,
        };
    }

    /// <summary>The CA bundle: PEM certificates only (other blocks are ignored).</summary>
    public static X509Certificate2Collection LoadAuthorities(TlsFile file)
    {
        var authorities = new X509Certificate2Collection();
        try
        {
            authorities.ImportFromPem(Encoding.UTF8.GetString(file.Bytes));
        }
        catch (CryptographicException ex)
        {
            throw new TlsConfigurationException($"{file.Describe()}: a certificate in the bundle cannot be read ({ex.Message})");
        }

        if (authorities.Count == 0)
        {
            throw new TlsConfigurationException($"{file.Describe()}: holds no certificate; it must be a PEM bundle of CA certificates (-----BEGIN CERTIFICATE-----)");
        }

        return authorities;
    }

    private static (X509Certificate2 Certificate, X509Certificate2Collection Chain, string Source) LoadPem(TlsFile certFile, TlsFile? keyFile, string? keyPassword)
    {
        var certText = Encoding.UTF8.GetString(certFile.Bytes);
        var certificates = new X509Certificate2Collection();
        try
        {
            certificates.ImportFromPem(certText);
        }
        catch (CryptographicException ex)
        {
            throw new TlsConfigurationException($"{certFile.Describe()}: a certificate cannot be read ({ex.Message})");
        }

        if (certificates.Count == 0)
        {
            throw new TlsConfigurationException($"{certFile.Describe()}: holds no certificate (-----BEGIN CERTIFICATE-----)");
        }

        var leaf = certificates[0];
        var chain = new X509Certificate2Collection();
        for (var i = 1; i < certificates.Count; i++)
        {
            chain.Add(certificates[i]);
        }

        var keySource = keyFile ?? certFile;
        var keyText = keyFile is null ? certText : Encoding.UTF8.GetString(keyFile.Bytes);
        if (!HasKeyBlock(keyText, out var encrypted))
        {
            throw keyFile is null
                ? new TlsConfigurationException($"{certFile.Describe()}: holds no private key and {TlsSettings.KeyFile} is not set; name the key file (--tls-key)")
                : new TlsConfigurationException($"{keyFile.Describe()}: holds no private key (-----BEGIN PRIVATE KEY-----, BEGIN ENCRYPTED PRIVATE KEY, BEGIN RSA PRIVATE KEY or BEGIN EC PRIVATE KEY)");
        }

        if (encrypted && string.IsNullOrEmpty(keyPassword))
        {
            throw new TlsConfigurationException($"{keySource.Describe()}: the private key is encrypted; set Tls:KeyPassword");
        }

        X509Certificate2 withKey;
        try
        {
            withKey = leaf.GetKeyAlgorithm() switch
            {
                RsaOid => WithRsaKey(leaf, keyText, encrypted ? keyPassword : null),
                EcOid => WithEcdsaKey(leaf, keyText, encrypted ? keyPassword : null),
                var other => throw new TlsConfigurationException($"{certFile.Describe()}: the certificate's key type ({other}) is not supported; use an RSA or ECDSA key"),
            };
        }
        catch (Exception ex) when (ex is CryptographicException or ArgumentException)
        {
            var why = encrypted ? "cannot be decrypted with Tls:KeyPassword, or" : "cannot be read, or";
            throw new TlsConfigurationException($"{keySource.Describe()}: the private key {why} does not match the certificate in {certFile.Describe()}");
        }

        if (OperatingSystem.IsWindows())
        {
            // SChannel cannot use an ephemeral key for a server handshake; give it a persisted copy.
            using var ephemeral = withKey;
            withKey = X509CertificateLoader.LoadPkcs12(ephemeral.Export(X509ContentType.Pkcs12), null);
        }

        var source = keyFile is null ? certFile.Describe() : $"{certFile.Describe()} with {keyFile.Describe()}";
        return (withKey, chain, source);
    }

    private static X509Certificate2 WithRsaKey(X509Certificate2 leaf, string keyText, string? password)
    {
        using var rsa = RSA.Create();
        if (password is null)
        {
            rsa.ImportFromPem(keyText);
        }
        else
        {
            rsa.ImportFromEncryptedPem(keyText, password);
        }

        return leaf.CopyWithPrivateKey(rsa);
    }

    private static X509Certificate2 WithEcdsaKey(X509Certificate2 leaf, string keyText, string? password)
    {
        using var ecdsa = ECDsa.Create();
        if (password is null)
        {
            ecdsa.ImportFromPem(keyText);
        }
        else
        {
            ecdsa.ImportFromEncryptedPem(keyText, password);
        }

        return leaf.CopyWithPrivateKey(ecdsa);
    }

    private static bool HasKeyBlock(string text, out bool encrypted)
    {
        encrypted = false;
        var rest = text.AsSpan();
        while (PemEncoding.TryFind(rest, out var fields))
        {
            var label = rest[fields.Label];
            if (label is "PRIVATE KEY" or "RSA PRIVATE KEY" or "EC PRIVATE KEY")
            {
                return true;
            }

            if (label is "ENCRYPTED PRIVATE KEY")
            {
                encrypted = true;
                return true;
            }

            rest = rest[fields.Location.End..];
        }

        return false;
    }

    private static (X509Certificate2 Certificate, X509Certificate2Collection Chain, string Source) LoadPkcs12(TlsFile file, string? password)
    {
        X509Certificate2Collection all;
        try
        {
            all = X509CertificateLoader.LoadPkcs12Collection(file.Bytes, password);
        }
        catch (CryptographicException)
        {
            throw new TlsConfigurationException($"{file.Describe()}: cannot be opened; the password (Tls:Pkcs12Password) is wrong or it is not a PKCS#12 file");
        }

        var leaf = all.FirstOrDefault(c => c.HasPrivateKey)
            ?? throw new TlsConfigurationException($"{file.Describe()}: holds no certificate with a private key");
        var chain = new X509Certificate2Collection();
        foreach (var certificate in all)
        {
            if (!ReferenceEquals(certificate, leaf))
            {
                chain.Add(certificate);
            }
        }

        return (leaf, chain, file.Describe());
    }

    private static void CheckUsable(X509Certificate2 certificate, string source, DateTimeOffset now)
    {
        if (now < certificate.NotBefore.ToUniversalTime())
        {
            throw new TlsConfigurationException($"{source}: the certificate is not valid before {certificate.NotBefore.ToUniversalTime():u}");
        }

        if (now > certificate.NotAfter.ToUniversalTime())
        {
            throw new TlsConfigurationException($"{source}: the certificate expired on {certificate.NotAfter.ToUniversalTime():u}");
        }

        var usage = certificate.Extensions.OfType<X509EnhancedKeyUsageExtension>().FirstOrDefault();
        if (usage is not null && !usage.EnhancedKeyUsages.Cast<Oid>().Any(o => o.Value == ServerAuthOid))
        {
            throw new TlsConfigurationException($"{source}: the certificate may not be used by a TLS server: its extended key usage lacks serverAuth ({ServerAuthOid})");
        }
    }
}
