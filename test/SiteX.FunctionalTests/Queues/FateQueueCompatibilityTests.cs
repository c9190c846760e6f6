using SiteX.FunctionalTests.Infrastructure;
using Xunit.Abstractions;

namespace SiteX.FunctionalTests.Queues;

/// <summary>
/// FATE 2.x queue mode end to end: a guest at site 9999 and a host at site 10000 talk through their own gateways the
/// way FATE's python MQChannel does.
/// </summary>
public sealed class FateQueueCompatibilityTests(ITestOutputHelper output)
{
    private const string Session = "202611281640000000001_toy_example_0_0";

    [Fact]
    public async Task GuestAndHost_Exchange1000MessagesEachWay_ArriveInOrderByteExact_AndCleanupLeavesNothing()
    {
        await using var cluster = new TestCluster(output);
        var (guestGateway, hostGateway) = await QueueSites.StartAsync(cluster);
        var guest = new FateMqClient(guestGateway.GrpcPort, Session, "9999", "guest");
        var host = new FateMqClient(hostGateway.GrpcPort, Session, "10000", "host");
        const int count = 1000;

        var guestToHost = FateMqClient.Topic(Session, "guest", "9999", "host", "10000", "data");
        var hostToGuest = FateMqClient.Topic(Session, "host", "10000", "guest", "9999", "data");
        var transfers = new[]
        {
            SendAsync(guest, "10000", guestToHost, seed: 1),
            SendAsync(host, "9999", hostToGuest, seed: 2),
            ReceiveAsync(host, guestToHost, seed: 1),
            ReceiveAsync(guest, hostToGuest, seed: 2),
        };
        await Task.WhenAll(transfers).DefaultTimeout(TimeSpan.FromMinutes(4));

        Assert.Equal("E0000000000", (await guest.ReleaseAsync()).Code);
        Assert.Equal("E0000000000", (await host.ReleaseAsync()).Code);
        foreach (var gateway in new[] { guestGateway, hostGateway })
        {
            Assert.Empty(gateway.Queues.Snapshot());
            await QueueSites.WaitForStoreToEmptyAsync(gateway);
        }

        cluster.AssertNoUnexpectedErrors();

        async Task SendAsync(FateMqClient from, string peer, string topic, int seed)
        {
            for (var i = 0; i < count; i++)
            {
                var reply = await from.ProduceAsync(peer, topic, $"obj-{i}", $"tag-{i}", Payloads.Make(seed * 100_000 + i, SizeOf(i)));
                Assert.True(reply.Code == "E0000000000", $"push {i} to {peer}: {reply.Code} {reply.Message}");
            }
        }

        async Task ReceiveAsync(FateMqClient at, string topic, int seed)
        {
            for (var i = 0; i < count; i++)
            {
                var (message, properties, raw) = await at.ConsumeAsync(topic);
                Assert.Equal("E0000000000", raw.Code);
                Assert.Equal($"obj-{i}", properties["message_id"]);
                Assert.Equal($"tag-{i}", properties["correlation_id"]);
                var expected = Payloads.Make(seed * 100_000 + i, SizeOf(i));
                Assert.True(message.Body.Span.SequenceEqual(expected), $"message {i} on {topic}: {message.Body.Length} bytes differ from the {expected.Length} sent");
            }
        }
    }

    /// <summary>0 B to 16 MiB: mostly small, every 20th 1 MiB, every 200th 16 MiB.</summary>
    private static int SizeOf(int i) => i switch
    {
        0 => 0,
        _ when i % 200 == 199 => 16 * 1024 * 1024,
        _ when i % 20 == 19 => 1024 * 1024,
        _ => (i * 7919) % 65_536,
    };
}
