using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;
using SiteX.Server.Queues;
using SiteX.Server.Queues.Storage;
using SiteX.Tests.Common;

namespace SiteX.Server.Tests.Queues;

public class SegmentedLogStoreRecoveryTests
{
    [Theory]
    [InlineData(1)] // the last record loses its last byte
    [InlineData(120)] // cut inside the last record's header-and-names
    [InlineData(500)] // cut back into the record before it
    public async Task OpenAsync_LastSegmentCutMidRecord_TruncatesTheTornTailAndKeepsEveryCompleteRecord(int cut)
    {
        using var harness = new StoreHarness();
        var messages = await AppendAndCloseAsync(harness, count: 20, size: 300);
        var segment = harness.Segments().Single();
        var length = new FileInfo(segment).Length;
        Truncate(segment, length - cut);
        var survivors = messages.Where(m => m.PayloadOffset + m.Length <= length - cut).ToList();

        var (store, live) = await harness.OpenAsync();
        await using (store)
        {
            Assert.Equal(survivors.Select(m => m.Sequence), live.Select(m => m.Sequence));
            var end = survivors[^1].PayloadOffset + survivors[^1].Length;
            Assert.Equal(end, new FileInfo(segment).Length);
            Assert.Equal(end, store.DiskBytes);
            var warning = Assert.Single(harness.Logs.Entries, e => e.EventId.Id == 1201);
            Assert.Equal(LogLevel.Warning, warning.Level);
            Assert.Contains("segment 1:", warning.Message, StringComparison.Ordinal);
            Assert.Contains($"cut {length - cut - end} byte(s)", warning.Message, StringComparison.Ordinal);
            await StoreHarness.AppendAsync(store, "s", "t", [7]);
        }

        (store, live) = await harness.OpenAsync();
        await using (store)
        {
            Assert.Equal(survivors.Count + 1, live.Count);
            Assert.Equal([7], await StoreHarness.ReadAsync(store, live[^1]));
        }

        harness.Logs.AssertNoErrors();
    }

    [Theory]
    [InlineData(0)] // magic
    [InlineData(5)] // body length
    [InlineData(12)] // record type
    [InlineData(40)] // names
    [InlineData(-1)] // last payload byte
    public async Task OpenAsync_ByteFlippedInLastRecord_CutsThatRecordAndKeepsTheOnesBefore(int offsetInRecord)
    {
        using var harness = new StoreHarness();
        var messages = await AppendAndCloseAsync(harness, count: 10, size: 100);
        var last = messages[^1];
        var recordStart = messages[^2].PayloadOffset + messages[^2].Length;
        var at = offsetInRecord >= 0 ? recordStart + offsetInRecord : last.PayloadOffset + last.Length - 1;
        FlipByte(harness.Segments().Single(), at);

        var (store, live) = await harness.OpenAsync();
        await using (store)
        {
            Assert.Equal(messages.SkipLast(1).Select(m => m.Sequence), live.Select(m => m.Sequence));
            Assert.Equal(recordStart, store.DiskBytes);
            Assert.Contains(harness.Logs.Entries, e => e.EventId.Id == 1201);
        }
    }

    [Fact]
    public async Task OpenAsync_CorruptRecordInOlderSegment_LogsErrorAndSkipsOnlyTheRestOfThatSegment()
    {
        using var harness = new StoreHarness(o => o.SegmentBytes = 4096);
        var messages = await AppendAndCloseAsync(harness, count: 30, size: 500);
        var inFirst = messages.Where(m => m.SegmentId == 1).ToList();
        Assert.True(inFirst.Count >= 3 && harness.Segments().Length >= 3);
        FlipByte(harness.Segments()[0], inFirst[1].PayloadOffset + 10);

        var (store, live) = await harness.OpenAsync();
        await using (store)
        {
            Assert.Equal(messages.Where(m => m.Sequence == 1 || m.SegmentId > 1).Select(m => m.Sequence), live.Select(m => m.Sequence));
            var error = Assert.Single(harness.Logs.Errors);
            Assert.Equal(1202, error.EventId.Id);
            Assert.Contains("segment 1:", error.Message, StringComparison.Ordinal);
            Assert.Equal(31, (await StoreHarness.AppendAsync(store, "s", "t", [1])).Sequence);
        }
    }

    [Fact]
    public async Task Reclaim_ConsumedOldestSegments_AreDeletedWhileAnUnconsumedMessagePinsTheLaterOnes()
    {
        using var harness = new StoreHarness(o => o.SegmentBytes = 4096);
        var (store, _) = await harness.OpenAsync();
        await using var _ = store;
        var messages = new List<StoredMessage>();
        for (var i = 0; i < 40; i++)
        {
            messages.Add(await StoreHarness.AppendAsync(store, "s", i == 0 ? "pinned" : "t", StoreHarness.Payload(i, 700)));
        }

        var segments = harness.Segments().Length;
        Assert.True(segments >= 5);
        foreach (var message in messages.Skip(1))
        {
            await store.ConsumeAsync(message, CancellationToken.None).DefaultTimeout();
        }

        // Segment 1 still holds message 1, so nothing after it may go either.
        Assert.Equal(segments, harness.Segments().Length);
        var pinnedBytes = store.DiskBytes;
        Assert.Equal(pinnedBytes, harness.Segments().Sum(f => new FileInfo(f).Length));

        await store.ConsumeAsync(messages[0], CancellationToken.None).DefaultTimeout();
        await store.ConsumeAsync(messages[0], CancellationToken.None).DefaultTimeout(); // a repeat is a no-op

        Assert.Single(harness.Segments());
        Assert.True(store.DiskBytes < pinnedBytes / 2);
        Assert.Equal(store.DiskBytes, new FileInfo(harness.Segments().Single()).Length);
        var appended = await StoreHarness.AppendAsync(store, "s", "t", [1]);
        Assert.Equal(41, appended.Sequence);
    }

    [Fact]
    public async Task AppendAsync_ManyConcurrentAppenders_AllDurableReadableAndUniquelySequenced()
    {
        const int Tasks = 32, PerTask = 500;
        using var harness = new StoreHarness(o => o.SegmentBytes = 1 << 20);
        var (store, _) = await harness.OpenAsync();
        var acknowledged = new ConcurrentBag<StoredMessage>();
        await using (store)
        {
            await Task.WhenAll(Enumerable.Range(0, Tasks).Select(t => Task.Run(async () =>
            {
                for (var i = 0; i < PerTask; i++)
                {
                    acknowledged.Add(await store.AppendAsync($"s{t}", "t", $"{t}/{i}", BitConverter.GetBytes(t * PerTask + i), CancellationToken.None));
                }
            }))).DefaultTimeout();
        }

        Assert.Equal(Tasks * PerTask, acknowledged.Select(m => m.Sequence).Distinct().Count());
        (store, var live) = await harness.OpenAsync();
        await using (store)
        {
            Assert.Equal(Tasks * PerTask, live.Count);
            Assert.Equal(acknowledged.Select(m => m.Sequence).Order(), live.Select(m => m.Sequence));
            foreach (var message in live.Where(m => m.Sequence % 97 == 0))
            {
                var parts = message.MessageId!.Split('/');
                var expected = int.Parse(parts[0], System.Globalization.CultureInfo.InvariantCulture) * PerTask + int.Parse(parts[1], System.Globalization.CultureInfo.InvariantCulture);
                Assert.Equal(expected, BitConverter.ToInt32(await StoreHarness.ReadAsync(store, message)));
            }

            // Per appender, append order is the order it awaited its appends in.
            foreach (var ofSession in live.GroupBy(m => m.Session))
            {
                Assert.Equal(Enumerable.Range(0, PerTask).Select(i => $"{ofSession.Key[1..]}/{i}"), ofSession.Select(m => m.MessageId));
            }
        }
    }

    [Fact]
    public async Task OpenAsync_CopyTakenWhileAppending_HasEveryAppendAcknowledgedBeforeTheCopy()
    {
        using var harness = new StoreHarness(o => o.SegmentBytes = 64 << 10);
        var (store, _) = await harness.OpenAsync();
        var acknowledged = new ConcurrentDictionary<long, byte>();
        var enough = TestTcs.Create();
        using var stop = new CancellationTokenSource();
        var copyDirectory = Path.Combine(harness.Root, "crash-image");
        await using (store)
        {
            var appenders = Enumerable.Range(0, 8).Select(t => Task.Run(async () =>
            {
                for (var i = 0; !stop.IsCancellationRequested; i++)
                {
                    var message = await store.AppendAsync($"s{t}", "t", null, StoreHarness.Payload(i, 100 + (i * 37 % 3000)), CancellationToken.None);
                    acknowledged[message.Sequence] = 0;
                    if (acknowledged.Count >= 2000)
                    {
                        enough.TrySetResult();
                    }
                }
            })).ToList();
            await Task.WhenAny(enough.Task, Task.WhenAll(appenders)).DefaultTimeout();
            Assert.True(enough.Task.IsCompleted, "an appender stopped early");

            // The crash image: whatever the files hold while the writer keeps going.
            var before = acknowledged.Keys.ToHashSet();
            Directory.CreateDirectory(copyDirectory);
            foreach (var segment in harness.Segments())
            {
                File.Copy(segment, Path.Combine(copyDirectory, Path.GetFileName(segment)));
            }

            await stop.CancelAsync();
            await Task.WhenAll(appenders).DefaultTimeout();

            var (copy, live) = await harness.OpenAsync(copyDirectory);
            await using (copy)
            {
                var recovered = live.Select(m => m.Sequence).ToHashSet();
                Assert.Superset(before, recovered);
                Assert.Subset(acknowledged.Keys.ToHashSet(), recovered);
            }
        }

        harness.Logs.AssertNoErrors();
    }

    private static async Task<List<StoredMessage>> AppendAndCloseAsync(StoreHarness harness, int count, int size)
    {
        var (store, _) = await harness.OpenAsync();
        var messages = new List<StoredMessage>();
        await using (store)
        {
            for (var i = 0; i < count; i++)
            {
                messages.Add(await StoreHarness.AppendAsync(store, "session", "topic", StoreHarness.Payload(i, size), $"id{i}"));
            }
        }

        return messages;
    }

    /// <summary>Cuts a file to <paramref name="length"/> bytes, as a crash mid-write leaves it.</summary>
    private static void Truncate(string path, long length)
    {
        using var file = new FileStream(path, FileMode.Open, FileAccess.Write);
        file.SetLength(length);
    }

    private static void FlipByte(string path, long offset)
    {
        using var file = new FileStream(path, FileMode.Open, FileAccess.ReadWrite);
        file.Position = offset;
        var value = file.ReadByte();
        file.Position = offset;
        file.WriteByte((byte)(value ^ 0x20));
    }
}
