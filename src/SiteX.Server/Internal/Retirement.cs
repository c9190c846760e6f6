namespace SiteX.Server.Internal;

/// <summary>When a resource a new route table no longer uses (a TLS handler, a relay pool) may be disposed.</summary>
internal static class Retirement
{
    /// <summary>Waits <paramref name="grace"/>, then until <paramref name="inUse"/> reads 0 (checked every second).
    /// False when <paramref name="stopping"/> fired first: the owner is being disposed and disposes everything itself.</summary>
    public static async Task<bool> WaitUntilUnusedAsync(Func<int> inUse, TimeSpan grace, CancellationToken stopping)
    {
        try
        {
            await Task.Delay(grace, stopping).ConfigureAwait(false);
            while (inUse() > 0)
            {
                await Task.Delay(TimeSpan.FromSeconds(1), stopping).ConfigureAwait(false);
            }

            return true;
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }
}
