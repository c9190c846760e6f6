using System.Collections.Concurrent;
using Grpc.Core;
using Microsoft.Extensions.DependencyInjection;
using SiteX.FunctionalTests.Infrastructure;
using SiteX.Samples.V1;
using SiteX.Server.Security;
using Xunit.Abstractions;

namespace SiteX.FunctionalTests.Security;

/// <summary>
/// Certificate and CA rotation on a running gateway: new files are picked up without a restart and without dropping
/// a connection, new connections see the new certificate, spurious file events change nothing, and a bad file is
/// refused while the last good certificate keeps serving. Every wait is on a signal (a reload event, a log entry, a
/// call count), never a sleep.
/// </summary>
public sealed class TlsRotationTests(ITestOutputHelper output)
{
    private static Metadata ToEcho() => TestCluster.Target(TlsSite.PartyB, "echo");

    private static Task<TlsMaterial> NextReloadAsync(TlsMaterialManager manager, Func<TlsMaterial, bool> match)
    {
        var signal = TestTcs.Create<TlsMaterial>();
        void OnReloaded(TlsMaterial material)
        {
            if (match(material) && signal.TrySetResult(material))
            {
                manager.Reloaded -= OnReloaded;
            }
        }

        manager.Reloaded += OnReloaded;
        return signal.Task;
    }

    private static async Task<string> PresentedToNewConnectionAsync(TlsSite site, params System.Security.Cryptography.X509Certificates.X509Certificate2[] trusted)
    {
        using var fresh = new PeerClient(site.PeerA, trusted);
        await new Echo.EchoClient(fresh.Channel(site.B.GrpcTlsPort)).UnaryAsync(new EchoRequest { Text = "fresh" }, ToEcho(), TestCluster.Deadline()).ResponseAsync.DefaultTimeout();
        return Assert.Single(fresh.ServerThumbprints);
    }

    [Fact]
    public async Task Rotation_UnderLoad_NoCallFails_NewConnectionsSeeTheNewCertificate_AndATouchReloadsNothing()
    {
        await using var cluster = new TestCluster(output);
        var site = await TlsSite.StartAsync(cluster);
        var tls = site.B.Server.Options.Tls;
        var manager = site.B.Server.Services.GetRequiredService<TlsMaterialManager>();
        var ca2 = site.Pki.Authority("sites CA 2");
        var applied = 0;
        manager.Reloaded += _ => Interlocked.Increment(ref applied);

        // Load: two gRPC callers multiplexed on one kept-alive HTTP/2 connection, and one HTTPS caller on one kept-alive
        // HTTP/1.1 connection, until told to stop.
        using var loadPeer = new PeerClient(site.PeerA, site.Ca, ca2);
        var echo = new Echo.EchoClient(loadPeer.Channel(site.B.GrpcTlsPort));
        var chan = new HttpChanClient(loadPeer.Http, site.B.HttpsPort, "rotation", TlsSite.PartyA, scheme: "https");
        var progress = new CallProgress();
        var failures = new ConcurrentQueue<string>();
        using var stop = new CancellationTokenSource();
        async Task GrpcLoopAsync()
        {
            while (!stop.IsCancellationRequested)
            {
                try
                {
                    await echo.UnaryAsync(new EchoRequest { Text = "load" }, ToEcho(), TestCluster.Deadline()).ResponseAsync;
                    progress.Increment();
                }
                catch (Exception ex)
                {
                    failures.Enqueue($"gRPC: {ex.Message}");
                }
            }
        }

        async Task HttpsLoopAsync()
        {
            while (!stop.IsCancellationRequested)
            {
                try
                {
                    var reply = await chan.PushAsync(TlsSite.PartyB, "load", "x"u8.ToArray());
                    if (reply.Code != SiteX.Protocol.PtpCodes.Success)
                    {
                        failures.Enqueue($"HTTPS: {reply.Raw}");
                    }

                    progress.Increment();
                }
                catch (Exception ex)
                {
                    failures.Enqueue($"HTTPS: {ex.Message}");
                }
            }
        }

        var load = Task.WhenAll(Task.Run(GrpcLoopAsync), Task.Run(GrpcLoopAsync), Task.Run(HttpsLoopAsync));
        try
        {
            await progress.WhenAtLeast(20).DefaultTimeout();

            // 1. The CA bundle gains the new CA (temporary file renamed over it).
            var bundle = NextReloadAsync(manager, m => m.TrustedAuthorities.Count == 2);
            TestGateway.WriteAtomically(tls.CaFile!, site.Ca.ExportCertificatePem() + "\n" + ca2.ExportCertificatePem() + "\n");
            await bundle.DefaultTimeout();

            // 2. A certificate from the new CA: the key, then the certificate, each renamed into place.
            var second = site.Pki.Site(ca2, TlsSite.PartyB);
            var secondLoaded = NextReloadAsync(manager, m => m.Certificate.Thumbprint == second.Thumbprint);
            var (secondCert, secondKey) = site.Pki.WritePem(second, "second");
            TestGateway.WriteAtomically(tls.KeyFile!, File.ReadAllText(secondKey));
            TestGateway.WriteAtomically(tls.CertFile!, File.ReadAllText(secondCert));
            await secondLoaded.DefaultTimeout();
            Assert.Equal(second.Thumbprint, await PresentedToNewConnectionAsync(site, site.Ca, ca2));
            await progress.WhenAtLeast(progress.Count + 20).DefaultTimeout();

            // 3. Another one, rewritten in place (truncate and write: a reader may see a half-written file).
            var third = site.Pki.Site(ca2, TlsSite.PartyB, algorithm: SiteKeyAlgorithm.Rsa2048);
            var thirdLoaded = NextReloadAsync(manager, m => m.Certificate.Thumbprint == third.Thumbprint);
            var (thirdCert, thirdKey) = site.Pki.WritePem(third, "third");
            await File.WriteAllTextAsync(tls.CertFile!, await File.ReadAllTextAsync(thirdCert));
            await File.WriteAllTextAsync(tls.KeyFile!, await File.ReadAllTextAsync(thirdKey));
            await thirdLoaded.DefaultTimeout();
            Assert.Equal(third.Thumbprint, await PresentedToNewConnectionAsync(site, site.Ca, ca2));
            await progress.WhenAtLeast(progress.Count + 20).DefaultTimeout();

            // 4. Spurious events: a touch, and the same bytes written again. Nothing is reloaded.
            var appliedBefore = Volatile.Read(ref applied);
            var unchanged = site.B.Logs.WaitForAsync(e => e.EventId.Id == 1403);
            File.SetLastWriteTimeUtc(tls.CertFile!, DateTime.UtcNow.AddMinutes(1));
            await File.WriteAllBytesAsync(tls.CaFile!, await File.ReadAllBytesAsync(tls.CaFile!));
            await unchanged.DefaultTimeout();
            await progress.WhenAtLeast(progress.Count + 20).DefaultTimeout();
            Assert.Equal(appliedBefore, Volatile.Read(ref applied));
            Assert.Equal(third.Thumbprint, manager.Current.Certificate.Thumbprint);
        }
        finally
        {
            await stop.CancelAsync();
            await load.DefaultTimeout();
        }

        Assert.True(failures.IsEmpty, string.Join(Environment.NewLine, failures.Take(10)));
        // The load's connections were never dropped: one HTTP/2 and one HTTP/1.1 connection, one handshake each, both
        // with the first certificate.
        Assert.Equal(2, loadPeer.Connections);
        Assert.Equal([site.ServerCertificate.Thumbprint, site.ServerCertificate.Thumbprint], loadPeer.ServerThumbprints);
        Assert.Equal(3, Volatile.Read(ref applied));
        cluster.AssertNoUnexpectedErrors();
    }

    [Fact]
    public async Task Reload_OfABadCertificateFile_IsRejected_AndTheLastGoodCertificateKeepsServing()
    {
        await using var cluster = new TestCluster(output);
        var site = await TlsSite.StartAsync(cluster);
        var tls = site.B.Server.Options.Tls;
        var manager = site.B.Server.Services.GetRequiredService<TlsMaterialManager>();
        var rejected = TestTcs.Create<string>();
        manager.ReloadRejected += problem => rejected.TrySetResult(problem);
        var other = site.Pki.Site(site.Ca, TlsSite.PartyB);

        // A certificate whose key is not in the key file.
        TestGateway.WriteAtomically(tls.CertFile!, other.ExportCertificatePem());

        var problem = await rejected.Task.DefaultTimeout();
        Assert.Contains("does not match the certificate", problem, StringComparison.Ordinal);
        Assert.Contains(tls.KeyFile!, problem, StringComparison.Ordinal);
        Assert.Equal(site.ServerCertificate.Thumbprint, manager.Current.Certificate.Thumbprint);
        Assert.Equal(site.ServerCertificate.Thumbprint, await PresentedToNewConnectionAsync(site, site.Ca));
        Assert.Contains(site.B.Logs.Entries, e => e.EventId.Id == 1402);
        cluster.AssertNoUnexpectedErrors(1402);
    }
}
