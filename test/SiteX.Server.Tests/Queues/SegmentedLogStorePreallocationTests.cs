using SiteX.Server.Queues;
using SiteX.Server.Queues.Storage;
using SiteX.Tests.Common;

namespace SiteX.Server.Tests.Queues;

/// <summary>Pre-allocated segments (the default, <see cref="SegmentPreallocation.ZeroFill"/>): zeros after the last
/// record are the end of the log, torn records followed by zeros are still cut, zeros followed by stale data are
/// not mistaken for the end, and disk bytes count what the files take.</summary>
public class SegmentedLogStorePreallocationTests
{
    private const int SegmentBytes = 64 * 1024;
    private const int TornTailEvent = 1201;

    [Theory]
    [InlineData((int)SegmentPreallocation.ZeroFill)]
    [InlineData((int)SegmentPreallocation.Fallocate)]
    public async Task AppendAsync_AcrossSegments_FillsPreallocatedFilesAndReopensWithoutWarnings(int mode)
    {
        using var harness = Harness((SegmentPreallocation)mode);
        var messages = await AppendAsync(harness, count: 300, size: 700);

        var segments = harness.Segments();
        Assert.True(segments.Length >= 3);
        // The active segment keeps its zero tail; sealed ones were cut to their records.
        Assert.Equal(SegmentBytes, new FileInfo(segments[^1]).Length);
        Assert.All(segments[..^1], s => Assert.True(new FileInfo(s).Length <= SegmentBytes));

        var (store, live) = await harness.OpenAsync();
        await using (store)
        {
            Assert.Equal(messages.Select(m => m.Sequence), live.Select(m => m.Sequence));
            Assert.Equal(StoreHarness.Payload(299, 700), await StoreHarness.ReadAsync(store, live[^1]));
            Assert.Equal(DiskBytesOnDisk(harness), store.DiskBytes);
            Assert.Equal(301, (await StoreHarness.AppendAsync(store, "s", "t", [1])).Sequence);
        }

        Assert.DoesNotContain(harness.Logs.Entries, e => e.EventId.Id == TornTailEvent);
        harness.Logs.AssertNoErrors();
    }

    [Theory]
    [InlineData(1)] // the last record loses its last byte (zeroed: a page that never reached the disk)
    [InlineData(100)] // its payload
    [InlineData(713)] // all of it but its header
    public async Task OpenAsync_TornRecordFollowedByZeros_IsCutAndTheFileKeepsItsBlocks(int zeroed)
    {
        using var harness = Harness(SegmentPreallocation.ZeroFill);
        var messages = await AppendAsync(harness, count: 60, size: 700);
        var last = messages[^1];
        var path = harness.Segments()[^1];
        Assert.Equal(last.SegmentId, Id(path));
        var end = last.PayloadOffset + last.Length;
        WriteAt(path, end - zeroed, new byte[zeroed]);
        var lengthBefore = new FileInfo(path).Length;

        var (store, live) = await harness.OpenAsync();
        await using (store)
        {
            Assert.Equal(messages.SkipLast(1).Select(m => m.Sequence), live.Select(m => m.Sequence));
            Assert.Single(harness.Logs.Entries, e => e.EventId.Id == TornTailEvent);
            Assert.Equal(lengthBefore, new FileInfo(path).Length);
            var recordStart = messages[^2].PayloadOffset + messages[^2].Length;
            Assert.True(ReadAt(path, recordStart, (int)(lengthBefore - recordStart)).AsSpan().IndexOfAnyExcept((byte)0) < 0);
            var appended = await StoreHarness.AppendAsync(store, "s", "after", [9, 9]);
            Assert.Equal(last.Sequence, appended.Sequence);
        }

        var logged = harness.Logs.Entries.Count;
        (store, live) = await harness.OpenAsync();
        await using (store)
        {
            Assert.Equal([9, 9], await StoreHarness.ReadAsync(store, live[^1]));
            Assert.Equal(messages.Count, live.Count);
        }

        Assert.DoesNotContain(harness.Logs.Entries.Skip(logged), e => e.EventId.Id == TornTailEvent);
        harness.Logs.AssertNoErrors();
    }

    [Fact]
    public async Task OpenAsync_ZerosFollowedByStaleData_IsATornTailNotTheEndAndTheStaleBytesAreZeroed()
    {
        using var harness = Harness(SegmentPreallocation.ZeroFill);
        var messages = await AppendAsync(harness, count: 20, size: 300);
        var path = harness.Segments()[^1];
        var end = messages[^1].PayloadOffset + messages[^1].Length;
        // A later page of an unacknowledged batch reached the disk, the first did not: a complete, valid record
        // sitting after a zero gap must never come back, nor be overwritten partly and misread later.
        var stale = QueueRecordFormat.BuildConsume(messages[3].Sequence);
        WriteAt(path, end + 4096, stale);

        var (store, live) = await harness.OpenAsync();
        await using (store)
        {
            Assert.Equal(messages.Select(m => m.Sequence), live.Select(m => m.Sequence));
            var warning = Assert.Single(harness.Logs.Entries, e => e.EventId.Id == TornTailEvent);
            Assert.Contains($"cut {4096 + Array.FindLastIndex(stale, b => b != 0) + 1} byte(s)", warning.Message, StringComparison.Ordinal);
            Assert.True(ReadAt(path, end, SegmentBytes - (int)end).AsSpan().IndexOfAnyExcept((byte)0) < 0);
        }
    }

    [Fact]
    public async Task OpenAsync_SealedSegmentStillHoldingItsZeroTail_IsReadToItsLastRecord()
    {
        using var harness = Harness(SegmentPreallocation.ZeroFill);
        var messages = await AppendAsync(harness, count: 300, size: 700);
        var sealedPath = harness.Segments()[^2];
        var sealedLength = new FileInfo(sealedPath).Length;
        // A crash between the roll and the cut of the old segment's tail leaves zeros at its end.
        using (var file = new FileStream(sealedPath, FileMode.Open, FileAccess.Write))
        {
            file.SetLength(SegmentBytes);
        }

        var (store, live) = await harness.OpenAsync();
        await using (store)
        {
            Assert.Equal(messages.Select(m => m.Sequence), live.Select(m => m.Sequence));
            Assert.Equal(DiskBytesOnDisk(harness), store.DiskBytes);
        }

        Assert.True(sealedLength < SegmentBytes);
        harness.Logs.AssertNoErrors();
        Assert.DoesNotContain(harness.Logs.Entries, e => e.EventId.Id == TornTailEvent);
    }

    [Fact]
    public async Task AppendAsync_Quota_CountsPreallocatedBytesAndNeverGoesOverIt()
    {
        using var harness = Harness(SegmentPreallocation.ZeroFill, maxDiskBytes: 4 * SegmentBytes);
        var (store, _) = await harness.OpenAsync();
        await using (store)
        {
            QueueStoreException? full = null;
            for (var i = 0; i < 1000 && full is null; i++)
            {
                try
                {
                    await StoreHarness.AppendAsync(store, "s", "t", StoreHarness.Payload(i, 1000));
                    await store.SpareReady.DefaultTimeout();
                    Assert.Equal(DiskBytesOnDisk(harness), store.DiskBytes);
                }
                catch (QueueStoreException ex)
                {
                    full = ex;
                }
            }

            Assert.Equal(QueueStoreError.QuotaExceeded, full?.Error);
            Assert.True(store.DiskBytes <= 4 * SegmentBytes);
            Assert.Equal(DiskBytesOnDisk(harness), store.DiskBytes);
        }
    }

    private static StoreHarness Harness(SegmentPreallocation mode, long maxDiskBytes = 1L << 30) =>
        new(o => (o.Preallocation, o.SegmentBytes, o.MaxDiskBytes) = (mode, SegmentBytes, maxDiskBytes));

    /// <summary>Appends, waiting for each spare segment so that every roll lands in a pre-allocated file, then closes.</summary>
    private static async Task<List<StoredMessage>> AppendAsync(StoreHarness harness, int count, int size)
    {
        var (store, _) = await harness.OpenAsync();
        var messages = new List<StoredMessage>();
        await using (store)
        {
            for (var i = 0; i < count; i++)
            {
                messages.Add(await StoreHarness.AppendAsync(store, "session", "topic", StoreHarness.Payload(i, size), $"id{i}"));
                await store.SpareReady.DefaultTimeout();
            }
        }

        return messages;
    }

    private static long DiskBytesOnDisk(StoreHarness harness) =>
        Directory.GetFiles(harness.Directory).Where(f => !f.EndsWith("store.lock", StringComparison.Ordinal)).Sum(f => new FileInfo(f).Length);

    private static long Id(string path) => long.Parse(Path.GetFileNameWithoutExtension(path), System.Globalization.CultureInfo.InvariantCulture);

    private static void WriteAt(string path, long offset, byte[] bytes)
    {
        using var file = new FileStream(path, FileMode.Open, FileAccess.Write);
        file.Position = offset;
        file.Write(bytes);
    }

    private static byte[] ReadAt(string path, long offset, int count)
    {
        using var file = new FileStream(path, FileMode.Open, FileAccess.Read);
        file.Position = offset;
        var bytes = new byte[count];
        file.ReadExactly(bytes);
        return bytes;
    }
}
