using Xunit.Sdk;

namespace SiteX.Server.Tests.Performance;

/// <summary>
/// Counts the bytes a hot path allocates per operation, after a warm-up (first calls run static constructors and fill
/// caches), and fails a test whose path went over its budget. Counts bytes, never time: the result does not depend on
/// the machine or its load.
/// </summary>
internal static class AllocationMeter
{
    public const int WarmUp = 100;
    public const int Operations = 1000;

    /// <summary>Rounds of <see cref="Operations"/> calls measured by <see cref="PerOperation"/>.</summary>
    public const int Rounds = 3;

    /// <summary>Bytes per call of <paramref name="operation"/>, allocated on the calling thread: exact for a path that
    /// completes synchronously (allocations elsewhere, such as by other tests running in parallel, do not count). The
    /// least of <see cref="Rounds"/> rounds: a one-time allocation the runtime makes on this thread now and then (seen
    /// once in CI: 1.2 KB in one round, the tiered JIT's work) lands in one round, while the path's own allocation
    /// shows in every round.</summary>
    public static double PerOperation(Action operation)
    {
        for (var i = 0; i < WarmUp; i++)
        {
            operation();
        }

        var least = double.MaxValue;
        for (var round = 0; round < Rounds; round++)
        {
            var before = GC.GetAllocatedBytesForCurrentThread();
            for (var i = 0; i < Operations; i++)
            {
                operation();
            }

            least = Math.Min(least, (double)(GC.GetAllocatedBytesForCurrentThread() - before) / Operations);
        }

        return least;
    }

    /// <summary>
    /// Bytes per awaited call of <paramref name="operation"/> allocated anywhere in the process, for a path that hands
    /// work to another thread (the queue store's writer loop): the least of <paramref name="rounds"/> rounds of
    /// <paramref name="operations"/> calls, each followed by <paramref name="afterRound"/> (not counted). Other threads
    /// can only add bytes to a round, so the least is the path's own count; run such a test where no other test runs in
    /// parallel (<see cref="ProcessWideAllocationCollection"/>).
    /// </summary>
    public static Task<double> PerOperationInProcessAsync(Func<ValueTask> operation, Func<ValueTask> afterRound, int operations, int rounds) =>
        Task.Run(async () =>
        {
            // Task.Run: off the test framework's synchronization context, whose posts would count too.
            for (var i = 0; i < WarmUp; i++)
            {
                await operation().ConfigureAwait(false);
            }

            await afterRound().ConfigureAwait(false);
            var least = double.MaxValue;
            for (var round = 0; round < rounds; round++)
            {
                var before = GC.GetTotalAllocatedBytes(precise: true);
                for (var i = 0; i < operations; i++)
                {
                    await operation().ConfigureAwait(false);
                }

                least = Math.Min(least, (double)(GC.GetTotalAllocatedBytes(precise: true) - before) / operations);
                await afterRound().ConfigureAwait(false);
            }

            return least;
        });

    /// <summary>Fails with "<paramref name="path"/> allocated N B/op, budget M B/op" when <paramref name="bytesPerOperation"/>
    /// is over <paramref name="budget"/>.</summary>
    public static void AssertWithin(string path, double bytesPerOperation, long budget)
    {
        if (bytesPerOperation > budget)
        {
            throw new XunitException(
                $"{path} allocated {bytesPerOperation:0.#} B/op, budget {budget} B/op. If the new allocation is intended, " +
                "raise its budget in test/SiteX.Server.Tests/Performance/AllocationBudgets.cs and say why there.");
        }
    }
}

/// <summary>Tests that count allocations of the whole process: xunit runs them on their own, after the parallel ones.</summary>
[CollectionDefinition(nameof(ProcessWideAllocationCollection), DisableParallelization = true)]
public sealed class ProcessWideAllocationCollection;
