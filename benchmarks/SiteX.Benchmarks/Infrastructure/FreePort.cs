using System.Net;
using System.Net.Sockets;

namespace SiteX.Benchmarks.Infrastructure;

/// <summary>A loopback TCP port free right now, for a program that cannot bind port 0 and report what it got.</summary>
internal static class FreePort
{
    /// <summary>Binds 127.0.0.1:0, reads the port the kernel chose and releases it (another process may take it
    /// before the caller binds it; callers retry on a bind failure).</summary>
    public static int Next()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        return port;
    }
}
