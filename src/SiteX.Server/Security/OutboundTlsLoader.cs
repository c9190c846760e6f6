using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using SiteX.Server.Routing;

namespace SiteX.Server.Security;

/// <summary>
/// Reads the TLS files a route table names (client certificate and key as PEM or PKCS#12, CA certificates as PEM or
/// a PKCS#12 trust store) and attaches the result to each TLS endpoint (<see cref="EndpointConfig.Tls"/>). Every
/// problem is reported with the JSON path of the endpoint and a fix, like the parser's errors, so a bad file keeps
/// the previous table serving. Relative paths are relative to <c>baseDirectory</c> (the route table's directory).
/// </summary>
internal static class OutboundTlsLoader
{
    /// <summary>Loads the TLS material of every TLS endpoint of <paramref name="config"/>. Returns the table with the
    /// material attached, or null with the errors.</summary>
    public static RouteTableConfig? Load(RouteTableConfig config, string baseDirectory, out IReadOnlyList<RouteTableError> errors)
    {
        var list = new List<RouteTableError>();
        errors = list;
        var loaded = new Dictionary<EndpointConfig, (OutboundTls? Tls, List<(string Field, string Message)> Problems)>();
        var rules = new List<RouteRuleConfig>(config.Rules.Count);
        foreach (var rule in config.Rules)
        {
            var endpoints = new List<EndpointConfig>(rule.Endpoints.Count);
            for (var i = 0; i < rule.Endpoints.Count; i++)
            {
                var endpoint = rule.Endpoints[i] with { Tls = null };
                if (!endpoint.UseTls)
                {
                    endpoints.Add(endpoint);
                    continue;
                }

                // Equal TLS fields are read once per load. The key ignores where the endpoint points.
                var key = endpoint with { Host = null, Port = 0, Url = null, Protocol = EndpointProtocol.Grpc };
                if (!loaded.TryGetValue(key, out var result))
                {
                    var problems = new List<(string, string)>();
                    result = (Read(endpoint, baseDirectory, problems), problems);
                    loaded[key] = result;
                }

                var path = config.Format == RouteTableFormat.Osx ? $"{rule.Path}[{i}]" : rule.Path;
                foreach (var (field, message) in result.Problems)
                {
                    list.Add(new RouteTableError(field.Length == 0 ? path : $"{path}.{field}", message));
                }

                endpoints.Add(endpoint with { Tls = result.Tls });
            }

            rules.Add(rule with { Endpoints = endpoints });
        }

        return list.Count > 0 ? null : config with { Rules = rules };
    }

    /// <summary>Reads one endpoint's TLS material; problems are (field, message) pairs.</summary>
    internal static OutboundTls? Read(EndpointConfig endpoint, string baseDirectory, List<(string Field, string Message)> problems)
    {
        if (endpoint.CertChainFile is null && endpoint.PrivateKeyFile is null && endpoint.CaFile is null
            && endpoint.KeyStoreFile is null && endpoint.TrustStoreFile is null && !endpoint.UseKeyStore)
        {
            return OutboundTls.WithoutFiles(endpoint);
        }

        var files = new List<string>();
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        void Mix(string? text) => hash.AppendData(Encoding.UTF8.GetBytes((text ?? "\0") + "\n"));
        Mix("sitex-outbound-tls-v1");
        Mix(endpoint.UseKeyStore ? "keystore" : "pem");
        Mix(endpoint.KeyStorePassword);
        Mix(endpoint.TrustStorePassword);
        Mix(endpoint.Hostname);
        Mix(endpoint.PeerParty);
        Mix(endpoint.PeerIdentity.ToString());

        byte[]? ReadFile(string field, string? name)
        {
            if (name is null)
            {
                Mix(null);
                return null;
            }

            var full = Path.GetFullPath(Path.Combine(baseDirectory, name));
            try
            {
                var bytes = File.ReadAllBytes(full);
                files.Add(full);
                Mix(full);
                hash.AppendData(bytes);
                return bytes;
            }
            catch (FileNotFoundException)
            {
                problems.Add((field, $"file {full} does not exist{RelativeHint(name, baseDirectory)}"));
            }
            catch (DirectoryNotFoundException)
            {
                problems.Add((field, $"file {full} does not exist (its directory is missing){RelativeHint(name, baseDirectory)}"));
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                problems.Add((field, $"cannot read {full}: {ex.Message}; the gateway's user must be able to read it"));
            }

            return null;
        }

        X509Certificate2? client = null;
        var clientChain = new X509Certificate2Collection();
        if (endpoint.UseKeyStore)
        {
            if (endpoint.KeyStoreFile is null)
            {
                problems.Add(("keyStoreFile", "is missing, but \"useKeyStore\" is true; name the PKCS#12 file holding this site's certificate and key, or set \"useKeyStore\": false and use \"certChainFile\" and \"privateKeyFile\""));
            }
            else if (ReadFile("keyStoreFile", endpoint.KeyStoreFile) is { } bytes)
            {
                client = LoadKeyStore(bytes, endpoint.KeyStoreFile, endpoint.KeyStorePassword, clientChain, problems);
            }

            if (endpoint.CertChainFile is not null || endpoint.PrivateKeyFile is not null)
            {
                problems.Add((endpoint.CertChainFile is not null ? "certChainFile" : "privateKeyFile", "is set, but \"useKeyStore\" is true, so the client certificate comes from \"keyStoreFile\"; remove one of them"));
            }
        }
        else if (endpoint.KeyStoreFile is not null)
        {
            problems.Add(("keyStoreFile", "is set, but \"useKeyStore\" is not true, so it would be ignored; set \"useKeyStore\": true to present its certificate, or remove it"));
        }
        else if ((endpoint.CertChainFile is null) != (endpoint.PrivateKeyFile is null))
        {
            problems.Add(endpoint.CertChainFile is null
                ? ("certChainFile", "is missing, but \"privateKeyFile\" is set; a client certificate needs both (or neither, for TLS without a client certificate)")
                : ("privateKeyFile", "is missing, but \"certChainFile\" is set; a client certificate needs both (or neither, for TLS without a client certificate)"));
        }
        else if (endpoint.CertChainFile is not null)
        {
            var certBytes = ReadFile("certChainFile", endpoint.CertChainFile);
            var keyBytes = ReadFile("privateKeyFile", endpoint.PrivateKeyFile);
            if (certBytes is not null && keyBytes is not null)
            {
                client = LoadPem(certBytes, keyBytes, clientChain, problems);
            }
        }

        X509Certificate2Collection? anchors = null;
        var sources = new List<string>();
        if (endpoint.CaFile is not null && ReadFile("caFile", endpoint.CaFile) is { } caBytes)
        {
            anchors = [];
            var count = LoadCertificates(caBytes, anchors);
            if (count == 0)
            {
                problems.Add(("caFile", "holds no certificate; give the PEM file (-----BEGIN CERTIFICATE-----) of the CA that issued the peers' certificates"));
            }

            sources.Add($"caFile {Path.GetFullPath(Path.Combine(baseDirectory, endpoint.CaFile))}");
        }

        if (endpoint.TrustStoreFile is not null && ReadFile("trustStoreFile", endpoint.TrustStoreFile) is { } trustBytes)
        {
            anchors ??= [];
            var before = anchors.Count;
            var problemsBefore = problems.Count;
            LoadTrustStore(trustBytes, endpoint.TrustStoreFile, endpoint.TrustStorePassword, anchors, problems);
            if (anchors.Count == before && problems.Count == problemsBefore)
            {
                problems.Add(("trustStoreFile", "holds no certificate; put the CA certificates that issued the peers' certificates in it"));
            }

            sources.Add($"trustStoreFile {Path.GetFullPath(Path.Combine(baseDirectory, endpoint.TrustStoreFile))}");
        }

        if (problems.Count > 0)
        {
            return null;
        }

        var fingerprint = Convert.ToHexString(hash.GetHashAndReset());
        return new OutboundTls(fingerprint, client, clientChain, anchors, sources.Count > 0 ? string.Join(" and ", sources) : "the system's trusted roots",
            endpoint.Hostname, endpoint.PeerParty, endpoint.PeerIdentity, files);
    }

    private static X509Certificate2? LoadPem(byte[] certBytes, byte[] keyBytes, X509Certificate2Collection chain, List<(string, string)> problems)
    {
        var certificates = new X509Certificate2Collection();
        if (LoadCertificates(certBytes, certificates) == 0)
        {
            problems.Add(("certChainFile", "holds no certificate; give this site's certificate as PEM (-----BEGIN CERTIFICATE-----), followed by any intermediate CA certificates"));
            return null;
        }

        var leaf = certificates[0];
        for (var i = 1; i < certificates.Count; i++)
        {
            chain.Add(certificates[i]);
        }

        var keyText = Encoding.ASCII.GetString(keyBytes);
        var label = FindKeyLabel(keyText);
        switch (label)
        {
            case null:
                problems.Add(("privateKeyFile", "holds no PEM private key; give the key as PKCS#8 (-----BEGIN PRIVATE KEY-----) or PKCS#1 (-----BEGIN RSA PRIVATE KEY-----)"));
                return null;
            case "ENCRYPTED PRIVATE KEY":
                problems.Add(("privateKeyFile", "is encrypted; give the key unencrypted in a file only the gateway's user can read (mode 0600), or use a PKCS#12 key store (\"useKeyStore\": true, \"keyStoreFile\", \"keyStorePassword\")"));
                return null;
        }

        var certificateKind = KeyKind(leaf);
        try
        {
            if (label == "RSA PRIVATE KEY")
            {
                using var rsa = RSA.Create();
                try
                {
                    rsa.ImportFromPem(keyText);
                }
                catch (CryptographicException)
                {
                    problems.Add(("privateKeyFile", "is labelled RSA PRIVATE KEY (PKCS#1) but does not hold a readable RSA key; PKCS#1 holds RSA keys only: write other keys as PKCS#8 (-----BEGIN PRIVATE KEY-----)"));
                    return null;
                }

                if (certificateKind != "RSA")
                {
                    problems.Add(("privateKeyFile", $"holds a PKCS#1 RSA key, but the certificate in certChainFile has a {certificateKind} key; PKCS#1 can only hold RSA keys: give the certificate's own key, as PKCS#8 (-----BEGIN PRIVATE KEY-----)"));
                    return null;
                }

                return Portable(leaf.CopyWithPrivateKey(rsa));
            }

            if (certificateKind == "RSA")
            {
                using var rsa = RSA.Create();
                if (!TryImport(rsa, keyText))
                {
                    problems.Add(("privateKeyFile", $"does not hold an RSA key, but the certificate in certChainFile has an RSA key{OtherKindHint(keyText)}; give the key that was created with this certificate"));
                    return null;
                }

                return Portable(leaf.CopyWithPrivateKey(rsa));
            }

            if (certificateKind == "ECDSA")
            {
                using var ecdsa = ECDsa.Create();
                if (!TryImport(ecdsa, keyText))
                {
                    problems.Add(("privateKeyFile", $"does not hold an ECDSA key, but the certificate in certChainFile has an ECDSA key{OtherKindHint(keyText)}; give the key that was created with this certificate"));
                    return null;
                }

                return Portable(leaf.CopyWithPrivateKey(ecdsa));
            }

            problems.Add(("certChainFile", $"has a {certificateKind} key, which SiteX cannot use for TLS; use an RSA or ECDSA certificate"));
            return null;
        }
        catch (ArgumentException)
        {
            problems.Add(("privateKeyFile", "does not belong to the certificate in certChainFile (their public keys differ); give the key that was created with this certificate, or the certificate issued for this key"));
            return null;
        }
        catch (CryptographicException ex)
        {
            problems.Add(("privateKeyFile", $"cannot be used with the certificate in certChainFile: {ex.Message}"));
            return null;
        }
    }

    private static X509Certificate2? LoadKeyStore(byte[] bytes, string name, string? password, X509Certificate2Collection chain, List<(string, string)> problems)
    {
        var collection = LoadPkcs12(bytes, name, password, "keyStoreFile", "keyStorePassword", problems);
        if (collection is null)
        {
            return null;
        }

        X509Certificate2? leaf = null;
        foreach (var certificate in collection)
        {
            if (leaf is null && certificate.HasPrivateKey)
            {
                leaf = certificate;
            }
            else if (!IsSelfSigned(certificate))
            {
                chain.Add(certificate);
            }
        }

        if (leaf is null)
        {
            problems.Add(("keyStoreFile", "holds no certificate with a private key; a client key store needs this site's certificate and its key"));
            return null;
        }

        return Portable(leaf);
    }

    private static void LoadTrustStore(byte[] bytes, string name, string? password, X509Certificate2Collection anchors, List<(string, string)> problems)
    {
        // A PEM or DER CA file given as a trust store works too.
        if (!LooksLikePkcs12OrJks(bytes) && LoadCertificates(bytes, anchors) > 0)
        {
            return;
        }

        var collection = LoadPkcs12(bytes, name, password, "trustStoreFile", "trustStorePassword", problems);
        if (collection is not null)
        {
            anchors.AddRange(collection);
        }
    }

    private static X509Certificate2Collection? LoadPkcs12(byte[] bytes, string name, string? password, string field, string passwordField, List<(string, string)> problems)
    {
        if (bytes.Length >= 4 && bytes[0] == 0xFE && bytes[1] == 0xED && bytes[2] == 0xFE && bytes[3] == 0xED)
        {
            problems.Add((field, $"is a Java KeyStore (JKS), which SiteX cannot read; convert it to PKCS#12: keytool -importkeystore -srckeystore {name} -destkeystore {name}.p12 -deststoretype PKCS12"));
            return null;
        }

        try
        {
            return X509CertificateLoader.LoadPkcs12Collection(bytes, password, X509KeyStorageFlags.EphemeralKeySet, Pkcs12LoaderLimits.Defaults);
        }
        catch (CryptographicException) when (string.IsNullOrEmpty(password))
        {
            problems.Add((field, $"cannot be opened without a password; set \"{passwordField}\" (or it is not a PKCS#12 file)"));
        }
        catch (CryptographicException)
        {
            problems.Add((field, $"cannot be opened with \"{passwordField}\": the password is wrong, or it is not a PKCS#12 file"));
        }
        catch (PlatformNotSupportedException)
        {
            // Ephemeral keys are not supported on macOS; fall back to the default storage.
            try
            {
                return X509CertificateLoader.LoadPkcs12Collection(bytes, password, X509KeyStorageFlags.DefaultKeySet, Pkcs12LoaderLimits.Defaults);
            }
            catch (CryptographicException)
            {
                problems.Add((field, $"cannot be opened with \"{passwordField}\": the password is wrong, or it is not a PKCS#12 file"));
            }
        }

        return null;
    }

    /// <summary>Adds every certificate of a PEM (or single DER) file to <paramref name="into"/>; returns how many.</summary>
    private static int LoadCertificates(byte[] bytes, X509Certificate2Collection into)
    {
        var before = into.Count;
        var text = Encoding.ASCII.GetString(bytes);
        if (text.Contains("-----BEGIN CERTIFICATE-----", StringComparison.Ordinal))
        {
            try
            {
                into.ImportFromPem(text);
            }
            catch (CryptographicException)
            {
                return 0;
            }

            return into.Count - before;
        }

        try
        {
            into.Add(X509CertificateLoader.LoadCertificate(bytes));
            return 1;
        }
        catch (CryptographicException)
        {
            return 0;
        }
    }

    private static bool LooksLikePkcs12OrJks(byte[] bytes) =>
        bytes.Length >= 4 && ((bytes[0] == 0xFE && bytes[1] == 0xED) || (bytes[0] == 0x30 && !Encoding.ASCII.GetString(bytes, 0, Math.Min(bytes.Length, 64)).Contains("-----", StringComparison.Ordinal) && IsPfx(bytes)));

    private static bool IsPfx(byte[] bytes)
    {
        try
        {
            return X509Certificate2.GetCertContentType(bytes) == X509ContentType.Pfx;
        }
        catch (CryptographicException)
        {
            return false;
        }
    }

    private static string? FindKeyLabel(string text)
    {
        foreach (var label in (string[])["ENCRYPTED PRIVATE KEY", "RSA PRIVATE KEY", "EC PRIVATE KEY", "PRIVATE KEY"])
        {
            if (text.Contains($"-----BEGIN {label}-----", StringComparison.Ordinal))
            {
                return label;
            }
        }

        return null;
    }

    private static bool TryImport(AsymmetricAlgorithm key, string pem)
    {
        try
        {
            key.ImportFromPem(pem);
            return true;
        }
        catch (Exception ex) when (ex is CryptographicException or ArgumentException)
        {
            return false;
        }
    }

    private static string OtherKindHint(string pem)
    {
        using var rsa = RSA.Create();
        if (TryImport(rsa, pem))
        {
            return " (the file holds an RSA key)";
        }

        using var ecdsa = ECDsa.Create();
        return TryImport(ecdsa, pem) ? " (the file holds an ECDSA key)" : "";
    }

    private static string KeyKind(X509Certificate2 certificate) => certificate.PublicKey.Oid.Value switch
    {
        "1.2.840.113549.1.1.1" => "RSA",
        "1.2.840.10045.2.1" => "ECDSA",
        "1.3.101.112" => "Ed25519",
        "1.2.840.10040.4.1" => "DSA",
        var other => other ?? "unknown",
    };

    private static bool IsSelfSigned(X509Certificate2 certificate) => certificate.SubjectName.RawData.AsSpan().SequenceEqual(certificate.IssuerName.RawData);

    /// <summary>On Windows, SChannel needs a key it can find; elsewhere the key in memory is used as is.</summary>
    private static X509Certificate2 Portable(X509Certificate2 certificate) =>
        OperatingSystem.IsWindows() ? X509CertificateLoader.LoadPkcs12(certificate.Export(X509ContentType.Pkcs12), null) : certificate;

    private static string RelativeHint(string name, string baseDirectory) =>
        Path.IsPathRooted(name) ? "" : $" (relative paths are relative to the route table's directory, {baseDirectory})";
}
