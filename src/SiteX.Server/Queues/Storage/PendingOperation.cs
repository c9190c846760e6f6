namespace SiteX.Server.Queues.Storage;

/// <summary>One append, consume or release waiting for the writer loop. The caller may cancel it only until the
/// writer takes it (<see cref="TryTake"/>); after that it completes within one batch.</summary>
internal sealed class PendingOperation
{
    private readonly TaskCompletionSource<StoredMessage?> _completion = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private CancellationTokenRegistration _cancellation;
    private int _state; // 0 queued, 1 taken by the writer, 2 cancelled

    private PendingOperation(QueueRecordType type) => Type = type;

    public QueueRecordType Type { get; }
    public string Session { get; private init; } = "";
    public string? Topic { get; private init; }
    public string? MessageId { get; private init; }
    public ReadOnlyMemory<byte> Payload { get; private init; }
    /// <summary>Consume: the message; Release: the dropped messages.</summary>
    public IReadOnlyList<StoredMessage> Messages { get; private init; } = [];

    /// <summary>Set by the writer: the appended message.</summary>
    public StoredMessage? Result { get; set; }

    public Task<StoredMessage?> Completion => _completion.Task;

    public static PendingOperation Append(string session, string topic, string? messageId, ReadOnlyMemory<byte> payload) =>
        new(QueueRecordType.Append) { Session = session, Topic = topic, MessageId = messageId, Payload = payload };

    public static PendingOperation Consume(StoredMessage message) =>
        new(QueueRecordType.Consume) { Messages = [message] };

    public static PendingOperation Release(string session, string? topic, IReadOnlyList<StoredMessage> dropped) =>
        new(QueueRecordType.Release) { Session = session, Topic = topic, Messages = dropped };

    public void RegisterCancellation(CancellationToken cancellationToken)
    {
        if (cancellationToken.CanBeCanceled)
        {
            _cancellation = cancellationToken.UnsafeRegister(static (state, token) =>
            {
                var op = (PendingOperation)state!;
                if (Interlocked.CompareExchange(ref op._state, 2, 0) == 0)
                {
                    op._completion.TrySetCanceled(token);
                }
            }, this);
        }
    }

    /// <summary>The writer claims the operation; false when the caller cancelled it first.</summary>
    public bool TryTake() => Interlocked.CompareExchange(ref _state, 1, 0) == 0;

    public void Succeed()
    {
        _cancellation.Dispose();
        _completion.TrySetResult(Result);
    }

    public void Fail(Exception exception)
    {
        _cancellation.Dispose();
        _completion.TrySetException(exception);
    }
}
