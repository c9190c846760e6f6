using Microsoft.Extensions.Time.Testing;
using SiteX.Server.Hosting;

namespace SiteX.Server.Tests.Hosting;

/// <summary>When <see cref="IdleMemoryTrimmer"/> collects: only when the gateway is quiet and its RSS grew by
/// <see cref="IdleMemoryTrimmer.Growth"/> since the last collection; driven by a fake clock.</summary>
public sealed class IdleMemoryTrimmerTests
{
    private const long MiB = 1024 * 1024;
    private static readonly TimeSpan Interval = TimeSpan.FromSeconds(10);

    private long _calls;
    private long _rss = 70 * MiB;
    private int _collected;

    /// <summary>A trimmer on <paramref name="time"/>, started; the collection it runs gives the RSS back to 80 MiB.</summary>
    private async Task<IdleMemoryTrimmer> StartAsync(FakeTimeProvider time, TimeSpan? interval = null)
    {
        var trimmer = new IdleMemoryTrimmer(() => _calls, () => _rss, () =>
        {
            _collected++;
            _rss = 80 * MiB;
        }, interval ?? Interval, time);
        await trimmer.StartAsync(CancellationToken.None);
        return trimmer;
    }

    [Fact]
    public async Task QuietAfterGrowth_CollectsOnce_AndNotAgainUntilItGrowsAgain()
    {
        // Arrange: a burst grew the RSS by 200 MiB, then the gateway went quiet.
        var time = new FakeTimeProvider();
        using var trimmer = await StartAsync(time);
        _calls += 5000;
        _rss += 200 * MiB;

        // Act and assert: the burst's own interval is busy; the next one is quiet and collects.
        time.Advance(Interval);
        Assert.Equal(0, _collected);
        time.Advance(Interval);
        Assert.Equal(1, _collected);

        // Quiet with no growth: nothing more; 31 MiB of growth: still nothing; 32 MiB: once more.
        _calls += IdleMemoryTrimmer.QuietCalls + 1; // busy for an interval: no follow-up of the first collection
        time.Advance(Interval);
        _rss += 31 * MiB;
        time.Advance(Interval);
        Assert.Equal(1, _collected);
        _rss += 1 * MiB;
        time.Advance(Interval);
        Assert.Equal(2, _collected);
        Assert.Equal(2, trimmer.Collections);
    }

    [Fact]
    public async Task StayingQuiet_AfterACollectionForGrowth_OneFollowUpCollection_ThenNone()
    {
        // Arrange: a collection for growth.
        var time = new FakeTimeProvider();
        using var trimmer = await StartAsync(time);
        _rss += 200 * MiB;
        time.Advance(Interval);
        Assert.Equal(1, _collected);

        // Act and assert: quiet for FollowUpIntervals more intervals: one more, on the last of them; then never again.
        for (var i = 1; i < IdleMemoryTrimmer.FollowUpIntervals; i++)
        {
            time.Advance(Interval);
        }

        Assert.Equal(1, _collected);
        time.Advance(Interval);
        Assert.Equal(2, _collected);
        time.Advance(Interval * (IdleMemoryTrimmer.FollowUpIntervals * 3));
        Assert.Equal(2, _collected);
    }

    [Fact]
    public async Task BusyGateway_IsNeverCollected_HoweverLargeItsMemory()
    {
        var time = new FakeTimeProvider();
        using var trimmer = await StartAsync(time);
        _rss += 500 * MiB;

        for (var i = 0; i < 20; i++)
        {
            _calls += IdleMemoryTrimmer.QuietCalls + 1;
            time.Advance(Interval);
        }

        Assert.Equal(0, _collected);

        // A few calls an interval (a consumer's long polls) still count as quiet.
        _calls += IdleMemoryTrimmer.QuietCalls;
        time.Advance(Interval);
        Assert.Equal(1, _collected);
    }

    [Fact]
    public async Task IntervalZero_TurnsItOff()
    {
        var time = new FakeTimeProvider();
        using var trimmer = await StartAsync(time, TimeSpan.Zero);
        _rss += 500 * MiB;

        time.Advance(TimeSpan.FromHours(1));

        Assert.Equal(0, _collected);
    }

    [Fact]
    public async Task Stopped_NoLongerCollects()
    {
        var time = new FakeTimeProvider();
        using var trimmer = await StartAsync(time);
        await trimmer.StopAsync(CancellationToken.None);
        _rss += 500 * MiB;

        time.Advance(Interval * 3);

        Assert.Equal(0, _collected);
    }
}
