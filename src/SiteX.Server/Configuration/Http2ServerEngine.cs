namespace SiteX.Server.Configuration;

/// <summary>What serves HTTP/2 on the inter-site gRPC ports (<see cref="SiteXOptions.Http2Server"/>).</summary>
public enum Http2ServerEngine
{
    /// <summary>Kestrel's HTTP/2: the fallback, should SiteX's own server misbehave with some caller.</summary>
    Kestrel = 0,

    /// <summary>SiteX's own HTTP/2 server half (ADR 0011, the default): frames parsed from and written straight into
    /// the connection's transport, no per-stream pipes or frame-writer thread, inline socket I/O. Every request still
    /// runs through the same ASP.NET Core pipeline.</summary>
    SiteX = 1,
}
