using Google.Protobuf;

namespace SiteX.Protocol.Tests;

/// <summary>Freezes the bytes of every wire message of the contract, so a field number or type can never drift.</summary>
public class GoldenWireTests
{
    public static TheoryData<string> CaseNames => [.. GoldenWireCases.All.Keys];

    [Theory]
    [MemberData(nameof(CaseNames))]
    public void ToByteArray_MessageWithEveryFieldSet_MatchesGoldenBytes(string name)
    {
        // Arrange
        var (message, hex) = GoldenWireCases.All[name];
        var expected = Convert.ToHexStringLower(GoldenWireCases.ParseHex(hex));

        // Act
        var actual = Convert.ToHexStringLower(message.ToByteArray());

        // Assert
        Assert.Equal(expected, actual);
    }

    [Theory]
    [MemberData(nameof(CaseNames))]
    public void ParseFrom_GoldenBytes_EqualsKnownMessage(string name)
    {
        // Arrange
        var (message, hex) = GoldenWireCases.All[name];

        // Act
        var parsed = message.Descriptor.Parser.ParseFrom(GoldenWireCases.ParseHex(hex));

        // Assert
        Assert.Equal(message, parsed);
    }

    [Fact]
    public void All_WireContractMessages_HaveAGoldenCase()
    {
        // Arrange: every message of sections 2.2 and 2.3 that travels on the wire.
        string[] contract =
        [
            "org.ppc.ptp.Message", "org.ppc.ptp.TopicInfo", "org.ppc.ptp.Inbound", "org.ppc.ptp.Outbound",
            "org.ppc.ptp.PeekInbound", "org.ppc.ptp.PopInbound", "org.ppc.ptp.PushInbound", "org.ppc.ptp.ReleaseInbound",
            "org.ppc.ptp.TransportOutbound",
            "com.webank.ai.eggroll.api.networking.proxy.Model", "com.webank.ai.eggroll.api.networking.proxy.Task",
            "com.webank.ai.eggroll.api.networking.proxy.Topic", "com.webank.ai.eggroll.api.networking.proxy.Command",
            "com.webank.ai.eggroll.api.networking.proxy.Conf", "com.webank.ai.eggroll.api.networking.proxy.Metadata",
            "com.webank.ai.eggroll.api.networking.proxy.Data", "com.webank.ai.eggroll.api.networking.proxy.Packet",
            "com.webank.ai.eggroll.api.networking.proxy.HeartbeatResponse",
            "com.webank.ai.eggroll.api.networking.proxy.PollingFrame",
            "com.webank.ai.eggroll.api.core.Endpoint",
            "com.webank.eggroll.core.transfer.RollSiteHeader", "com.webank.eggroll.core.transfer.TransferHeader",
            "com.webank.eggroll.core.transfer.TransferBatch",
        ];

        // Act
        var covered = GoldenWireCases.All.Values.Select(c => c.Message.Descriptor.FullName).Order().ToArray();

        // Assert
        Assert.Equal(contract.Order().ToArray(), covered);
    }

    [Fact]
    public void ToByteArray_EveryGoldenCase_SetsEveryTopLevelField()
    {
        foreach (var (name, (message, _)) in GoldenWireCases.All)
        {
            // Arrange
            var parsed = message.Descriptor.Parser.ParseFrom(message.ToByteArray());

            // Act
            var unset = message.Descriptor.Fields.InFieldNumberOrder()
                .Where(f => IsDefault(f.Accessor.GetValue(parsed)))
                .Select(f => f.Name)
                .ToArray();

            // Assert
            Assert.True(unset.Length == 0, $"{name} leaves fields unset: {string.Join(", ", unset)}");
        }
    }

    private static bool IsDefault(object? value) => value switch
    {
        null => true,
        string s => s.Length == 0,
        ByteString b => b.IsEmpty,
        System.Collections.ICollection c => c.Count == 0,
        int i => i == 0,
        long l => l == 0,
        Enum e => Convert.ToInt64(e, System.Globalization.CultureInfo.InvariantCulture) == 0,
        _ => false,
    };
}
