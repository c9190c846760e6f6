using SiteX.Server.Queues;
using SiteX.Server.Queues.Storage;
using SiteX.Tests.Common;

namespace SiteX.Server.Tests.Queues;

public class SegmentedLogStoreTests
{
    [Fact]
    public async Task AppendAsync_SmallAndLarge_ReadBackFromCacheAndDisk()
    {
        using var harness = new StoreHarness();
        var (store, live) = await harness.OpenAsync();
        await using var _ = store;
        var small = StoreHarness.Payload(1, 100);
        var large = StoreHarness.Payload(2, 200_000);

        var a = await StoreHarness.AppendAsync(store, "s", "t", small, "id-1");
        var b = await StoreHarness.AppendAsync(store, "s", "t", large);

        Assert.Empty(live);
        Assert.Equal((1L, 2L), (a.Sequence, b.Sequence));
        Assert.Equal(("s", "t", "id-1", 100), (a.Session, a.Topic, a.MessageId, a.Length));
        Assert.NotNull(a.CachedPayload);
        Assert.Null(b.CachedPayload);
        Assert.Equal(small, await StoreHarness.ReadAsync(store, a));
        Assert.Equal(large, await StoreHarness.ReadAsync(store, b));
        a.CachedPayload = null;
        Assert.Equal(small, await StoreHarness.ReadAsync(store, a));
        Assert.Equal(store.DiskBytes, new FileInfo(harness.Segments().Single()).Length);
        harness.Logs.AssertNoErrors();
    }

    [Fact]
    public async Task OpenAsync_AfterRestart_ReturnsUnconsumedInAppendOrderWithoutConsumedOrReleased()
    {
        using var harness = new StoreHarness();
        var appended = new List<StoredMessage>();
        var (store, _) = await harness.OpenAsync();
        await using (store)
        {
            foreach (var (session, topic) in new[] { ("s1", "t1"), ("s2", "t1"), ("s1", "t2"), ("s3", "t1"), ("s3", "t2"), ("s1", "t1"), ("s2", "t2"), ("s3", "t1") })
            {
                appended.Add(await StoreHarness.AppendAsync(store, session, topic, StoreHarness.Payload(appended.Count, 10 + appended.Count), $"m{appended.Count}"));
            }

            await store.ConsumeAsync(appended[0], CancellationToken.None).DefaultTimeout();
            await store.ReleaseAsync("s2", null, [appended[1], appended[6]], CancellationToken.None).DefaultTimeout();
            await store.ReleaseAsync("s3", "t1", [appended[3], appended[7]], CancellationToken.None).DefaultTimeout();
        }

        (store, var live) = await harness.OpenAsync();
        await using (store)
        {
            Assert.Equal([3L, 5L, 6L], live.Select(m => m.Sequence));
            foreach (var message in live)
            {
                var original = appended[(int)message.Sequence - 1];
                Assert.Equal((original.Session, original.Topic, original.MessageId, original.Length, original.AppendedAtMs), (message.Session, message.Topic, message.MessageId, message.Length, message.AppendedAtMs));
                Assert.Equal((original.SegmentId, original.PayloadOffset), (message.SegmentId, message.PayloadOffset));
                Assert.Null(message.CachedPayload);
                Assert.Equal(StoreHarness.Payload(message.Sequence - 1, original.Length), await StoreHarness.ReadAsync(store, message));
            }

            Assert.Equal(9, (await StoreHarness.AppendAsync(store, "s", "t", [1])).Sequence);
        }

        harness.Logs.AssertNoErrors();
    }

    [Fact]
    public async Task AppendAsync_AfterEverySegmentWithAppendsWasReclaimed_SequenceStillContinues()
    {
        using var harness = new StoreHarness(o => o.SegmentBytes = 4096);
        var (store, _) = await harness.OpenAsync();
        await using (store)
        {
            for (var i = 0; i < 10; i++)
            {
                var message = await StoreHarness.AppendAsync(store, "s", "t", new byte[1000]);
                await store.ConsumeAsync(message, CancellationToken.None).DefaultTimeout();
            }

            // The last append is consumed and its segment gone once a later append rolls to a new segment.
            var last = await StoreHarness.AppendAsync(store, "s", "t", new byte[4000]);
            await store.ConsumeAsync(last, CancellationToken.None).DefaultTimeout();
            await store.ReleaseAsync("other", null, [], CancellationToken.None).DefaultTimeout();
            Assert.Equal(11, last.Sequence);
        }

        (store, var live) = await harness.OpenAsync();
        await using (store)
        {
            Assert.Empty(live);
            Assert.Equal(12, (await StoreHarness.AppendAsync(store, "s", "t", [1])).Sequence);
        }
    }

    [Fact]
    public async Task AppendAsync_OverQuota_FailsWithQuotaExceededAndWritesNothing()
    {
        using var harness = new StoreHarness(o => (o.SegmentBytes, o.MaxDiskBytes) = (4096, 8192));
        var (store, _) = await harness.OpenAsync();
        await using var _ = store;
        var stored = new List<StoredMessage>();
        for (var i = 0; i < 2; i++)
        {
            stored.Add(await StoreHarness.AppendAsync(store, "s", "t", new byte[3000]));
        }

        var before = store.DiskBytes;
        var sizes = harness.Segments().Select(f => new FileInfo(f).Length).ToArray();

        var error = await Assert.ThrowsAsync<QueueStoreException>(() => StoreHarness.AppendAsync(store, "s", "t", new byte[3000]));

        Assert.Equal(QueueStoreError.QuotaExceeded, error.Error);
        Assert.Contains("8192", error.Message, StringComparison.Ordinal);
        Assert.Contains(before.ToString(System.Globalization.CultureInfo.InvariantCulture), error.Message, StringComparison.Ordinal);
        Assert.Equal(before, store.DiskBytes);
        Assert.Equal(sizes, harness.Segments().Select(f => new FileInfo(f).Length));

        // Consuming the oldest segment's messages frees its space.
        await store.ConsumeAsync(stored[0], CancellationToken.None).DefaultTimeout();
        Assert.True(store.DiskBytes < before);
        Assert.Equal(3, (await StoreHarness.AppendAsync(store, "s", "t", new byte[3000])).Sequence);
    }

    [Fact]
    public async Task AppendAsync_LargerThanMaxMessageBytes_FailsWithTooLarge()
    {
        using var harness = new StoreHarness(o => o.MaxMessageBytes = 1000);
        var (store, _) = await harness.OpenAsync();
        await using var _ = store;

        var error = await Assert.ThrowsAsync<QueueStoreException>(() => StoreHarness.AppendAsync(store, "s", "t", new byte[1001]));

        Assert.Equal(QueueStoreError.TooLarge, error.Error);
        Assert.Contains("1000", error.Message, StringComparison.Ordinal);
        Assert.Equal(0, store.DiskBytes);
        Assert.Equal(1000, (await StoreHarness.AppendAsync(store, "s", "t", new byte[1000])).Length);
    }

    [Fact]
    public async Task AppendAsync_HostileNames_AreStoredAsDataAndNoFileAppearsOutsideTheStore()
    {
        using var harness = new StoreHarness();
        string[] names = ["../../etc/passwd", "..", "/abs/path", "a\0b", "con:", new string('x', 10 * 1024), "ü/🙂\\..\\"];
        var (store, _) = await harness.OpenAsync();
        await using (store)
        {
            foreach (var name in names)
            {
                await StoreHarness.AppendAsync(store, name, name, [1], messageId: name);
            }
        }

        (store, var live) = await harness.OpenAsync();
        await using (store)
        {
            Assert.Equal(names, live.Select(m => m.Session));
            Assert.Equal(names, live.Select(m => m.Topic));
            Assert.Equal(names, live.Select(m => m.MessageId));
        }

        Assert.Equal(["queues"], Directory.GetFileSystemEntries(harness.Root).Select(Path.GetFileName));
        Assert.Equal(["00000000000000000001.seg", "store.lock"], Directory.GetFileSystemEntries(harness.Directory).Select(Path.GetFileName).Order(StringComparer.Ordinal));
    }

    [Theory]
    [InlineData(QueueDurability.Fsync)]
    [InlineData(QueueDurability.Os)]
    public async Task AppendAsync_EitherDurability_SurvivesReopen(QueueDurability durability)
    {
        using var harness = new StoreHarness(o => (o.Durability, o.SegmentBytes) = (durability, 8192));
        var (store, _) = await harness.OpenAsync();
        await using (store)
        {
            await Task.WhenAll(Enumerable.Range(0, 50).Select(i => StoreHarness.AppendAsync(store, "s", "t", StoreHarness.Payload(i, 500))));
        }

        (store, var live) = await harness.OpenAsync();
        await using (store)
        {
            Assert.Equal(Enumerable.Range(1, 50).Select(i => (long)i), live.Select(m => m.Sequence));
            Assert.True(harness.Segments().Length > 1);
        }
    }

    [Fact]
    public async Task DisposeAsync_WithOperationsInFlight_CompletesOrFailsThemClosed()
    {
        using var harness = new StoreHarness();
        var (store, _) = await harness.OpenAsync();
        var appends = Enumerable.Range(0, 300).Select(i => store.AppendAsync("s", "t", null, StoreHarness.Payload(i, 200), CancellationToken.None).AsTask()).ToList();

        await store.DisposeAsync().DefaultTimeout();
        await Task.WhenAny(Task.WhenAll(appends)).DefaultTimeout();

        var succeeded = new HashSet<long>();
        foreach (var append in appends)
        {
            if (append.IsCompletedSuccessfully)
            {
                succeeded.Add((await append).Sequence);
            }
            else
            {
                Assert.Equal(QueueStoreError.Closed, Assert.IsType<QueueStoreException>(append.Exception!.InnerException).Error);
            }
        }

        var closed = await Assert.ThrowsAsync<QueueStoreException>(() => StoreHarness.AppendAsync(store, "s", "t", [1]));
        Assert.Equal(QueueStoreError.Closed, closed.Error);
        await Assert.ThrowsAsync<QueueStoreException>(async () => await store.ReadPayloadAsync(new StoredMessage { Sequence = 1, Session = "s", Topic = "t", Length = 1, AppendedAtMs = 0, SegmentId = 1, PayloadOffset = 0 }, CancellationToken.None));
        await store.DisposeAsync().DefaultTimeout();

        (store, var live) = await harness.OpenAsync();
        await using (store)
        {
            Assert.Superset(succeeded, live.Select(m => m.Sequence).ToHashSet());
        }
    }

    [Fact]
    public async Task AppendAsync_CancelledBeforeWriting_ThrowsAndWritesNothing()
    {
        using var harness = new StoreHarness();
        var (store, _) = await harness.OpenAsync();
        await using var _ = store;

        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await store.AppendAsync("s", "t", null, new byte[10], new CancellationToken(canceled: true)));

        Assert.Equal(0, store.DiskBytes);
        Assert.Equal(1, (await StoreHarness.AppendAsync(store, "s", "t", [1])).Sequence);
    }

    [Fact]
    public async Task OpenAsync_DirectoryAlreadyOpen_FailsWithIo()
    {
        using var harness = new StoreHarness();
        var (store, _) = await harness.OpenAsync();
        await using var _ = store;

        var error = await Assert.ThrowsAsync<QueueStoreException>(() => harness.OpenAsync());

        Assert.Equal(QueueStoreError.Io, error.Error);
    }
}
