using Google.Protobuf;
using Grpc.Core;
using Grpc.Net.Client;
using SiteX.Protocol;
using SiteX.Samples.V1;

namespace SiteX.Benchmarks.Infrastructure;

/// <summary>Echo clients with no message size limits, and the PTP headers that route a call through SiteX.</summary>
internal static class EchoClients
{
    public const string LengthOnly = "length-only";

    public static GrpcChannel Channel(int port) =>
        GrpcChannel.ForAddress($"http://127.0.0.1:{port}", new GrpcChannelOptions
        {
            MaxSendMessageSize = null,
            MaxReceiveMessageSize = null,
            HttpHandler = new SocketsHttpHandler
            {
                UseProxy = false,
                EnableMultipleHttp2Connections = true,
                InitialHttp2StreamWindowSize = 1024 * 1024,
            },
        });

    public static Metadata Targeting(string party, string service) => new()
    {
        { PtpHeaders.TargetNodeId, party },
        { PtpHeaders.TargetComponentName, service },
    };

    /// <summary>One unary call carrying <paramref name="payload"/>; the reply holds only the length.</summary>
    public static async Task UnaryLengthOnlyAsync(Echo.EchoClient client, Metadata? headers, ReadOnlyMemory<byte> payload)
    {
        var reply = await client.UnaryAsync(
            new EchoRequest { Payload = UnsafeByteOperations.UnsafeWrap(payload), Text = LengthOnly },
            headers, DateTime.UtcNow.AddMinutes(10));
        Check(reply, payload.Length);
    }

    /// <summary>A client stream carrying <paramref name="payload"/> in messages of <paramref name="chunk"/> bytes.</summary>
    public static async Task ClientStreamLengthOnlyAsync(Echo.EchoClient client, Metadata? headers, ReadOnlyMemory<byte> payload, int chunk)
    {
        using var call = client.ClientStream(headers, DateTime.UtcNow.AddMinutes(10));
        for (var offset = 0; offset < payload.Length; offset += chunk)
        {
            var piece = payload.Slice(offset, Math.Min(chunk, payload.Length - offset));
            await call.RequestStream.WriteAsync(new EchoRequest { Payload = UnsafeByteOperations.UnsafeWrap(piece), Text = LengthOnly });
        }

        await call.RequestStream.CompleteAsync();
        Check(await call.ResponseAsync, payload.Length);
    }

    private static void Check(EchoReply reply, long expected)
    {
        if (reply.PayloadLength != expected)
        {
            throw new InvalidOperationException($"the sample received {reply.PayloadLength} bytes, {expected} were sent");
        }
    }
}
