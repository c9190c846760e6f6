using System.Security.Cryptography.X509Certificates;
using SiteX.FunctionalTests.Infrastructure;
using SiteX.Samples;
using SiteX.Server.Configuration;

namespace SiteX.FunctionalTests.Security;

/// <summary>
/// Gateway B (party 10000) with its inter-site TLS ports open, its Echo service and a fake FATE-Flow behind it, and a
/// CA that issued B's certificate and the certificate of peer gateway A (party 9999). Peers are played by
/// <see cref="PeerClient"/>s presenting A's certificate.
/// </summary>
internal sealed record TlsSite(TestGateway B, RunningSample Echo, FakeFateServer FateFlow, TestPki Pki, X509Certificate2 Ca, X509Certificate2 ServerCertificate, X509Certificate2 PeerA)
{
    public const string PartyA = "9999";
    public const string PartyB = "10000";

    public static Task<TlsSite> StartAsync(TestCluster cluster, Action<TlsOptions>? configure = null) =>
        StartAsync(cluster, (tls, _, _) => configure?.Invoke(tls));

    /// <summary>Starts B; <paramref name="configure"/> may change its TLS settings and write other certificate files
    /// with the test's PKI and the sites' CA; <paramref name="gateway"/> may change its other settings.</summary>
    public static async Task<TlsSite> StartAsync(TestCluster cluster, Action<TlsOptions, TestPki, X509Certificate2> configure, Action<SiteXOptions>? gateway = null)
    {
        var pki = new TestPki(cluster.Temp.Combine("pki"));
        var ca = pki.Authority("sites CA");
        var server = pki.Site(ca, PartyB);
        var peerA = pki.Site(ca, PartyA);
        var tls = pki.Options(server, pki.WriteCa("ca.pem", ca));
        configure(tls, pki, ca);
        var echo = await cluster.StartSampleAsync("echo-b");
        var fateflow = await cluster.StartFakeFateAsync("fateflow-b");
        var b = await cluster.StartGatewayAsync("B", PartyB, RouteJson.Osx(PartyB, new Route(PartyB, "echo", echo.Port), new Route(PartyB, "fateflow", fateflow.Port)),
            configure: options =>
            {
                options.Tls = tls;
                gateway?.Invoke(options);
            });
        return new TlsSite(b, echo, fateflow, pki, ca, server, peerA);
    }

    /// <summary>The file of the CA that issued B's certificate, for routes to B's TLS ports.</summary>
    public string CaFile => Pki.Path("ca.pem");

    /// <summary>A peer gateway of party 9999: A's certificate, trusting the sites' CA.</summary>
    public PeerClient PeerA9999() => new(PeerA, Ca);
}
