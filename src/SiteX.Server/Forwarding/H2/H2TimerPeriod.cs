namespace SiteX.Server.Forwarding.H2;

/// <summary>How often an HTTP/2 connection's timer checks its keepalive and idle limits (the relay's connections to next
/// hops and the server half's connections from callers).</summary>
internal static class H2TimerPeriod
{
    /// <summary>A quarter of the shortest of <paramref name="limits"/> that is set (positive and finite; else
    /// <paramref name="fallback"/>), within <paramref name="min"/> and <paramref name="max"/>: a limit is noticed at most
    /// a quarter late.</summary>
    public static TimeSpan QuarterOfShortest(TimeSpan fallback, TimeSpan min, TimeSpan max, params ReadOnlySpan<TimeSpan> limits)
    {
        var shortest = TimeSpan.MaxValue;
        foreach (var limit in limits)
        {
            if (limit > TimeSpan.Zero && limit != Timeout.InfiniteTimeSpan && limit < shortest)
            {
                shortest = limit;
            }
        }

        if (shortest == TimeSpan.MaxValue)
        {
            shortest = fallback;
        }

        return TimeSpan.FromTicks(Math.Clamp(shortest.Ticks / 4, min.Ticks, max.Ticks));
    }
}
