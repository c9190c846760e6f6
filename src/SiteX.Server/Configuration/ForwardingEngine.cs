namespace SiteX.Server.Configuration;

/// <summary>The engine that forwards calls to gRPC endpoints (<see cref="SiteXOptions.ForwardingEngine"/>).</summary>
public enum ForwardingEngine
{
    /// <summary>YARP's forwarder over a pooled <c>SocketsHttpHandler</c> (HTTP/2).</summary>
    Yarp = 0,

    /// <summary>SiteX's HTTP/2 relay (the default): a lean client that writes the next hop's frames straight into the
    /// caller's response, with fewer allocations and thread hand-offs per call.</summary>
    H2Relay = 1,
}
