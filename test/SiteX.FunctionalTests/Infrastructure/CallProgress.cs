namespace SiteX.FunctionalTests.Infrastructure;

/// <summary>Counts completed calls and lets a test await a count, to interleave actions with load deterministically.</summary>
internal sealed class CallProgress
{
    private readonly Lock _gate = new();
    private readonly List<(long Count, TaskCompletionSource Signal)> _waiters = [];
    private long _count;

    public long Count => Interlocked.Read(ref _count);

    public void Increment()
    {
        List<TaskCompletionSource>? reached = null;
        lock (_gate)
        {
            _count++;
            for (var i = _waiters.Count - 1; i >= 0; i--)
            {
                if (_waiters[i].Count <= _count)
                {
                    (reached ??= []).Add(_waiters[i].Signal);
                    _waiters.RemoveAt(i);
                }
            }
        }

        reached?.ForEach(s => s.TrySetResult());
    }

    public Task WhenAtLeast(long count)
    {
        lock (_gate)
        {
            if (_count >= count)
            {
                return Task.CompletedTask;
            }

            var signal = TestTcs.Create();
            _waiters.Add((count, signal));
            return signal.Task;
        }
    }
}
