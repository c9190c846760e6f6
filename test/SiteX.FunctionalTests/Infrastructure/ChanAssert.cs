using Microsoft.Extensions.Logging;

namespace SiteX.FunctionalTests.Infrastructure;

/// <summary>Checks shared by the HTTP ingress tests.</summary>
internal static class ChanAssert
{
    /// <summary>
    /// After refused requests: three messages sent with <paramref name="push"/> to topic <c>t</c> come back exactly
    /// once, in order, then a pop times out (nothing from a refused request was stored), release leaves no queue, and
    /// the gateway logged no error.
    /// </summary>
    public static async Task StillServesExactlyOnceAsync(TestGateway gateway, HttpChanClient client, Func<byte[], Task<ChanReply>> push)
    {
        for (var i = 0; i < 3; i++)
        {
            var pushed = await push([(byte)i, 42]);
            Assert.True(pushed.Code == "E0000000000", pushed.Raw);
        }

        for (var i = 0; i < 3; i++)
        {
            var popped = await client.PopAsync("t", 5_000);
            Assert.Equal("E0000000000", popped.Code);
            Assert.Equal(new byte[] { (byte)i, 42 }, popped.Payload);
        }

        Assert.Equal("E0000000601", (await client.PopAsync("t", 50)).Code);
        Assert.Equal("E0000000000", (await client.ReleaseAsync()).Code);
        Assert.Empty(gateway.Queues.Snapshot());
        Assert.DoesNotContain(gateway.Logs.Entries, e => e.Level >= LogLevel.Error);
    }
}

/// <summary>A body sent chunked, without Content-Length, so a limit is found only while reading.</summary>
internal sealed class ChunkedContent(byte[] bytes) : HttpContent
{
    protected override Task SerializeToStreamAsync(Stream stream, System.Net.TransportContext? context) => stream.WriteAsync(bytes).AsTask();

    protected override bool TryComputeLength(out long length)
    {
        length = 0;
        return false;
    }
}
