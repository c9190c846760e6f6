using System.Diagnostics;
using System.Globalization;
using System.Net.Security;
using System.Security.Cryptography.X509Certificates;
using Grpc.Core;
using Grpc.Net.Client;
using SiteX.Samples.V1;

namespace SiteX.Cli.Commands;

/// <summary>
/// An Echo call straight to a site's TLS gRPC port from a client outside the federation: it trusts the demo CA (so the
/// site's certificate checks out) but has no client certificate of its own, so the port must refuse it during the TLS
/// handshake.
/// </summary>
internal static class DemoUncertifiedCall
{
    /// <summary>Sends the call and says how it ended: "refused ..." or, should the port let it through, "ANSWERED ...".</summary>
    public static async Task<string> SendAsync(int port, string caFile, string text, CancellationToken cancellationToken)
    {
        using var ca = X509CertificateLoader.LoadCertificateFromFile(caFile);
        using var handler = new SocketsHttpHandler
        {
            UseProxy = false,
            SslOptions = new SslClientAuthenticationOptions
            {
                CertificateChainPolicy = new X509ChainPolicy
                {
                    TrustMode = X509ChainTrustMode.CustomRootTrust,
                    CustomTrustStore = { ca },
                    RevocationMode = X509RevocationMode.NoCheck,
                },
            },
        };
        using var channel = GrpcChannel.ForAddress($"https://127.0.0.1:{port.ToString(CultureInfo.InvariantCulture)}", new GrpcChannelOptions { HttpHandler = handler });
        var client = new Echo.EchoClient(channel);
        var started = Stopwatch.GetTimestamp();
        try
        {
            var reply = await client.UnaryAsync(new EchoRequest { Text = text }, deadline: DateTime.UtcNow.AddSeconds(10), cancellationToken: cancellationToken);
            return $"ANSWERED \"{reply.Text}\" by {reply.ServedBy}: the TLS port let in a caller without a client certificate";
        }
        catch (RpcException ex) when (ex.StatusCode != StatusCode.Cancelled || !cancellationToken.IsCancellationRequested)
        {
            var elapsed = Stopwatch.GetElapsedTime(started).TotalMilliseconds.ToString("0.0", CultureInfo.InvariantCulture);
            return $"refused after {elapsed} ms, as it should be; the caller got {ex.StatusCode} ({Innermost(ex.Status.DebugException)?.Message ?? ex.Status.Detail})";
        }
    }

    /// <summary>The root cause of a failed call (the client's own words for "the server hung up"), without the layers
    /// of HTTP/2 wrapping around it.</summary>
    private static Exception? Innermost(Exception? exception)
    {
        while (exception?.InnerException is not null)
        {
            exception = exception.InnerException;
        }

        return exception;
    }
}
