namespace SiteX.Server.Queues;

/// <summary>How a queue operation ended, mapped to PTP codes by the queue endpoints.</summary>
public enum QueueStatus
{
    Ok = 0,
    /// <summary>A pop's timeout passed with no message (PTP <c>E0000000601</c>).</summary>
    Timeout = 1,
    /// <summary>The session or topic was released while the pop waited.</summary>
    Released = 2,
    /// <summary>A bound (topics, waiting pops, bytes per session) is reached.</summary>
    LimitReached = 3,
    /// <summary>The store refused the message (quota, size, I/O).</summary>
    StoreFailed = 4,
    /// <summary>A push repeated a message id already stored in the topic; nothing was stored again.</summary>
    Duplicate = 5,
    /// <summary>The caller went away.</summary>
    Canceled = 6,
}

/// <summary>A message handed to one pop. Exactly one of <see cref="QueueManager.Complete"/>'s outcomes must follow.</summary>
internal sealed class QueueLease(StoredMessage message, TopicState topic, bool waited)
{
    public StoredMessage Message { get; } = message;

    public TopicState Topic { get; } = topic;

    /// <summary>True when the pop waited for the message (OSX answers those with message "success").</summary>
    public bool Waited { get; } = waited;
}

internal readonly record struct PopResult(QueueStatus Status, QueueLease? Lease, string? Message);

internal readonly record struct PushResult(QueueStatus Status, string? Message);

/// <summary>What the admin API shows of a topic.</summary>
public sealed record TopicInfo(string Topic, int Depth, long Bytes, int Leased, int WaitingPops, DateTimeOffset? OldestMessageAt);

/// <summary>What the admin API shows of a session.</summary>
public sealed record SessionInfo(string Session, int Depth, long Bytes, int WaitingPops, DateTimeOffset LastActivity, IReadOnlyList<TopicInfo> Topics);
