using System.Text;
using SiteX.Server.Forwarding.H2;
using SiteX.Server.Tests.Performance;

namespace SiteX.Server.Tests.Forwarding.H2;

public sealed class H2StringCacheTests
{
    private static readonly byte[][] s_callHeaders =
    [
        "/sitex.samples.v1.Echo/Unary"u8.ToArray(), "127.0.0.1:9370"u8.ToArray(), "user-agent"u8.ToArray(),
        "grpc-dotnet/2.71.0 (.NET 10.0.0; CLR 10.0.0; net10.0; linux; x64)"u8.ToArray(), "x-ptp-session-id"u8.ToArray(),
        "session-2026-11-29"u8.ToArray(), "x-ptp-target-node-id"u8.ToArray(), "10000"u8.ToArray(), "x-ptp-topic"u8.ToArray(),
        "t0"u8.ToArray(), "t1"u8.ToArray(), "t15"u8.ToArray(),
    ];

    [Fact]
    public void Get_ReturnsTheDecodedString_AndTheSameInstanceWhenTheBytesRepeat()
    {
        var cache = new H2StringCache();

        var first = s_callHeaders.Select(b => cache.Get(b)).ToArray();
        var second = s_callHeaders.Select(b => cache.Get(b)).ToArray();

        Assert.Equal(s_callHeaders.Select(b => Encoding.ASCII.GetString(b)), first);
        Assert.Equal(first.Length, first.Zip(second).Count(p => ReferenceEquals(p.First, p.Second)));
    }

    [Fact]
    public void Get_OfBytesSharingASlot_ReturnsEachOnesOwnString()
    {
        // Every 3-byte value of one shape: far more values than slots, so many share one and evict each other.
        var cache = new H2StringCache();
        var values = Enumerable.Range(0, 1000).Select(i => Encoding.ASCII.GetBytes($"v{i:000}")).ToArray();

        for (var round = 0; round < 3; round++)
        {
            foreach (var value in values)
            {
                Assert.Equal(Encoding.ASCII.GetString(value), cache.Get(value));
            }
        }
    }

    [Fact]
    public void Get_OfLatin1AndLongAndEmptyValues_DecodesThemAsLatin1()
    {
        var cache = new H2StringCache();
        byte[] latin1 = [(byte)'c', (byte)'a', (byte)'f', 0xE9];
        var asciiTwin = "cafe"u8.ToArray(); // the same length and slot shape: must not answer for the Latin-1 value
        var longValue = Enumerable.Repeat((byte)'x', H2StringCache.MaxCachedLength + 1).ToArray();

        Assert.Equal("cafe", cache.Get(asciiTwin));
        Assert.Equal("caf\u00E9", cache.Get(latin1));
        Assert.Equal("caf\u00E9", cache.Get(latin1));
        Assert.Equal("cafe", cache.Get(asciiTwin));
        Assert.Equal(new string('x', H2StringCache.MaxCachedLength + 1), cache.Get(longValue));
        Assert.Same("", cache.Get([]));
    }

    [BudgetFact]
    public void Get_OfTheHeadersOfEveryCall_AllocatesNothing()
    {
        var cache = new H2StringCache();
        foreach (var bytes in s_callHeaders)
        {
            cache.Get(bytes);
        }

        var total = 0L;
        var allocated = AllocationMeter.PerOperation(() =>
        {
            foreach (var bytes in s_callHeaders)
            {
                total += cache.Get(bytes).Length;
            }
        });

        Assert.True(total > 0);
        AllocationMeter.AssertWithin("H2StringCache.Get", allocated, AllocationBudgets.RepeatedHeaderStrings);
    }
}
