using System.Diagnostics.Metrics;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;
using SiteX.Server.Configuration;
using SiteX.Server.Queues;
using SiteX.Server.Queues.Storage;
using SiteX.Tests.Common;

namespace SiteX.Server.Tests.Queues;

/// <summary>Queue semantics over the real store, with a clock that moves only when told.</summary>
[System.Diagnostics.CodeAnalysis.SuppressMessage("Reliability", "CA1001", Justification = "xunit disposes it through IAsyncLifetime")]
public sealed class QueueManagerTests : IAsyncLifetime
{
    private readonly StoreHarness _harness = new();
    private readonly FakeTimeProvider _time = new(DateTimeOffset.Parse("2026-11-28T12:00:00Z", System.Globalization.CultureInfo.InvariantCulture));
    private readonly ServiceProvider _services = new ServiceCollection().AddMetrics().BuildServiceProvider();
    private readonly SiteXOptions _options = new();
    private SegmentedLogStore _store = null!;
    private QueueManager _queues = null!;

    public async Task InitializeAsync() => await StartAsync();

    [Fact]
    public async Task PopAsync_ParkedWhileTheClockStandsStill_IsWokenByThePush()
    {
        var pop = _queues.PopAsync("s", "t", TimeSpan.FromSeconds(10), CancellationToken.None).AsTask();
        Assert.False(pop.IsCompleted);

        await Push("s", "t", [1, 2, 3]);
        var result = await pop.DefaultTimeout();

        // No timer moved: only the push can have answered it.
        Assert.Equal(QueueStatus.Ok, result.Status);
        Assert.True(result.Lease!.Waited);
        Assert.Equal([1, 2, 3], (await _queues.ReadPayloadAsync(result.Lease.Message, CancellationToken.None)).ToArray());
    }

    [Fact]
    public async Task PopAsync_NothingArrives_TimesOutWhenTheClockPassesTheTimeout()
    {
        var pop = _queues.PopAsync("s", "t", TimeSpan.FromSeconds(10), CancellationToken.None).AsTask();

        _time.Advance(TimeSpan.FromSeconds(9));
        Assert.False(pop.IsCompleted);
        _time.Advance(TimeSpan.FromSeconds(2));
        var result = await pop.DefaultTimeout();

        Assert.Equal(QueueStatus.Timeout, result.Status);
        Assert.Equal(0, _queues.Snapshot().Single().WaitingPops);
    }

    [Fact]
    public async Task Complete_NotDelivered_PutsTheMessageBackAtTheHead()
    {
        await Push("s", "t", [1]);
        await Push("s", "t", [2]);
        var first = await Pop("s", "t");

        _queues.Complete(first.Lease!, delivered: false);
        var again = await Pop("s", "t");
        _queues.Complete(again.Lease!, delivered: true);
        var second = await Pop("s", "t");

        Assert.Equal(first.Lease!.Message.Sequence, again.Lease!.Message.Sequence);
        Assert.Equal([2], (await _queues.ReadPayloadAsync(second.Lease!.Message, CancellationToken.None)).ToArray());
    }

    [Fact]
    public async Task Restart_DeliveredMessagesAreGone_LeasedAndWaitingOnesComeBackInOrder()
    {
        for (byte i = 1; i <= 4; i++)
        {
            await Push("s", "t", [i]);
        }

        var delivered = await Pop("s", "t");
        _queues.Complete(delivered.Lease!, delivered: true);
        var leased = await Pop("s", "t"); // never completed: the process "dies" while writing the response
        await RestartAsync(); // the store writes what was queued (the consume) before it closes
        var bodies = new List<byte>();
        for (var i = 0; i < 3; i++)
        {
            var pop = await Pop("s", "t");
            bodies.Add((await _queues.ReadPayloadAsync(pop.Lease!.Message, CancellationToken.None)).Span[0]);
            _queues.Complete(pop.Lease, delivered: true);
        }

        Assert.Equal([2, 3, 4], bodies);
        Assert.NotNull(leased.Lease);
    }

    [Fact]
    public async Task Crash_BeforeReceiptIsShown_RedeliversTheLastDeliveredMessage()
    {
        await Push("s", "t", [1]);
        await Push("s", "t", [2]);
        var first = await Pop("s", "t");
        _queues.Complete(first.Lease!, delivered: true);
        var second = await Pop("s", "t"); // this pop shows the first one arrived
        _queues.Complete(second.Lease!, delivered: true);

        await CrashAndRestartAsync(); // before any later pop, and before the consume-record delay passed
        var again = await Pop("s", "t");

        Assert.Equal(second.Lease!.Message.Sequence, again.Lease!.Message.Sequence);
        Assert.Equal(1, _queues.Snapshot().Single().Topics.Single().Leased);
    }

    [Fact]
    public async Task Complete_Delivered_IsRecordedOnceTheConsumeRecordDelayPasses()
    {
        await Push("s", "t", [1]);
        var pop = await Pop("s", "t");
        _queues.Complete(pop.Lease!, delivered: true);

        _time.Advance(_options.Queues.ConsumeRecordDelay * 2); // the timer queues the consume record
        await CrashAndRestartAsync(); // the store writes what was queued before it closes

        Assert.Empty(_queues.Snapshot());
    }

    [Fact]
    public async Task ExpireIdleSessions_AfterTheIdleTimeout_ReleasesOnlyIdleSessions()
    {
        await Push("idle", "t", [1]);
        _time.Advance(_options.Queues.SessionIdleTimeout - TimeSpan.FromMinutes(1));
        await Push("busy", "t", [2]);
        var parked = _queues.PopAsync("waiting", "t", TimeSpan.FromDays(30), CancellationToken.None).AsTask();

        _time.Advance(TimeSpan.FromMinutes(2));
        _queues.ExpireIdleSessions();

        await Eventually(() => !_queues.Snapshot().Any(s => s.Session == "idle"));
        Assert.Contains(_queues.Snapshot(), s => s.Session == "busy");
        Assert.Contains(_queues.Snapshot(), s => s.Session == "waiting");
        Assert.False(parked.IsCompleted);
    }

    [Fact]
    public async Task PushAsync_OverTheTopicBound_IsRefusedWithTheLimit()
    {
        _options.Queues.MaxTopicsPerSession = 2;
        await Push("s", "a", [1]);
        await Push("s", "b", [1]);

        var refused = await _queues.PushAsync("s", "c", null, new byte[] { 1 }, CancellationToken.None);

        Assert.Equal(QueueStatus.LimitReached, refused.Status);
        Assert.Contains("the limit is 2", refused.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task PushAsync_OverTheSessionByteBound_IsRefused()
    {
        _options.Queues.MaxBytesPerSession = 10;
        await Push("s", "a", new byte[8]);

        var refused = await _queues.PushAsync("s", "a", null, new byte[4], CancellationToken.None);

        Assert.Equal(QueueStatus.LimitReached, refused.Status);
        Assert.Contains("limit of 10", refused.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ReleaseAsync_WholeSession_AnswersEveryWaiterAndDropsMessages()
    {
        await Push("s", "full", [1]);
        var waiters = Enumerable.Range(0, 3).Select(i => _queues.PopAsync("s", $"empty-{i}", TimeSpan.FromHours(1), CancellationToken.None).AsTask()).ToList();

        var dropped = await _queues.ReleaseAsync("s", null, CancellationToken.None);
        var answers = await Task.WhenAll(waiters).DefaultTimeout();

        Assert.Equal(1, dropped);
        Assert.All(answers, a => Assert.Equal(QueueStatus.Released, a.Status));
        Assert.Empty(_queues.Snapshot());
        await RestartAsync();
        Assert.Empty(_queues.Snapshot());
    }

    [Fact]
    public async Task PushAsync_RetriedMessageId_IsStoredOnceEvenAfterDelivery()
    {
        await _queues.PushAsync("s", "t", "id-1", new byte[] { 1 }, CancellationToken.None);
        var pop = await Pop("s", "t");
        _queues.Complete(pop.Lease!, delivered: true);

        var retry = await _queues.PushAsync("s", "t", "id-1", new byte[] { 1 }, CancellationToken.None);

        Assert.Equal(QueueStatus.Duplicate, retry.Status);
        Assert.Equal(0, _queues.Snapshot().Single().Depth);
    }

    private async Task Push(string session, string topic, byte[] payload)
    {
        var result = await _queues.PushAsync(session, topic, null, payload, CancellationToken.None).AsTask().DefaultTimeout();
        Assert.Equal(QueueStatus.Ok, result.Status);
    }

    private async Task<PopResult> Pop(string session, string topic)
    {
        var result = await _queues.PopAsync(session, topic, TimeSpan.FromSeconds(1), CancellationToken.None).AsTask().DefaultTimeout();
        Assert.Equal(QueueStatus.Ok, result.Status);
        return result;
    }

    private static async Task Eventually(Func<bool> condition)
    {
        for (var i = 0; i < 3000 && !condition(); i++)
        {
            await Task.Delay(10);
        }

        Assert.True(condition());
    }

    private async Task StartAsync()
    {
        _store = new SegmentedLogStore(_harness.Options, NullLogger<SegmentedLogStore>.Instance, _time);
        _queues = new QueueManager(_store, Options.Create(_options), _time, NullLogger<QueueManager>.Instance, new QueueMetrics(_services.GetRequiredService<IMeterFactory>()));
        await _queues.StartAsync(CancellationToken.None).DefaultTimeout();
    }

    /// <summary>What a kill -9 leaves: the store closes without the manager recording what it still held back.</summary>
    private async Task CrashAndRestartAsync()
    {
        await _queues.DisposeAsync();
        await _store.DisposeAsync();
        await StartAsync();
    }

    private async Task RestartAsync()
    {
        await _queues.StopAsync(CancellationToken.None);
        await _queues.DisposeAsync();
        await _store.DisposeAsync();
        await StartAsync();
    }

    public async Task DisposeAsync()
    {
        await _queues.DisposeAsync();
        await _store.DisposeAsync();
        _services.Dispose();
        _harness.Dispose();
    }
}
