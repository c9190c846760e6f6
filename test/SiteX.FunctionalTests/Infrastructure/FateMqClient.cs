using System.Globalization;
using System.Text;
using System.Text.Json;
using Google.Protobuf;
using Grpc.Core;
using Grpc.Net.Client;
using SiteX.Protocol.Ptp;
using Metadata = Grpc.Core.Metadata;

namespace SiteX.FunctionalTests.Infrastructure;

/// <summary>
/// Speaks to a gateway exactly as FATE 2.x's python <c>MQChannel</c> does (wire-contract 5.1): a new channel for
/// every call (its inverted <c>_check_alive</c>), no client deadline, <c>x-ptp-from-node-id</c> (not "source"),
/// <c>PushInbound{topic, payload = osx.Message{head = JSON properties, body}}</c>, pops with a 10 h timeout, and a
/// release with an empty topic on cleanup. The return code of a push is not checked by FATE; this client does check it.
/// </summary>
internal sealed class FateMqClient(int gatewayPort, string session, string myParty, string myRole)
{
    public const int FatePopTimeoutMs = 36_000_000;

    public static string Topic(string session, string fromRole, string fromParty, string toRole, string toParty, string name) =>
        $"{session}-{fromRole}-{fromParty}-{toRole}-{toParty}-{name}";

    public async Task<TransportOutbound> ProduceAsync(string peerParty, string topic, string name, string tag, byte[] body, CancellationToken cancellationToken = default)
    {
        var properties = JsonSerializer.Serialize(new Dictionary<string, string>
        {
            ["content_type"] = "text/plain",
            ["app_id"] = peerParty,
            ["message_id"] = name,
            ["correlation_id"] = tag,
        });
        var message = new Message { Head = ByteString.CopyFromUtf8(properties), Body = ByteString.CopyFrom(body) };
        using var channel = Open();
        var client = new PrivateTransferTransport.PrivateTransferTransportClient(channel);
        return await client.pushAsync(new PushInbound { Topic = topic, Payload = message.ToByteString() }, Headers(("x-ptp-target-node-id", peerParty)), cancellationToken: cancellationToken);
    }

    /// <summary>A pop as FATE sends it. Throws <see cref="LookupException"/> on E0000000601, like FATE's LookupError.</summary>
    public async Task<(Message Message, Dictionary<string, string> Properties, TransportOutbound Raw)> ConsumeAsync(string topic, int timeoutMs = FatePopTimeoutMs, CancellationToken cancellationToken = default)
    {
        using var channel = Open();
        var client = new PrivateTransferTransport.PrivateTransferTransportClient(channel);
        var reply = await client.popAsync(new PopInbound { Topic = topic, Timeout = timeoutMs }, Headers(), cancellationToken: cancellationToken);
        if (reply.Code == "E0000000601")
        {
            throw new LookupException(reply.Message);
        }

        // FATE parses the payload whatever the code is.
        var message = Message.Parser.ParseFrom(reply.Payload);
        var properties = message.Head.IsEmpty ? [] : JsonSerializer.Deserialize<Dictionary<string, string>>(message.Head.Span) ?? [];
        return (message, properties, reply);
    }

    public async Task<TransportOutbound> PeekAsync(string topic)
    {
        using var channel = Open();
        return await new PrivateTransferTransport.PrivateTransferTransportClient(channel).peekAsync(new PeekInbound { Topic = topic }, Headers());
    }

    public async Task<TransportOutbound> ReleaseAsync(string topic = "")
    {
        using var channel = Open();
        return await new PrivateTransferTransport.PrivateTransferTransportClient(channel).releaseAsync(new ReleaseInbound { Topic = topic }, Headers());
    }

    private GrpcChannel Open() => GrpcChannel.ForAddress($"http://127.0.0.1:{gatewayPort}", new GrpcChannelOptions
    {
        MaxReceiveMessageSize = null,
        MaxSendMessageSize = null,
    });

    private Metadata Headers(params (string Key, string Value)[] extra)
    {
        var headers = new Metadata
        {
            { "x-ptp-trace-id", $"{DateTimeOffset.UtcNow.ToUnixTimeSeconds()}_{Random.Shared.Next(10000).ToString(CultureInfo.InvariantCulture)}" },
            { "x-ptp-session-id", session },
            { "x-ptp-from-node-id", myParty },
            { "x-ptp-tech-provider-code", "FATE" },
        };
        foreach (var (key, value) in extra)
        {
            headers.Add(key, value);
        }

        _ = myRole;
        return headers;
    }
}

/// <summary>FATE's <c>LookupError</c> on a pop timeout.</summary>
internal sealed class LookupException(string message) : Exception(message);

/// <summary>Deterministic payloads: the receiver can check every byte without the sender's copy.</summary>
internal static class Payloads
{
    public static byte[] Make(int seed, int size)
    {
        var bytes = new byte[size];
        new Random(seed).NextBytes(bytes);
        return bytes;
    }

    public static string Describe(byte[] bytes) => $"{bytes.Length} B";

    public static string Utf8(ReadOnlySpan<byte> bytes) => Encoding.UTF8.GetString(bytes);
}
