using System.Diagnostics.Metrics;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using SiteX.Server.Configuration;
using SiteX.Server.Diagnostics;
using SiteX.Server.Internal;

namespace SiteX.Server.Hosting;

/// <summary>
/// Gives memory back to the operating system when the gateway has gone quiet after a burst. A process that does no
/// work does no garbage collections, so what a burst of large messages made the GC commit stays in its RSS (a gateway
/// relaying 1 MiB queue messages kept 180-470 MiB for as long as it stayed idle, against 70 MiB at start). Every
/// <see cref="SiteXOptions.IdleMemoryTrimInterval"/>, when at most <see cref="QuietCalls"/> calls started in it and the
/// RSS has grown by <see cref="Growth"/> since the last such collection (or the start), one aggressive, compacting
/// collection returns the free memory, and one more follows when it stays quiet for <see cref="FollowUpIntervals"/>
/// intervals, for what pools let go of only after a minute unused (docs/benchmarks.md section 13).
/// </summary>
internal sealed class IdleMemoryTrimmer : IHostedService, IDisposable
{
    /// <summary>Calls per interval at or below which the gateway counts as quiet.</summary>
    public const int QuietCalls = 10;

    /// <summary>RSS growth since the last collection that makes one worth its pause.</summary>
    public const long Growth = 32L * 1024 * 1024;

    /// <summary>Quiet intervals after a collection for growth before the follow-up one: past the shared
    /// <c>ArrayPool</c>'s one minute, counted in intervals of the default 10 s.</summary>
    public const int FollowUpIntervals = 7;

    private readonly Func<long> _callsStarted;
    private readonly Func<long> _residentBytes;
    private readonly Action _collect;
    private readonly TimeSpan _interval;
    private readonly TimeProvider _time;
    private readonly Counter<long>? _collections;
    private ITimer? _timer;
    private long _lastCalls;
    private long _baseline;
    private int _checking;
    private int _followUpIn;

    public IdleMemoryTrimmer(GatewayMetrics metrics, IOptions<SiteXOptions> options, IMeterFactory meterFactory, TimeProvider time)
        : this(() => metrics.CallsStarted, () => Environment.WorkingSet, CollectAggressively, options.Value.IdleMemoryTrimInterval, time)
    {
        _collections = meterFactory.Create(GatewayMetrics.MeterName)
            .CreateCounter<long>("sitex.memory.idle_collections", "{collection}", "Aggressive garbage collections run when the gateway went quiet after its memory grew.");
    }

    /// <summary>For tests: the calls counter, the RSS and the collection are given.</summary>
    internal IdleMemoryTrimmer(Func<long> callsStarted, Func<long> residentBytes, Action collect, TimeSpan interval, TimeProvider time)
    {
        (_callsStarted, _residentBytes, _collect, _interval, _time) = (callsStarted, residentBytes, collect, interval, time);
        _lastCalls = callsStarted();
        _baseline = residentBytes();
    }

    /// <summary>Collections run so far.</summary>
    public int Collections { get; private set; }

    public Task StartAsync(CancellationToken cancellationToken)
    {
        if (_interval > TimeSpan.Zero && _interval != Timeout.InfiniteTimeSpan)
        {
            _timer = _time.CreateTimer(static s => ((IdleMemoryTrimmer)s!).CheckOnce(), this, _interval, _interval);
        }

        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken)
    {
        _timer?.Dispose();
        return Task.CompletedTask;
    }

    public void Dispose() => _timer?.Dispose();

    /// <summary>A tick of the timer, skipped while the previous one still runs (a collection longer than a short
    /// interval).</summary>
    private void CheckOnce()
    {
        if (Interlocked.Exchange(ref _checking, 1) == 1)
        {
            return;
        }

        try
        {
            Check();
        }
        finally
        {
            Volatile.Write(ref _checking, 0);
        }
    }

    /// <summary>One interval's decision (the timer calls it; tests call it directly). True when it collected.</summary>
    internal bool Check()
    {
        var calls = _callsStarted();
        var quiet = calls - _lastCalls <= QuietCalls;
        _lastCalls = calls;
        if (!quiet)
        {
            _followUpIn = 0; // busy again: the pools are in use
            return false;
        }

        var grown = _residentBytes() >= _baseline + Growth;
        var followUp = _followUpIn > 0 && --_followUpIn == 0;
        if (!grown && !followUp)
        {
            return false;
        }

        _collect();
        _baseline = _residentBytes();
        Collections++;
        _collections?.Add(1);

        // The shared ArrayPool lets go of arrays unused for a minute, and only when a full collection runs: after a
        // collection for growth, one more once that minute has passed, if the gateway stays quiet.
        _followUpIn = grown ? FollowUpIntervals : 0;
        return true;
    }

    private static void CollectAggressively()
    {
        MessageBufferPool.Release(); // its arrays are garbage for this collection
        GC.Collect(GC.MaxGeneration, GCCollectionMode.Aggressive, blocking: true, compacting: true);
    }
}
