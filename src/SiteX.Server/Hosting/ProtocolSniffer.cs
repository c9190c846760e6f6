using System.Buffers;
using System.IO.Pipelines;
using System.Net;
using System.Text;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using SiteX.Server.Diagnostics;

namespace SiteX.Server.Hosting;

/// <summary>
/// Looks at the first byte of each connection, without consuming it, and closes a connection that speaks the wrong
/// protocol for its port with a clear local log line: a plain-text client on a TLS port, or a TLS client on a plain
/// port. Without this both sides only see a garbled handshake. A plain-text HTTP/1.1 request on a TLS port gets a
/// short 400 answer saying so. A client that sends nothing for a while is left to Kestrel's own timeouts.
/// </summary>
internal static class ProtocolSniffer
{
    /// <summary>A TLS record of type handshake starts with this byte (a ClientHello).</summary>
    private const byte TlsHandshakeRecord = 0x16;

    private static readonly TimeSpan s_firstByteWait = TimeSpan.FromSeconds(10);

    private static readonly byte[] s_needsTls = Encoding.ASCII.GetBytes(
        "HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Type: text/plain\r\nContent-Length: 68\r\n\r\nThis is a TLS port of a SiteX gateway: connect with https:// (TLS).\n");

    public static void Use(ListenOptions listen, string name, bool expectTls)
    {
        var logger = listen.ApplicationServices.GetRequiredService<ILoggerFactory>().CreateLogger(typeof(ProtocolSniffer).FullName!);
        listen.Use(next => async connection =>
        {
            if (await MatchesAsync(connection, name, expectTls, logger))
            {
                await next(connection);
            }
        });
    }

    private static async Task<bool> MatchesAsync(ConnectionContext connection, string name, bool expectTls, ILogger logger)
    {
        var input = connection.Transport.Input;
        ReadResult result;
        using (var wait = new CancellationTokenSource(s_firstByteWait))
        {
            try
            {
                result = await input.ReadAsync(wait.Token);
            }
            catch (OperationCanceledException)
            {
                return true; // a silent client: Kestrel's handshake and keep-alive timeouts deal with it
            }
        }

        var buffer = result.Buffer;
        if (buffer.IsEmpty)
        {
            input.AdvanceTo(buffer.Start);
            return !result.IsCompleted;
        }

        var first = buffer.FirstSpan[0];
        var http1 = expectTls && LooksLikeHttp1(buffer);
        input.AdvanceTo(buffer.Start); // nothing consumed, nothing examined: the next reader sees the same bytes
        if ((first == TlsHandshakeRecord) == expectTls)
        {
            return true;
        }

        var port = (connection.LocalEndPoint as IPEndPoint)?.Port ?? 0;
        var remote = connection.RemoteEndPoint?.ToString() ?? "unknown";
        if (expectTls)
        {
            TlsLog.PlainTextOnTlsPort(logger, name, port, remote);
            if (http1)
            {
                try
                {
                    await connection.Transport.Output.WriteAsync(s_needsTls);
                }
                catch (Exception ex) when (ex is IOException or ConnectionResetException or OperationCanceledException or ObjectDisposedException)
                {
                    // The client is gone already.
                }
            }
        }
        else
        {
            TlsLog.TlsOnPlainPort(logger, name, port, remote);
        }

        return false;
    }

    /// <summary>An HTTP/1.x request line starts with an upper-case method; HTTP/2's preface ("PRI * HTTP/2.0") does not
    /// count: an h2c client gets the connection closed.</summary>
    private static bool LooksLikeHttp1(ReadOnlySequence<byte> buffer)
    {
        Span<byte> start = stackalloc byte[4];
        var length = (int)Math.Min(buffer.Length, start.Length);
        buffer.Slice(0, length).CopyTo(start);
        return start[0] is >= (byte)'A' and <= (byte)'Z' && !start[..length].SequenceEqual("PRI "u8[..length]);
    }
}
