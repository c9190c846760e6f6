namespace SiteX.FunctionalTests.Infrastructure;

/// <summary>
/// Readiness waits for things that finish in the background and raise no event (the asynchronous access log, metrics
/// recorded after the response went out): re-check every 20 ms, bounded by the default timeout.
/// </summary>
internal static class Eventually
{
    public static async Task<T> ReturnsAsync<T>(Func<Task<T>> probe, Func<T, bool> done, string what)
    {
        var deadline = DateTime.UtcNow + TaskTimeoutExtensions.DefaultTimeoutTimeSpan;
        T last;
        while (true)
        {
            last = await probe().DefaultTimeout();
            if (done(last))
            {
                return last;
            }

            if (DateTime.UtcNow > deadline)
            {
                Assert.Fail($"timed out waiting for {what}; last value:{Environment.NewLine}{last}");
            }

            await Task.Delay(20);
        }
    }
}
