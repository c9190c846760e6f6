using System.Net.Sockets;
using Microsoft.AspNetCore.Connections;

namespace SiteX.Cli.Commands;

/// <summary>Tells apart why a gateway host failed to start, so the message points at the right option.</summary>
internal static class StartFailure
{
    /// <summary>Errors a host start reports for a user's environment (ports, directories), not for a bug.</summary>
    public static bool IsEnvironmental(Exception exception) =>
        exception is IOException or UnauthorizedAccessException or SiteX.Server.Queues.QueueStoreException { Error: SiteX.Server.Queues.QueueStoreError.Io };

    /// <summary>True when Kestrel could not bind a listener (port in use, address not available, no permission).</summary>
    public static bool IsBindFailure(Exception exception)
    {
        for (var e = exception; e is not null; e = e.InnerException)
        {
            if (e is AddressInUseException or SocketException)
            {
                return true;
            }
        }

        // Kestrel: "Failed to bind to address http://127.0.0.1:9370: address already in use."
        return exception.Message.StartsWith("Failed to bind", StringComparison.Ordinal);
    }
}
