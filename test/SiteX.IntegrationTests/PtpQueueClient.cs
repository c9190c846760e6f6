using System.Globalization;
using Google.Protobuf;
using Grpc.Core;
using Grpc.Net.Client;
using SiteX.Protocol;
using SiteX.Protocol.Ptp;
using Metadata = Grpc.Core.Metadata;

namespace SiteX.IntegrationTests;

/// <summary>
/// Push, pop and release on a gateway's intra-site port, with the headers FATE's python <c>MQChannel</c> sends
/// (copied from the functional tests' <c>FateMqClient</c>), a deadline on every call, and a channel that is thrown
/// away after any failed call so the next call connects afresh to whichever process now listens on the port.
/// </summary>
internal sealed class PtpQueueClient(int port, string session, string myParty = "9999") : IDisposable
{
    private GrpcChannel? _channel;

    public async Task<TransportOutbound> PushAsync(string targetParty, PushInbound push, TimeSpan deadline, CancellationToken cancellationToken = default)
    {
        var client = Client();
        try
        {
            return await client.pushAsync(push, Headers((PtpHeaders.TargetNodeId, targetParty)), DateTime.UtcNow + deadline, cancellationToken);
        }
        catch (RpcException)
        {
            Reset();
            throw;
        }
    }

    public async Task<TransportOutbound> PopAsync(string topic, int timeoutMs, TimeSpan deadline, CancellationToken cancellationToken = default)
    {
        var client = Client();
        try
        {
            return await client.popAsync(new PopInbound { Topic = topic, Timeout = timeoutMs }, Headers(), DateTime.UtcNow + deadline, cancellationToken);
        }
        catch (RpcException)
        {
            Reset();
            throw;
        }
    }

    public async Task<TransportOutbound> ReleaseAsync(string topic = "")
    {
        var client = Client();
        return await client.releaseAsync(new ReleaseInbound { Topic = topic }, Headers(), DateTime.UtcNow.AddSeconds(30));
    }

    /// <summary>A push as FATE builds it: the payload is an <c>osx.Message</c>; the message id is also in the metadata.</summary>
    public static PushInbound NewPush(string topic, string messageId, ByteString payload) => new()
    {
        Topic = topic,
        Payload = payload,
        Metadata = { ["msgId"] = messageId },
    };

    public void Dispose() => Reset();

    private PrivateTransferTransport.PrivateTransferTransportClient Client()
    {
        _channel ??= GrpcChannel.ForAddress($"http://127.0.0.1:{port}", new GrpcChannelOptions
        {
            MaxReceiveMessageSize = null,
            MaxSendMessageSize = null,
            InitialReconnectBackoff = TimeSpan.FromMilliseconds(50),
            MaxReconnectBackoff = TimeSpan.FromMilliseconds(250),
        });
        return new PrivateTransferTransport.PrivateTransferTransportClient(_channel);
    }

    private void Reset()
    {
        _channel?.Dispose();
        _channel = null;
    }

    private Metadata Headers(params (string Key, string Value)[] extra)
    {
        var headers = new Metadata
        {
            { PtpHeaders.TraceId, $"{DateTimeOffset.UtcNow.ToUnixTimeSeconds()}_{Random.Shared.Next(10000).ToString(CultureInfo.InvariantCulture)}" },
            { PtpHeaders.SessionId, session },
            { PtpHeaders.FromNodeId, myParty },
            { PtpHeaders.TechProviderCode, "FATE" },
        };
        foreach (var (key, value) in extra)
        {
            headers.Add(key, value);
        }

        return headers;
    }
}
