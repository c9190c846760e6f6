namespace SiteX.Server.Queues;

/// <summary>One session's topics and counters. Guarded by <see cref="Lock"/>.</summary>
internal sealed class SessionState(string id, DateTimeOffset now)
{
    public string Id { get; } = id;

    public Lock Lock { get; } = new();

    public Dictionary<string, TopicState> Topics { get; } = new(StringComparer.Ordinal);

    /// <summary>Bytes of messages pushed and not yet consumed (including pushes being stored).</summary>
    public long Bytes { get; set; }

    public int WaitingPops { get; set; }

    public DateTimeOffset LastActivity { get; private set; } = now;

    /// <summary>Set when the session was released and left the manager; a late caller must take a new one.</summary>
    public bool Removed { get; set; }

    public void Touch(TimeProvider time) => LastActivity = time.GetUtcNow();

    public TopicState GetOrCreateTopic(string name, TimeProvider time)
    {
        if (!Topics.TryGetValue(name, out var topic))
        {
            Topics[name] = topic = new TopicState(name, this, time.GetUtcNow());
        }

        return topic;
    }

    /// <summary>Idle: nobody waits, nothing is being delivered, and nothing happened since <paramref name="cutoff"/>.</summary>
    public bool IsIdleSince(DateTimeOffset cutoff)
    {
        lock (Lock)
        {
            return WaitingPops == 0 && LastActivity < cutoff && Topics.Values.All(t => t.Leased == 0);
        }
    }
}

/// <summary>One (session, topic) queue: ready messages in order, leased count, waiting pops, seen message ids.</summary>
internal sealed class TopicState(string name, SessionState session, DateTimeOffset now)
{
    private HashSet<string>? _messageIds;

    public string Name { get; } = name;

    public SessionState Session { get; } = session;

    public LinkedList<StoredMessage> Ready { get; } = new();

    public LinkedList<Waiter> Waiters { get; } = new();

    /// <summary>Messages handed to pops whose responses are being written.</summary>
    public int Leased { get; set; }

    /// <summary>Bytes of stored, unconsumed messages (ready and leased).</summary>
    public long Bytes { get; set; }

    public DateTimeOffset CreatedAt { get; } = now;

    /// <summary>Messages delivered whose consume record waits for evidence of receipt: the next pop of this topic, or
    /// the consume-record delay.</summary>
    public List<StoredMessage>? Unconfirmed { get; private set; }

    public void AddUnconfirmed(StoredMessage message) => (Unconfirmed ??= []).Add(message);

    /// <summary>Hands over (and forgets) the delivered messages awaiting their consume record.</summary>
    public List<StoredMessage>? TakeUnconfirmed()
    {
        var taken = Unconfirmed;
        Unconfirmed = null;
        return taken;
    }

    /// <summary>Set when the topic was released; leases and in-flight pushes of it are dropped.</summary>
    public bool Removed { get; set; }

    /// <summary>Reserves a message id; false when the topic already has it (a retried push).</summary>
    public bool TryReserveId(string? messageId) => messageId is null || (_messageIds ??= new(StringComparer.Ordinal)).Add(messageId);

    public void Forget(string? messageId)
    {
        if (messageId is not null)
        {
            _messageIds?.Remove(messageId);
        }
    }

    /// <summary>Gives <paramref name="message"/> to the first pop still waiting; false when none is.</summary>
    public bool TryHandToWaiter(StoredMessage message, SessionState session)
    {
        while (Waiters.First is { } first)
        {
            Waiters.RemoveFirst();
            session.WaitingPops--;
            if (first.Value.TrySetResult(new PopResult(QueueStatus.Ok, new QueueLease(message, this, waited: true), null)))
            {
                Leased++;
                return true;
            }
        }

        return false;
    }

    /// <summary>Puts a message back among the ready ones by sequence (it was taken from the head).</summary>
    public void InsertInOrder(StoredMessage message)
    {
        var node = Ready.First;
        while (node is not null && node.Value.Sequence < message.Sequence)
        {
            node = node.Next;
        }

        if (node is null)
        {
            Ready.AddLast(message);
        }
        else
        {
            Ready.AddBefore(node, message);
        }
    }
}

/// <summary>A parked pop.</summary>
internal sealed class Waiter
{
    private readonly TaskCompletionSource<PopResult> _tcs = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public LinkedListNode<Waiter>? Node { get; set; }

    public Task<PopResult> Task => _tcs.Task;

    public bool TrySetResult(PopResult result) => _tcs.TrySetResult(result);
}
