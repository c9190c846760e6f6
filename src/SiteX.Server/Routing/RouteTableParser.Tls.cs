using System.Text.Json;

namespace SiteX.Server.Routing;

/// <summary>TLS fields of an endpoint (OSX's, plus SiteX's pinned party), and the keys SiteX refuses.</summary>
public static partial class RouteTableParser
{
    /// <summary>Keys (compared without case, '_' and '-') that would turn certificate checking off in other tools.
    /// SiteX has no such switch; a table that asks for one is refused, so nobody believes it took effect.</summary>
    private static readonly HashSet<string> s_verificationSwitches = new(StringComparer.Ordinal)
    {
        "insecure", "insecureskipverify", "skipverify", "skiptlsverify", "skipsslverify", "noverify", "verify", "verifyssl",
        "verifytls", "sslverify", "tlsverify", "verifypeer", "verifyserver", "verifyservercert", "verifyservercertificate",
        "verifycert", "verifycertificate", "verifyhostname", "verifyhost", "hostnameverification", "hostnameverifier",
        "hostnameverify", "checkhostname", "checkserveridentity", "trustall", "trustallcerts", "trustallcertificates",
        "trustselfsigned", "acceptanycertificate", "acceptallcertificates", "allowinsecure", "allowuntrusted",
        "allowinvalidcertificates", "ignorecerterrors", "ignoresslerrors", "ignoretlserrors", "ignorecertificateerrors",
        "disableverification", "disabletlsverification", "disablesslverification", "disablecertificatevalidation",
        "validatecert", "validatecertificate", "validateserver", "servercertificatevalidation", "sslvalidate",
    };

    /// <summary>The TLS fields of one endpoint object or flat rule, as written (empty strings count as absent, as
    /// OSX's templates write them).</summary>
    private readonly record struct TlsFields(
        bool UseKeyStore, string? KeyStoreFile, string? KeyStorePassword, string? TrustStoreFile, string? TrustStorePassword,
        string? CertChainFile, string? PrivateKeyFile, string? CaFile, string? Hostname, string? PeerParty, PeerIdentitySource PeerIdentity)
    {
        public EndpointConfig ApplyTo(EndpointConfig endpoint) => endpoint with
        {
            UseKeyStore = UseKeyStore,
            KeyStoreFile = KeyStoreFile,
            KeyStorePassword = KeyStorePassword,
            TrustStoreFile = TrustStoreFile,
            TrustStorePassword = TrustStorePassword,
            CertChainFile = CertChainFile,
            PrivateKeyFile = PrivateKeyFile,
            CaFile = CaFile,
            Hostname = Hostname,
            PeerParty = PeerParty,
            PeerIdentity = PeerIdentity,
        };
    }

    private static TlsFields ReadTlsFields(JsonElement item, string path, List<RouteTableError> errors)
    {
        CheckVerificationSwitches(item, path, errors);
        var peerIdentity = PeerIdentitySource.UriSan;
        var identityText = NonEmpty(ReadString(item, "peer_identity", path, errors));
        if (identityText is not null)
        {
            switch (identityText)
            {
                case "uri_san":
                    break;
                case "common_name":
                    peerIdentity = PeerIdentitySource.CommonName;
                    break;
                default:
                    errors.Add(new($"{path}.peer_identity", $"\"{Truncate(identityText)}\" is not an identity source; use \"uri_san\" (the certificate's urn:sitex:party:<id> name, the default) or \"common_name\" (its CN)"));
                    break;
            }
        }

        var peerParty = NonEmpty(ReadString(item, "peer_party", path, errors));
        if (peerParty is not null && !IsValidId(peerParty))
        {
            errors.Add(new($"{path}.peer_party", $"\"{Truncate(peerParty)}\" is not a valid party id; use 1-128 letters, digits, '.', '_' or '-'"));
        }

        var hostname = NonEmpty(ReadString(item, "hostname", path, errors));
        if (hostname is not null && !IsValidHost(hostname))
        {
            errors.Add(new($"{path}.hostname", $"\"{Truncate(hostname)}\" is not a host name or IP address; write the name the peer's certificate carries, such as \"gateway.party10000.example\""));
        }

        return new TlsFields(
            UseKeyStore: ReadBool(item, "useKeyStore", path, errors) ?? false,
            KeyStoreFile: ReadAliased(item, "keyStoreFile", "keyStoreFilePath", path, errors),
            KeyStorePassword: NonEmpty(ReadString(item, "keyStorePassword", path, errors)),
            TrustStoreFile: ReadAliased(item, "trustStoreFile", "trustStoreFilePath", path, errors),
            TrustStorePassword: NonEmpty(ReadString(item, "trustStorePassword", path, errors)),
            CertChainFile: NonEmpty(ReadString(item, "certChainFile", path, errors)),
            PrivateKeyFile: NonEmpty(ReadString(item, "privateKeyFile", path, errors)),
            CaFile: NonEmpty(ReadString(item, "caFile", path, errors)),
            Hostname: hostname,
            PeerParty: peerParty,
            PeerIdentity: peerIdentity);
    }

    /// <summary>OSX's loader reads <c>keyStoreFile</c>, its admin API writes <c>keyStoreFilePath</c> (wire-contract,
    /// lessons 7.1.9); SiteX reads both, and refuses two different values.</summary>
    private static string? ReadAliased(JsonElement item, string name, string alias, string path, List<RouteTableError> errors)
    {
        var value = NonEmpty(ReadString(item, name, path, errors));
        var aliased = NonEmpty(ReadString(item, alias, path, errors));
        if (value is not null && aliased is not null && value != aliased)
        {
            errors.Add(new($"{path}.{alias}", $"names another file than \"{name}\" (OSX's admin API writes \"{alias}\", its loader reads \"{name}\"); keep one of them"));
        }

        return value ?? aliased;
    }

    private static void CheckVerificationSwitches(JsonElement item, string path, List<RouteTableError> errors)
    {
        foreach (var property in item.EnumerateObject())
        {
            var normalized = new string(property.Name.Where(c => c is not '_' and not '-' and not '.').Select(char.ToLowerInvariant).ToArray());
            if (s_verificationSwitches.Contains(normalized) || normalized.Contains("insecure", StringComparison.Ordinal))
            {
                errors.Add(new($"{path}.{property.Name}",
                    $"would turn off checking the peer's certificate, and SiteX has no such setting: a connection whose certificate is not checked can be intercepted without anyone noticing. " +
                    "Remove it. To trust a private CA set \"caFile\" (or \"trustStoreFile\"); to accept a certificate issued for another name than the address set \"hostname\"; `sitex check <party>` shows what fails"));
            }
        }
    }

    /// <summary>TLS fields only mean something on a TLS endpoint; on a plain one they would be silently unused, and
    /// the connection would be plain text although the table names certificates.</summary>
    private static void CheckTlsConsistency(EndpointConfig endpoint, string path, bool flat, List<RouteTableError> errors)
    {
        if (endpoint.Protocol == EndpointProtocol.Http && endpoint.Url is not null && Uri.TryCreate(endpoint.Url, UriKind.Absolute, out var uri)
            && uri.Scheme == Uri.UriSchemeHttp && endpoint.UseTls)
        {
            errors.Add(new($"{path}.url", $"the endpoint asks for TLS but the url \"{Truncate(endpoint.Url)}\" is http://, which would be plain text; write https://"));
            return;
        }

        if (!endpoint.UseTls && endpoint.HasTlsFields)
        {
            var fields = new List<string>();
            void Add(bool set, string name)
            {
                if (set)
                {
                    fields.Add(name);
                }
            }

            Add(endpoint.UseKeyStore, "useKeyStore");
            Add(endpoint.KeyStoreFile is not null, "keyStoreFile");
            Add(endpoint.TrustStoreFile is not null, "trustStoreFile");
            Add(endpoint.CertChainFile is not null, "certChainFile");
            Add(endpoint.PrivateKeyFile is not null, "privateKeyFile");
            Add(endpoint.CaFile is not null, "caFile");
            Add(endpoint.PeerParty is not null, "peer_party");
            var fix = flat
                ? "use a grpcs:// or https:// endpoint (or \"protocol\": \"grpcs\"/\"https\")"
                : endpoint.Protocol == EndpointProtocol.Http ? "use an https:// url" : "set \"useSSL\": true";
            errors.Add(new(path, $"sets {string.Join(", ", fields)} but does not use TLS, so the connection would be plain text and they would be ignored; {fix}, or remove them"));
        }
    }

    private static string? NonEmpty(string? value) => string.IsNullOrWhiteSpace(value) ? null : value;
}
