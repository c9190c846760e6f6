using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using SiteX.Server.Configuration;
using SiteX.Server.Diagnostics;

namespace SiteX.Server.Queues;

/// <summary>
/// The PTP queues of this gateway's self parties: one FIFO per (session, topic) over a durable store.
/// </summary>
/// <remarks>
/// <list type="bullet">
/// <item>A push is acknowledged only once the store made it durable; a message id seen before in the topic is not
/// stored twice.</item>
/// <item>A pop takes the next message at once, or parks; the push that satisfies a parked pop hands the message to
/// it directly (no polling). A message handed to a pop is leased, not consumed: it counts as consumed only when the
/// pop's response was written (<see cref="Complete"/> with <c>delivered: true</c>); otherwise it goes back to the
/// head of its queue.</item>
/// <item>Release (a topic, or the whole session) and idle expiry answer every parked pop of what they end.</item>
/// <item>Bounds: topics, parked pops and bytes per session, each with a clear refusal.</item>
/// </list>
/// One lock per session guards its topics; the store does its own locking.
/// </remarks>
internal sealed class QueueManager : IHostedService, IAsyncDisposable
{
    private readonly IQueueStore _store;
    private readonly QueueOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger<QueueManager> _logger;
    private readonly QueueMetrics _metrics;
    private readonly Dictionary<string, SessionState> _sessions = new(StringComparer.Ordinal);
    private readonly Lock _sessionsLock = new();
    private readonly Queue<(StoredMessage Message, long DueTicks)> _pendingConsumes = new();
    private readonly Lock _pendingConsumesLock = new();
    private ITimer? _expiryTimer;
    private ITimer? _consumeTimer;

    public QueueManager(IQueueStore store, IOptions<SiteXOptions> options, TimeProvider time, ILogger<QueueManager> logger, QueueMetrics metrics)
    {
        _store = store;
        _options = options.Value.Queues;
        _time = time;
        _logger = logger;
        _metrics = metrics;
        _metrics.Observe(this);
    }

    /// <summary>Opens the store and restores every live message into its queue.</summary>
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        var live = await _store.OpenAsync(cancellationToken);
        foreach (var message in live)
        {
            var session = GetOrCreateSession(message.Session);
            lock (session.Lock)
            {
                var topic = session.GetOrCreateTopic(message.Topic, _time);
                topic.Ready.AddLast(message);
                topic.Bytes += message.Length;
                topic.TryReserveId(message.MessageId);
                session.Bytes += message.Length;
            }
        }

        QueueLog.Restored(_logger, live.Count, _sessions.Count);
        _expiryTimer = _time.CreateTimer(_ => ExpireIdleSessions(), null, _options.ExpiryScanInterval, _options.ExpiryScanInterval);
        var tick = _options.ConsumeRecordDelay / 4;
        _consumeTimer = _time.CreateTimer(_ => WriteDueConsumes(all: false), null, tick, tick);
    }

    /// <summary>On a clean stop every delivered message is recorded as consumed at once: only a crash redelivers.</summary>
    public async Task StopAsync(CancellationToken cancellationToken)
    {
        _expiryTimer?.Dispose();
        _consumeTimer?.Dispose();
        await Task.WhenAll(WriteDueConsumes(all: true));
    }

    /// <summary>The store is disposed by its own owner (the service provider).</summary>
    public ValueTask DisposeAsync()
    {
        _expiryTimer?.Dispose();
        _consumeTimer?.Dispose();
        return ValueTask.CompletedTask;
    }

    public async ValueTask<PushResult> PushAsync(string sessionId, string topicName, string? messageId, ReadOnlyMemory<byte> payload, CancellationToken cancellationToken)
    {
        SessionState session;
        TopicState topic;
        while (true)
        {
            session = GetOrCreateSession(sessionId);
            session.Lock.Enter();
            if (!session.Removed)
            {
                break;
            }

            session.Lock.Exit(); // released just now: a new session of the same id takes the push
        }

        try
        {
            session.Touch(_time);
            if (!session.Topics.ContainsKey(topicName) && session.Topics.Count >= _options.MaxTopicsPerSession)
            {
                return new(QueueStatus.LimitReached, $"session {Shown(sessionId)} already has {session.Topics.Count} topics, the limit is {_options.MaxTopicsPerSession}; release finished topics");
            }

            if (session.Bytes + payload.Length > _options.MaxBytesPerSession)
            {
                return new(QueueStatus.LimitReached, $"session {Shown(sessionId)} holds {session.Bytes} bytes of unconsumed messages; this one would pass the limit of {_options.MaxBytesPerSession}");
            }

            topic = session.GetOrCreateTopic(topicName, _time);
            if (messageId is not null && !topic.TryReserveId(messageId))
            {
                return new(QueueStatus.Duplicate, $"message id {Shown(messageId)} is already stored in this topic");
            }

            // Counted now so that concurrent pushes cannot overshoot the byte bound while the store works.
            session.Bytes += payload.Length;
        }
        finally
        {
            session.Lock.Exit();
        }

        StoredMessage stored;
        try
        {
            stored = await _store.AppendAsync(sessionId, topicName, messageId, payload, cancellationToken);
        }
        catch (Exception ex)
        {
            lock (session.Lock)
            {
                if (!topic.Removed)
                {
                    session.Bytes -= payload.Length;
                    topic.Forget(messageId);
                }
            }

            if (ex is QueueStoreException store)
            {
                return new(QueueStatus.StoreFailed, store.Message);
            }

            if (ex is OperationCanceledException)
            {
                return new(QueueStatus.Canceled, "the push was cancelled by the caller before it was stored");
            }

            throw;
        }

        _metrics.Pushed(stored.Length);
        lock (session.Lock)
        {
            if (topic.Removed)
            {
                // The topic was released while the append was in flight: release wins. Marking the message consumed
                // keeps the disk in step with memory whichever record the store wrote first.
                _ = ConsumeInBackgroundAsync(stored);
                return new(QueueStatus.Ok, null);
            }

            topic.Bytes += stored.Length;
            if (!topic.TryHandToWaiter(stored, session))
            {
                topic.Ready.AddLast(stored);
            }
        }

        return new(QueueStatus.Ok, null);
    }

    public async ValueTask<PopResult> PopAsync(string sessionId, string topicName, TimeSpan timeout, CancellationToken cancellationToken)
    {
        SessionState session;
        Waiter waiter;
        TopicState topic;
        List<StoredMessage>? confirmed = null;
        while (true)
        {
            session = GetOrCreateSession(sessionId);
            session.Lock.Enter();
            if (!session.Removed)
            {
                break;
            }

            session.Lock.Exit();
        }

        try
        {
            session.Touch(_time);
            if (!session.Topics.ContainsKey(topicName) && session.Topics.Count >= _options.MaxTopicsPerSession)
            {
                return new(QueueStatus.LimitReached, null, $"session {Shown(sessionId)} already has {session.Topics.Count} topics, the limit is {_options.MaxTopicsPerSession}");
            }

            topic = session.GetOrCreateTopic(topicName, _time); // consumers may come before producers
            confirmed = topic.TakeUnconfirmed();
            if (topic.Ready.First is { } next)
            {
                topic.Ready.RemoveFirst();
                topic.Leased++;
                ConfirmDelivered(confirmed);
                return new(QueueStatus.Ok, new QueueLease(next.Value, topic, waited: false), null);
            }

            if (session.WaitingPops >= _options.MaxParkedPopsPerSession)
            {
                return new(QueueStatus.LimitReached, null, $"session {Shown(sessionId)} already has {session.WaitingPops} waiting pops, the limit is {_options.MaxParkedPopsPerSession}");
            }

            waiter = new Waiter();
            waiter.Node = topic.Waiters.AddLast(waiter);
            session.WaitingPops++;
        }
        finally
        {
            session.Lock.Exit();
        }

        ConfirmDelivered(confirmed);

        _metrics.PopParked(1);
        try
        {
            using var timeoutSource = new CancellationTokenSource(timeout, _time);
            using var linked = CancellationTokenSource.CreateLinkedTokenSource(timeoutSource.Token, cancellationToken);
            try
            {
                return await waiter.Task.WaitAsync(linked.Token);
            }
            catch (OperationCanceledException)
            {
                // Gave up; unless a push or release answered at the same instant, leave the line.
                lock (session.Lock)
                {
                    if (waiter.TrySetResult(default))
                    {
                        if (waiter.Node!.List is not null)
                        {
                            waiter.Node.List.Remove(waiter.Node);
                            session.WaitingPops--;
                        }

                        return cancellationToken.IsCancellationRequested
                            ? new(QueueStatus.Canceled, null, "the pop was cancelled by the caller")
                            : new(QueueStatus.Timeout, null, "CONSUME_MSG_TIMEOUT");
                    }
                }

                return await waiter.Task;
            }
        }
        finally
        {
            _metrics.PopParked(-1);
        }
    }

    /// <summary>Ends a lease: consumed when the pop's response was written, else back to the head of its queue.</summary>
    public void Complete(QueueLease lease, bool delivered)
    {
        var message = lease.Message;
        var topic = lease.Topic;
        var session = topic.Session;
        lock (session.Lock)
        {
            if (topic.Removed)
            {
                return; // released meanwhile: the release dropped it, nothing to give back or consume
            }

            topic.Leased--;
            if (!delivered)
            {
                // Undelivered: first to a waiting pop, else back at the head in sequence order.
                if (!topic.TryHandToWaiter(message, session))
                {
                    topic.InsertInOrder(message);
                }

                return;
            }

            topic.Bytes -= message.Length;
            session.Bytes -= message.Length;
            session.Touch(_time);
        }

        _metrics.Popped(message.Length);

        // "Written" means handed to the server: a crash before the bytes reach the client must redeliver the message,
        // not lose it. So the consume record waits for evidence of receipt: the next pop of the same topic (FATE's
        // consumer pops one topic in sequence), or at most ConsumeRecordDelay.
        lock (session.Lock)
        {
            topic.AddUnconfirmed(message);
        }

        lock (_pendingConsumesLock)
        {
            _pendingConsumes.Enqueue((message, _time.GetTimestamp() + (long)(_options.ConsumeRecordDelay.TotalSeconds * _time.TimestampFrequency)));
        }
    }

    /// <summary>Records as consumed what the previous pops of a topic delivered: a new pop shows they arrived.</summary>
    private void ConfirmDelivered(List<StoredMessage>? delivered)
    {
        if (delivered is null)
        {
            return;
        }

        foreach (var message in delivered)
        {
            _ = ConsumeInBackgroundAsync(message);
        }
    }

    /// <summary>Writes the consume records that are due (all of them when stopping).</summary>
    private List<Task> WriteDueConsumes(bool all)
    {
        var now = _time.GetTimestamp();
        var writes = new List<Task>();
        while (true)
        {
            StoredMessage message;
            lock (_pendingConsumesLock)
            {
                if (!_pendingConsumes.TryPeek(out var next) || (!all && next.DueTicks > now))
                {
                    return writes;
                }

                message = _pendingConsumes.Dequeue().Message;
            }

            writes.Add(ConsumeInBackgroundAsync(message));
        }
    }

    private async Task ConsumeInBackgroundAsync(StoredMessage message)
    {
        try
        {
            await _store.ConsumeAsync(message, CancellationToken.None);
        }
        catch (Exception ex)
        {
            // The message was delivered; if the consume record is lost it is delivered again after a restart.
            QueueLog.ConsumeRecordFailed(_logger, message.Sequence, ex);
        }
    }

    /// <summary>The next message of a topic without consuming it.</summary>
    public StoredMessage? Peek(string sessionId, string topicName)
    {
        var session = GetSession(sessionId);
        if (session is null)
        {
            return null;
        }

        lock (session.Lock)
        {
            session.Touch(_time);
            return session.Topics.TryGetValue(topicName, out var topic) ? topic.Ready.First?.Value : null;
        }
    }

    public ValueTask<ReadOnlyMemory<byte>> ReadPayloadAsync(StoredMessage message, CancellationToken cancellationToken) =>
        _store.ReadPayloadAsync(message, cancellationToken);

    /// <summary>Releases one topic, or the whole session when <paramref name="topicName"/> is null or empty; every
    /// parked pop of it is answered. Returns the number of unconsumed messages dropped.</summary>
    public async ValueTask<int> ReleaseAsync(string sessionId, string? topicName, CancellationToken cancellationToken)
    {
        var session = GetSession(sessionId);
        if (session is null)
        {
            return 0;
        }

        var wholeSession = string.IsNullOrEmpty(topicName);
        var dropped = new List<StoredMessage>();
        var waiters = new List<Waiter>();
        lock (session.Lock)
        {
            var topics = wholeSession ? session.Topics.Values.ToList() : session.Topics.TryGetValue(topicName!, out var one) ? [one] : [];
            foreach (var topic in topics)
            {
                dropped.AddRange(topic.Ready);
                waiters.AddRange(topic.Waiters);
                session.WaitingPops -= topic.Waiters.Count;
                topic.Waiters.Clear(); // detaches the nodes: a pop giving up at this instant must not count itself out again
                session.Bytes -= topic.Bytes;
                session.Topics.Remove(topic.Name);
                topic.Removed = true;
            }

            if (wholeSession || session.Topics.Count == 0)
            {
                session.Removed = true;
                lock (_sessionsLock)
                {
                    _sessions.Remove(sessionId);
                }
            }
        }

        var reason = wholeSession ? $"session {Shown(sessionId)} was released while the pop waited" : $"topic {Shown(topicName!)} was released while the pop waited";
        foreach (var waiter in waiters)
        {
            waiter.TrySetResult(new PopResult(QueueStatus.Released, null, reason));
        }

        await _store.ReleaseAsync(sessionId, wholeSession ? null : topicName, dropped, cancellationToken);
        QueueLog.Released(_logger, Shown(sessionId), wholeSession ? "*" : Shown(topicName!), dropped.Count, waiters.Count);
        return dropped.Count;
    }

    /// <summary>A consistent view of every session for the admin API and metrics.</summary>
    public IReadOnlyList<SessionInfo> Snapshot()
    {
        SessionState[] sessions;
        lock (_sessionsLock)
        {
            sessions = [.. _sessions.Values];
        }

        var result = new List<SessionInfo>(sessions.Length);
        foreach (var session in sessions)
        {
            lock (session.Lock)
            {
                var topics = session.Topics.Values
                    .Select(t => new TopicInfo(t.Name, t.Ready.Count, t.Bytes, t.Leased, t.Waiters.Count,
                        t.Ready.First is { } first ? DateTimeOffset.FromUnixTimeMilliseconds(first.Value.AppendedAtMs) : null))
                    .OrderBy(t => t.Topic, StringComparer.Ordinal)
                    .ToList();
                result.Add(new SessionInfo(session.Id, topics.Sum(t => t.Depth), session.Bytes, session.WaitingPops, session.LastActivity, topics));
            }
        }

        return result;
    }

    internal void ExpireIdleSessions()
    {
        var cutoff = _time.GetUtcNow() - _options.SessionIdleTimeout;
        List<string> idle;
        lock (_sessionsLock)
        {
            idle = [.. _sessions.Values.Where(s => s.IsIdleSince(cutoff)).Select(s => s.Id)];
        }

        foreach (var id in idle)
        {
            QueueLog.Expired(_logger, Shown(id), _options.SessionIdleTimeout);
            _ = ReleaseAsync(id, null, CancellationToken.None).AsTask();
        }
    }

    private SessionState GetOrCreateSession(string id)
    {
        lock (_sessionsLock)
        {
            if (!_sessions.TryGetValue(id, out var session))
            {
                _sessions[id] = session = new SessionState(id, _time.GetUtcNow());
            }

            return session;
        }
    }

    private SessionState? GetSession(string id)
    {
        lock (_sessionsLock)
        {
            return _sessions.GetValueOrDefault(id);
        }
    }

    internal static string Shown(string name) => Routing.RouteTableParser.Truncate(name);
}
