using System.Threading.Tasks.Sources;

namespace SiteX.Server.Forwarding.H2;

/// <summary>
/// An auto-reset event for one waiter, without allocation per wait: <see cref="Set"/> from any thread wakes the
/// pending <see cref="WaitAsync"/> or makes the next one complete at once. The waiter re-checks the state it waits
/// for after every wake, so spurious wakes are harmless.
/// </summary>
internal sealed class AsyncSignal : IValueTaskSource
{
    private const int Idle = 0;
    private const int Signaled = 1;
    private const int Waiting = 2;

    private ManualResetValueTaskSourceCore<bool> _core;
    private int _state;

    /// <summary>Wakes the waiter; with <paramref name="inline"/>, a waiting continuation runs on this thread (one
    /// thread-pool hop less; only for callers outside their locks that may run the waiter's code).</summary>
    public void Set(bool inline = false)
    {
        while (true)
        {
            var state = Volatile.Read(ref _state);
            if (state == Signaled)
            {
                return;
            }

            if (state == Idle)
            {
                if (Interlocked.CompareExchange(ref _state, Signaled, Idle) == Idle)
                {
                    return;
                }

                continue;
            }

            // Waiting: hand the wake to the waiter.
            if (Interlocked.CompareExchange(ref _state, Idle, Waiting) == Waiting)
            {
                _core.RunContinuationsAsynchronously = !inline;
                _core.SetResult(true);
                return;
            }
        }
    }

    /// <summary>Completes when <see cref="Set"/> was called since the last wait ended. One waiter at a time.</summary>
    public ValueTask WaitAsync()
    {
        if (Interlocked.CompareExchange(ref _state, Idle, Signaled) == Signaled)
        {
            return default;
        }

        _core.Reset();
        if (Interlocked.CompareExchange(ref _state, Waiting, Idle) != Idle)
        {
            // Signaled in between: consume it.
            Volatile.Write(ref _state, Idle);
            return default;
        }

        return new ValueTask(this, _core.Version);
    }

    void IValueTaskSource.GetResult(short token) => _core.GetResult(token);

    ValueTaskSourceStatus IValueTaskSource.GetStatus(short token) => _core.GetStatus(token);

    void IValueTaskSource.OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
        _core.OnCompleted(continuation, state, token, flags);
}
