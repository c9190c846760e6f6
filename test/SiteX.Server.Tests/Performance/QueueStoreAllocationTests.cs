using SiteX.Server.Queues;
using SiteX.Server.Tests.Queues;
using Xunit.Abstractions;

namespace SiteX.Server.Tests.Performance;

/// <summary>
/// The queue store's append and read stay within their allocation budgets (<see cref="AllocationBudgets"/>), with the
/// store settings of the micro-benchmarks: <see cref="QueueDurability.Os"/> (an fsync adds time, not allocations) and
/// no segment pre-allocation.
/// </summary>
[Collection(nameof(ProcessWideAllocationCollection))]
public sealed class QueueStoreAllocationTests(ITestOutputHelper output)
{
    private const string Session = "202611281200000000001";
    private const int Appends = 500;
    private const int Rounds = 4;

    [BudgetFact]
    public async Task AppendAsync_1KiB_WithinBudget()
    {
        // Arrange: an append completes on the store's writer loop, so its bytes are counted in the whole process;
        // each round's messages are released after it (as pops would consume them), so the store stays small.
        using var harness = new StoreHarness(o => o.Durability = QueueDurability.Os);
        var (store, _) = await harness.OpenAsync();
        await using var _ = store;
        var payload = StoreHarness.Payload(1, 1024);
        var appended = new List<StoredMessage>(AllocationMeter.WarmUp + Appends);

        // Act
        var bytes = await AllocationMeter.PerOperationInProcessAsync(
            async () => appended.Add(await store.AppendAsync(Session, "topic", null, payload, CancellationToken.None).ConfigureAwait(false)),
            async () =>
            {
                await store.ReleaseAsync(Session, null, appended, CancellationToken.None).ConfigureAwait(false);
                appended.Clear();
            },
            Appends,
            Rounds);

        // Assert
        var next = await StoreHarness.AppendAsync(store, Session, "topic", payload);
        Assert.Equal(AllocationMeter.WarmUp + Rounds * Appends + 1, next.Sequence);
        Check("SegmentedLogStore.AppendAsync (1 KiB)", bytes, AllocationBudgets.QueueAppend);
    }

    [BudgetTheory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task ReadPayloadAsync_CachedAndFromDisk_AllocatesAtMostThePayload(bool cached)
    {
        // Arrange
        using var harness = new StoreHarness(o => o.Durability = QueueDurability.Os);
        var (store, _) = await harness.OpenAsync();
        await using var _ = store;
        var message = await StoreHarness.AppendAsync(store, Session, "topic", StoreHarness.Payload(1, 1024));
        if (!cached)
        {
            message.CachedPayload = null;
        }

        var length = 0;

        // Act: a payload of up to 1 MiB is read synchronously, on this thread.
        var bytes = AllocationMeter.PerOperation(() =>
        {
            var read = store.ReadPayloadAsync(message, CancellationToken.None);
            Assert.True(read.IsCompletedSuccessfully);
            length = read.Result.Length;
        });

        // Assert
        Assert.Equal(1024, length);
        Check($"SegmentedLogStore.ReadPayloadAsync ({(cached ? "cached" : "from disk")})", bytes,
            cached ? AllocationBudgets.QueueReadCached : AllocationBudgets.QueueReadFromDisk);
    }

    private void Check(string path, double bytes, long budget)
    {
        output.WriteLine($"{path}: {bytes:0.#} B/op (budget {budget} B/op)");
        AllocationMeter.AssertWithin(path, bytes, budget);
    }
}
