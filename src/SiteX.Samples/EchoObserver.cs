namespace SiteX.Samples;

/// <summary>
/// What the sample service saw, for tests to assert on: call and message counters, and signals for a call that started
/// waiting for cancellation and for a cancellation the server observed. One instance per host (a DI singleton).
/// </summary>
/// <remarks>
/// A call counts as cancelled when its <c>ServerCallContext.CancellationToken</c> had fired by the time the handler
/// ended with an exception: a client cancellation, a reset stream or an expired deadline.
/// </remarks>
public sealed class EchoObserver
{
    private TaskCompletionSource _cancellationObserved = NewSignal();
    private TaskCompletionSource _waitingForCancel = NewSignal();
    private int _callsStarted;
    private int _callsCompleted;
    private int _callsFailed;
    private int _cancellationsObserved;
    private long _messagesReceived;
    private long _messagesSent;

    /// <summary>Completes when the server first observes a cancelled call.</summary>
    public Task CancellationObserved => Volatile.Read(ref _cancellationObserved).Task;

    /// <summary>Completes when a call with <c>wait_for_cancel</c> first starts waiting for its cancellation.</summary>
    public Task WaitingForCancel => Volatile.Read(ref _waitingForCancel).Task;

    /// <summary>Calls whose handler has started.</summary>
    public int CallsStarted => Volatile.Read(ref _callsStarted);

    /// <summary>Calls whose handler has ended, successfully or not.</summary>
    public int CallsCompleted => Volatile.Read(ref _callsCompleted);

    /// <summary>Calls whose handler ended with an exception (a requested failure, a cancellation, a broken stream).</summary>
    public int CallsFailed => Volatile.Read(ref _callsFailed);

    /// <summary>Calls that ended after their cancellation token fired.</summary>
    public int CancellationsObserved => Volatile.Read(ref _cancellationsObserved);

    /// <summary>Calls in progress.</summary>
    public int ActiveCalls => CallsStarted - CallsCompleted;

    /// <summary>Request messages read, over all calls.</summary>
    public long MessagesReceived => Interlocked.Read(ref _messagesReceived);

    /// <summary>Reply messages written, over all calls.</summary>
    public long MessagesSent => Interlocked.Read(ref _messagesSent);

    /// <summary>
    /// Zeroes the counters and re-arms the signals, for a host shared by several tests. Do not call it while calls are
    /// in progress: their completion would be counted against the new period.
    /// </summary>
    public void Reset()
    {
        Volatile.Write(ref _cancellationObserved, NewSignal());
        Volatile.Write(ref _waitingForCancel, NewSignal());
        Interlocked.Exchange(ref _callsStarted, 0);
        Interlocked.Exchange(ref _callsCompleted, 0);
        Interlocked.Exchange(ref _callsFailed, 0);
        Interlocked.Exchange(ref _cancellationsObserved, 0);
        Interlocked.Exchange(ref _messagesReceived, 0);
        Interlocked.Exchange(ref _messagesSent, 0);
    }

    internal void OnCallStarted() => Interlocked.Increment(ref _callsStarted);

    internal void OnCallCompleted(bool failed)
    {
        if (failed)
        {
            Interlocked.Increment(ref _callsFailed);
        }

        Interlocked.Increment(ref _callsCompleted);
    }

    internal void OnCancellationObserved()
    {
        Interlocked.Increment(ref _cancellationsObserved);
        Volatile.Read(ref _cancellationObserved).TrySetResult();
    }

    internal void OnWaitingForCancel() => Volatile.Read(ref _waitingForCancel).TrySetResult();

    internal void OnMessageReceived() => Interlocked.Increment(ref _messagesReceived);

    internal void OnMessageSent() => Interlocked.Increment(ref _messagesSent);

    private static TaskCompletionSource NewSignal() => new(TaskCreationOptions.RunContinuationsAsynchronously);
}
