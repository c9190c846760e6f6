using System.Text;
using System.Text.Json;
using Google.Protobuf;
using SiteX.Protocol.Ptp;
using SiteX.Server.Forwarding;
using SiteX.Server.Queues;

namespace SiteX.Server.Tests.Queues;

public sealed class PushPayloadTests
{
    private static PushInbound Sample(string topic, byte[] message, string? flag = null)
    {
        var push = new PushInbound { Topic = topic, Payload = ByteString.CopyFrom(message) };
        if (flag is not null)
        {
            push.Metadata["msgFlag"] = flag;
        }

        return push;
    }

    [Fact]
    public void ToJson_IsOsxProduceRequest_WithBase64PayloadAndEmptyCodeAndFlag()
    {
        var json = PushPayload.ToJson(Sample("t-1", [0, 1, 255]));

        using var document = JsonDocument.Parse(json.Memory);
        var root = document.RootElement;
        Assert.Equal("t-1", root.GetProperty("topic").GetString());
        Assert.Equal("AAH/", root.GetProperty("payload").GetString());
        Assert.Equal("", root.GetProperty("msgCode").GetString());
        Assert.Equal("", root.GetProperty("msgFlag").GetString());
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(123)] // a topic length of 123 is the byte '{' right after the topic tag '\n'
    [InlineData(70_000)]
    public void BothEncodings_DecodeToTheSamePush(int size)
    {
        var message = new byte[size];
        new Random(size).NextBytes(message);
        var push = Sample(new string('x', size == 123 ? 123 : 5), message, flag: "SENDMSG");

        Assert.True(PushPayload.TryDecode(push.ToByteArray(), out var fromProtobuf, out var error), error);
        Assert.True(PushPayload.TryDecode(PushPayload.ToJson(push).Memory, out var fromJson, out error), error);

        Assert.Equal(push, fromProtobuf);
        Assert.Equal(push, fromJson);
    }

    [Fact]
    public void For_ConvertsOnlyWhenTheEncodingDiffers()
    {
        var push = Sample("t", [9, 8, 7]);
        var protobuf = push.ToByteString();
        var json = PushPayload.ToJson(push);

        Assert.Same(protobuf, PushPayload.For(http: false, protobuf));
        Assert.Same(json, PushPayload.For(http: true, json));
        Assert.Equal(json, PushPayload.For(http: true, protobuf));
        Assert.Equal(push, PushInbound.Parser.ParseFrom(PushPayload.For(http: false, json)));
    }

    [Theory]
    [InlineData("{\"topic\": \"t\"}", "payload")]
    [InlineData("{\"topic\": \"t\", \"payload\": \"@@\"}", "not valid JSON")]
    [InlineData("\u00ff\u00ff\u00ff", "neither")]
    public void TryDecode_RefusesWhatIsNeither_WithAReason(string text, string reason)
    {
        Assert.False(PushPayload.TryDecode(Encoding.Latin1.GetBytes(text), out _, out var error));
        Assert.Contains(reason, error, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("/org.ppc.ptp.PrivateTransferTransport/push", "/org.ppc.ptp.PrivateTransferTransport/push")]
    [InlineData("grpcs://fedai.org/org.ppc.ptp.PrivateTransferTransport/push", "/org.ppc.ptp.PrivateTransferTransport/push")]
    [InlineData("http://peer:8807", "/")]
    [InlineData("", null)]
    public void UriPath_KeepsThePathAfterTheScheme(string uri, string? path)
    {
        Assert.Equal(path, InvokeRelay.UriPath(uri));
    }
}
