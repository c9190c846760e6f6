namespace SiteX.FunctionalTests.Infrastructure;

/// <summary>
/// Samples this process's managed heap (<see cref="GC.GetTotalMemory(bool)"/>, garbage included) every 10 ms on a
/// background task and keeps the highest value: how much more the in-process gateways (and client and service)
/// held at any moment while a test ran than was live when it started.
/// </summary>
internal sealed class HeapPeak : IAsyncDisposable
{
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _sampling;
    private readonly long _baseline;
    private readonly long _allocatedAtStart = GC.GetTotalAllocatedBytes();
    private readonly int[] _collectionsAtStart = [GC.CollectionCount(0), GC.CollectionCount(1), GC.CollectionCount(2)];
    private long _peak;

    private HeapPeak()
    {
        _baseline = _peak = GC.GetTotalMemory(forceFullCollection: false);
        _sampling = Task.Run(SampleAsync);
    }

    /// <summary>The highest heap size seen minus the heap live at the start (earlier tests' pools and caches).</summary>
    public long GrowthBytes => Math.Max(Volatile.Read(ref _peak), GC.GetTotalMemory(forceFullCollection: false)) - _baseline;

    /// <summary>Bytes allocated since the start, by every thread of the process.</summary>
    public long AllocatedBytes => GC.GetTotalAllocatedBytes() - _allocatedAtStart;

    /// <summary>For the test output.</summary>
    public string Describe() =>
        $"baseline {_baseline / 1048576} MiB, growth {GrowthBytes / 1048576} MiB, allocated {AllocatedBytes / 1048576} MiB, " +
        $"collections gen0 {GC.CollectionCount(0) - _collectionsAtStart[0]} gen1 {GC.CollectionCount(1) - _collectionsAtStart[1]} gen2 {GC.CollectionCount(2) - _collectionsAtStart[2]}";

    /// <summary>Collects first, so that the baseline is what is live now.</summary>
    public static HeapPeak Start()
    {
        GC.Collect(2, GCCollectionMode.Forced, blocking: true, compacting: true);
        GC.WaitForPendingFinalizers();
        return new HeapPeak();
    }

    private async Task SampleAsync()
    {
        using var timer = new PeriodicTimer(TimeSpan.FromMilliseconds(10));
        try
        {
            while (await timer.WaitForNextTickAsync(_stop.Token))
            {
                var now = GC.GetTotalMemory(forceFullCollection: false);
                if (now > Volatile.Read(ref _peak))
                {
                    Volatile.Write(ref _peak, now);
                }
            }
        }
        catch (OperationCanceledException)
        {
            // Stopped.
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        await _sampling.DefaultTimeout();
        _stop.Dispose();
    }
}
