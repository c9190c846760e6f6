using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Options;
using SiteX.Protocol;
using SiteX.Protocol.Ptp;
using SiteX.Server.Configuration;
using SiteX.Server.Forwarding;
using SiteX.Server.Routing;

namespace SiteX.Server.Queues;

/// <summary>The answer to a pop or peek before it is written: a leased message to deliver, or a code and message.</summary>
internal readonly record struct PopAnswer(QueueLease? Lease, string Code, string Message, bool Canceled = false);

/// <summary>
/// The queue semantics shared by every binding (gRPC <see cref="PtpQueueEndpoints"/>, the HTTP/1.1
/// <c>/v1/interconn/chan/*</c> endpoints): name checks, local store or relay of a push, pop outcomes and codes,
/// peek and release. The bindings only decode requests and encode answers.
/// </summary>
internal sealed class QueueCalls(QueueManager queues, PushRelay relay, RouteTableManager routes, PermissionGate permissions, IOptions<SiteXOptions> options)
{
    private readonly SiteXOptions _options = options.Value;

    public QueueOptions Options => _options.Queues;

    public string Self => Name(routes.Current);

    /// <summary>Whether <paramref name="party"/> is a self party of the current route table.</summary>
    public bool IsSelf(string? party) => party is not null && routes.Current.IsSelf(party);

    /// <summary>Whether the bytes of a push for <paramref name="party"/> may come from the buffer pool: stored here,
    /// or relayed by a relay that is done with them when it returns.</summary>
    public bool MayPoolPush(string? party) => IsSelf(party) || !relay.ReadsPayloadAfterReturn;

    /// <summary>A push whose <see cref="GatewayCall.Topic"/>, session and target are set: stored here when the target
    /// is a self party, otherwise relayed to the target's gateway; in both cases only when the permission rules let the
    /// caller reach (target, <c>queue</c>).</summary>
    public async Task<(string Code, string Message)> PushAsync(HttpContext context, GatewayCall call, PushMessage push)
    {
        var table = routes.Current;
        var self = Name(table);
        if (!TryGetNames(call, self, requireTopic: true, out var session, out var error))
        {
            return (PtpCodes.InvalidRequest, error);
        }

        var target = call.TargetParty;
        if (target is null)
        {
            return (PtpCodes.InvalidRequest, $"SiteX gateway {self}: push needs header {PtpHeaders.TargetNodeId} (the party that pops the message)");
        }

        if (!RouteTableParser.IsValidId(target))
        {
            return (PtpCodes.InvalidRequest, $"SiteX gateway {self}: \"{RouteTableParser.Truncate(target)}\" is not a valid party id");
        }

        if (!permissions.TryAuthorize(context, call, table, target, PermissionGate.QueueService, out var denial, out var why))
        {
            call.Error = denial;
            return (GatewayErrors.ToPtpCode(denial), why);
        }

        if (!table.IsSelf(target))
        {
            call.Action = "MSG_REDIRECT";
            return await relay.RelayAsync(context, call, table, push);
        }

        call.Action = "MSG_DOWNLOAD";
        return await StoreAsync(session!, call.Topic!, push, context.RequestAborted);
    }

    /// <summary>Stores a push for a self party (also the local end of a relayed <c>invoke</c>).</summary>
    public async ValueTask<(string Code, string Message)> StoreAsync(string session, string topic, PushMessage push, CancellationToken cancellationToken)
    {
        var result = await queues.PushAsync(session, topic, push.MessageId, push.Payload, cancellationToken);
        return result.Status switch
        {
            QueueStatus.Ok or QueueStatus.Duplicate => (PtpCodes.Success, "success"),
            QueueStatus.StoreFailed or QueueStatus.LimitReached => (PtpCodes.PutMessageError, $"SiteX gateway {Self}: {result.Message}"),
            _ => (PtpCodes.SystemError, $"SiteX gateway {Self}: {result.Message}"),
        };
    }

    /// <summary>Waits for the next message of the call's topic. An <see cref="PopAnswer.Lease"/> must be finished with
    /// <see cref="DeliverAsync"/>.</summary>
    public async Task<PopAnswer> PopAsync(GatewayCall call, string session, TimeSpan timeout, CancellationToken cancellationToken)
    {
        call.Action = "DEFUALT_CONSUME";
        if (timeout <= TimeSpan.Zero)
        {
            timeout = _options.Queues.DefaultPopTimeout;
        }

        var result = await queues.PopAsync(session, call.Topic!, timeout, cancellationToken);
        switch (result.Status)
        {
            case QueueStatus.Ok:
                return new PopAnswer(result.Lease, PtpCodes.Success, "");
            case QueueStatus.Timeout:
                call.Action = "LONG_PULLING_ANSWER";
                return new PopAnswer(null, PtpCodes.Timeout, "CONSUME_MSG_TIMEOUT");
            case QueueStatus.Released:
                call.Action = "LONG_PULLING_ANSWER";
                return new PopAnswer(null, PtpCodes.QueueNotFound, $"SiteX gateway {Self}: {result.Message}");
            case QueueStatus.Canceled:
                call.StatusCode = "cancelled";
                return new PopAnswer(null, "cancelled", "", Canceled: true);
            default:
                return new PopAnswer(null, PtpCodes.SystemError, $"SiteX gateway {Self}: {result.Message}");
        }
    }

    /// <summary>
    /// Reads a leased message and hands it to <paramref name="write"/> (code, message, payload), which must return
    /// only once the whole response was handed to the caller's connection. The message counts as consumed only then.
    /// </summary>
    public async Task DeliverAsync(HttpContext context, GatewayCall call, QueueLease lease, Func<string, string, ReadOnlyMemory<byte>, Task> write)
    {
        var delivered = false;
        try
        {
            if (lease.Waited)
            {
                call.Action = "LONG_PULLING_ANSWER";
            }

            ReadOnlyMemory<byte> payload;
            try
            {
                payload = await queues.ReadPayloadAsync(lease.Message, context.RequestAborted);
            }
            catch (QueueStoreException)
            {
                // Released (and its file reclaimed) between the lease and this read.
                await write(PtpCodes.QueueNotFound, $"SiteX gateway {Self}: the topic was released while the pop was answered", ReadOnlyMemory<byte>.Empty);
                return;
            }

            call.ResponseBytes = payload.Length;
            await write(PtpCodes.Success, lease.Waited ? "success" : "", payload);
            delivered = !context.RequestAborted.IsCancellationRequested;
        }
        finally
        {
            queues.Complete(lease, delivered);
        }
    }

    /// <summary>The next message's payload, or empty. A message consumed between the look and the read (its file may
    /// be gone already) is skipped by looking again.</summary>
    public async ValueTask<ReadOnlyMemory<byte>> PeekAsync(GatewayCall call, string session, CancellationToken cancellationToken)
    {
        call.Action = "PEEK";
        for (var attempt = 0; ; attempt++)
        {
            var next = queues.Peek(session, call.Topic!);
            if (next is null)
            {
                return ReadOnlyMemory<byte>.Empty;
            }

            try
            {
                return await queues.ReadPayloadAsync(next, cancellationToken);
            }
            catch (QueueStoreException) when (attempt < 3)
            {
            }
        }
    }

    public async Task ReleaseAsync(GatewayCall call, string session, CancellationToken cancellationToken)
    {
        call.Action = "CANCEL_TOPIC";
        await queues.ReleaseAsync(session, call.Topic, cancellationToken);
    }

    /// <summary>Checks the call's session id and topic (a topic is optional only for release).</summary>
    public bool TryGetNames(GatewayCall call, string self, bool requireTopic, out string? session, out string error)
    {
        session = call.SessionId;
        error = "";
        if (string.IsNullOrEmpty(session))
        {
            error = $"SiteX gateway {self}: header {PtpHeaders.SessionId} is required";
            return false;
        }

        if (!QueueNames.IsValid(session, _options.Queues.MaxNameLength, out var why))
        {
            error = $"SiteX gateway {self}: session id {why}";
            return false;
        }

        if (call.Topic is null)
        {
            if (requireTopic)
            {
                error = $"SiteX gateway {self}: a topic is required";
                return false;
            }

            return true;
        }

        if (!QueueNames.IsValid(call.Topic, _options.Queues.MaxNameLength, out why))
        {
            error = $"SiteX gateway {self}: topic {why}";
            return false;
        }

        return true;
    }

    private static string Name(RouteTable table) => table.GatewayName;
}
