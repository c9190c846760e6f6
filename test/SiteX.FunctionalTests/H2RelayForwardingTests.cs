using SiteX.FunctionalTests.Tls;
using SiteX.Server.Configuration;
using Xunit.Abstractions;

namespace SiteX.FunctionalTests;

// The key forwarding scenarios again with ForwardingEngine = H2Relay, so the relay stays tested whichever engine is
// the default: every call shape (unary, client, server and bidirectional streaming, metadata, response headers and
// trailers, grpc-status from the service, deadlines before and mid-stream, caller cancellation, compression, a
// 64 MiB message), a peer that is unreachable and comes back, and outbound TLS with peer_party pins.

/// <summary><see cref="CallShapeTests"/> on the HTTP/2 relay.</summary>
public sealed class H2RelayCallShapeTests(ITestOutputHelper output) : CallShapeTests(output)
{
    protected override ForwardingEngine? Engine => ForwardingEngine.H2Relay;
}

/// <summary><see cref="PeerRestartTests"/> on the HTTP/2 relay: unreachable next hop, then reconnection.</summary>
public sealed class H2RelayPeerRestartTests(ITestOutputHelper output) : PeerRestartTests(output)
{
    protected override ForwardingEngine? Engine => ForwardingEngine.H2Relay;
}

/// <summary><see cref="OutboundTlsTests"/> on the HTTP/2 relay: TLS endpoints, client certificates, pinned parties.</summary>
public sealed class H2RelayOutboundTlsTests(ITestOutputHelper output) : OutboundTlsTests(output)
{
    protected override ForwardingEngine? Engine => ForwardingEngine.H2Relay;
}
