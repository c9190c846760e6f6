using SiteX.FunctionalTests.Tls;
using SiteX.Server.Configuration;
using Xunit.Abstractions;

namespace SiteX.FunctionalTests;

// The key forwarding scenarios again with ForwardingEngine = Yarp, so the engine a site can switch back to stays tested
// while the HTTP/2 relay is the default: every call shape (unary, client, server and bidirectional streaming, metadata,
// response headers and trailers, grpc-status from the service, deadlines before and mid-stream, caller cancellation,
// compression, a 64 MiB message), a peer that is unreachable and comes back, and outbound TLS with peer_party pins.
// SITEXTEST_FORWARDING_ENGINE=Yarp runs the whole suite on YARP.

/// <summary><see cref="CallShapeTests"/> on YARP.</summary>
public sealed class YarpCallShapeTests(ITestOutputHelper output) : CallShapeTests(output)
{
    protected override ForwardingEngine? Engine => ForwardingEngine.Yarp;
}

/// <summary><see cref="PeerRestartTests"/> on YARP: unreachable next hop, then reconnection.</summary>
public sealed class YarpPeerRestartTests(ITestOutputHelper output) : PeerRestartTests(output)
{
    protected override ForwardingEngine? Engine => ForwardingEngine.Yarp;
}

/// <summary><see cref="OutboundTlsTests"/> on YARP: TLS endpoints, client certificates, pinned parties.</summary>
public sealed class YarpOutboundTlsTests(ITestOutputHelper output) : OutboundTlsTests(output)
{
    protected override ForwardingEngine? Engine => ForwardingEngine.Yarp;
}
