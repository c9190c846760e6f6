using Google.Protobuf;
using Google.Protobuf.Collections;
using Grpc.Core;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using SiteX.Samples.V1;

namespace SiteX.Samples;

/// <summary>
/// The sample <c>sitex.samples.v1.Echo</c> service. Every request can ask for a delay, a failure, an echo of its
/// headers or a wait for cancellation, so a test can drive a gateway through each behaviour a destination can show.
/// </summary>
/// <remarks>
/// Per request, in this order: send the echo headers (<c>echo_metadata</c>, once per call), wait <c>delay_ms</c>,
/// wait for cancellation (<c>wait_for_cancel</c>), fail (<c>fail_with_status</c>), reply. ServerStream waits
/// <c>delay_ms</c> before each of its <c>repeat</c> replies and fails, if asked, after sending them.
/// </remarks>
internal sealed class EchoService : Echo.EchoBase
{
    /// <summary>The <c>text</c> value that asks for a reply carrying only the payload's length.</summary>
    public const string LengthOnly = "length-only";
    public const string EchoHeaderName = "x-echo-header";
    public const string EchoTrailerName = "x-echo-trailer";

    private static readonly HashSet<string> s_skippedHeaders = new(StringComparer.OrdinalIgnoreCase)
    {
        "connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade", "te", "host",
    };

    private readonly EchoObserver _observer;
    private readonly TimeProvider _timeProvider;
    private readonly IHostApplicationLifetime _lifetime;
    private readonly string _name;

    public EchoService(
        EchoObserver observer,
        TimeProvider timeProvider,
        IHostApplicationLifetime lifetime,
        IOptions<EchoServiceOptions> options)
    {
        _observer = observer;
        _timeProvider = timeProvider;
        _lifetime = lifetime;
        _name = options.Value.Name;
    }

    public override Task<EchoReply> Unary(EchoRequest request, ServerCallContext context) =>
        ObserveAsync(context, async () =>
        {
            _observer.OnMessageReceived();
            await ApplyRequestAsync(request, context, sendEchoHeaders: true);
            return Sent(CreateReply(request, request.Payload.Length, count: 1, context));
        });

    public override Task<EchoReply> ClientStream(IAsyncStreamReader<EchoRequest> requestStream, ServerCallContext context) =>
        ObserveAsync(context, async () =>
        {
            var count = 0;
            var headersSent = false;
            var lengthOnly = false;
            var echoMetadata = false;
            long payloadLength = 0;
            var payload = new MemoryStream();
            var text = new System.Text.StringBuilder();
            await foreach (var request in requestStream.ReadAllAsync(context.CancellationToken))
            {
                _observer.OnMessageReceived();
                count++;
                await ApplyRequestAsync(request, context, sendEchoHeaders: !headersSent);
                headersSent |= request.EchoMetadata;
                echoMetadata |= request.EchoMetadata;
                lengthOnly |= request.Text == LengthOnly;
                payloadLength += request.Payload.Length;
                if (!lengthOnly)
                {
                    request.Payload.WriteTo(payload);
                }

                text.Append(request.Text);
            }

            var reply = new EchoReply
            {
                Text = text.ToString(),
                Count = count,
                ServedBy = _name,
                PayloadLength = payloadLength,
            };
            if (!lengthOnly)
            {
                // The stream is never written again, so the reply can own its buffer without a copy.
                reply.Payload = UnsafeByteOperations.UnsafeWrap(payload.GetBuffer().AsMemory(0, (int)payload.Length));
            }

            if (echoMetadata)
            {
                CopyHeaders(context.RequestHeaders, reply.Metadata);
            }

            return Sent(reply);
        });

    public override Task ServerStream(EchoRequest request, IServerStreamWriter<EchoReply> responseStream, ServerCallContext context) =>
        ObserveAsync(context, async () =>
        {
            _observer.OnMessageReceived();
            if (request.EchoMetadata)
            {
                await StartEchoHeadersAsync(context);
            }

            if (request.WaitForCancel)
            {
                await WaitForCancelAsync(context);
            }

            for (var i = 1; i <= request.Repeat; i++)
            {
                await DelayAsync(request.DelayMs, context.CancellationToken);
                await responseStream.WriteAsync(CreateReply(request, request.Payload.Length, i, context), context.CancellationToken);
                _observer.OnMessageSent();
            }

            ThrowIfFailureRequested(request);
        });

    public override Task Duplex(IAsyncStreamReader<EchoRequest> requestStream, IServerStreamWriter<EchoReply> responseStream, ServerCallContext context) =>
        ObserveAsync(context, async () =>
        {
            var count = 0;
            var headersSent = false;
            await foreach (var request in requestStream.ReadAllAsync(context.CancellationToken))
            {
                _observer.OnMessageReceived();
                count++;
                await ApplyRequestAsync(request, context, sendEchoHeaders: !headersSent);
                headersSent |= request.EchoMetadata;
                await responseStream.WriteAsync(CreateReply(request, request.Payload.Length, count, context), context.CancellationToken);
                _observer.OnMessageSent();
            }
        });

    private async Task<T> ObserveAsync<T>(ServerCallContext context, Func<Task<T>> handler)
    {
        _observer.OnCallStarted();
        var failed = true;
        try
        {
            var result = await handler();
            failed = false;
            return result;
        }
        catch (Exception) when (context.CancellationToken.IsCancellationRequested)
        {
            _observer.OnCancellationObserved();
            throw;
        }
        finally
        {
            _observer.OnCallCompleted(failed);
        }
    }

    private async Task ObserveAsync(ServerCallContext context, Func<Task> handler)
    {
        _observer.OnCallStarted();
        var failed = true;
        try
        {
            await handler();
            failed = false;
        }
        catch (Exception) when (context.CancellationToken.IsCancellationRequested)
        {
            _observer.OnCancellationObserved();
            throw;
        }
        finally
        {
            _observer.OnCallCompleted(failed);
        }
    }

    private async Task ApplyRequestAsync(EchoRequest request, ServerCallContext context, bool sendEchoHeaders)
    {
        if (request.EchoMetadata && sendEchoHeaders)
        {
            await StartEchoHeadersAsync(context);
        }

        await DelayAsync(request.DelayMs, context.CancellationToken);
        if (request.WaitForCancel)
        {
            await WaitForCancelAsync(context);
        }

        ThrowIfFailureRequested(request);
    }

    private static async Task StartEchoHeadersAsync(ServerCallContext context)
    {
        context.ResponseTrailers.Add(EchoTrailerName, "done");
        await context.WriteResponseHeadersAsync(new Metadata { { EchoHeaderName, "1" } });
    }

    private Task DelayAsync(int delayMs, CancellationToken cancellationToken) =>
        delayMs > 0 ? Task.Delay(TimeSpan.FromMilliseconds(delayMs), _timeProvider, cancellationToken) : Task.CompletedTask;

    private async Task WaitForCancelAsync(ServerCallContext context)
    {
        // Stopping the host also ends the wait, so a test host never hangs its own shutdown on a call nobody cancels;
        // only the call's own token counts as an observed cancellation.
        using var wait = CancellationTokenSource.CreateLinkedTokenSource(context.CancellationToken, _lifetime.ApplicationStopping);
        _observer.OnWaitingForCancel();
        try
        {
            await Task.Delay(Timeout.InfiniteTimeSpan, _timeProvider, wait.Token);
        }
        catch (OperationCanceledException) when (!context.CancellationToken.IsCancellationRequested)
        {
            throw new RpcException(new Status(StatusCode.Unavailable, "The sample server is stopping."));
        }
    }

    private static void ThrowIfFailureRequested(EchoRequest request)
    {
        if (request.FailWithStatus > 0)
        {
            throw new RpcException(new Status((StatusCode)request.FailWithStatus, request.FailMessage));
        }
    }

    private EchoReply CreateReply(EchoRequest request, long payloadLength, int count, ServerCallContext context)
    {
        var reply = new EchoReply
        {
            Text = request.Text,
            Count = count,
            ServedBy = _name,
            PayloadLength = payloadLength,
        };
        if (request.Text != LengthOnly)
        {
            reply.Payload = request.Payload;
        }

        if (request.EchoMetadata)
        {
            CopyHeaders(context.RequestHeaders, reply.Metadata);
        }

        return reply;
    }

    private EchoReply Sent(EchoReply reply)
    {
        _observer.OnMessageSent();
        return reply;
    }

    private static void CopyHeaders(Metadata headers, MapField<string, string> target)
    {
        foreach (var entry in headers)
        {
            if (entry.Key.StartsWith(':') || s_skippedHeaders.Contains(entry.Key))
            {
                continue;
            }

            var value = entry.IsBinary ? Convert.ToBase64String(entry.ValueBytes) : entry.Value;
            target[entry.Key] = target.TryGetValue(entry.Key, out var existing) ? existing + ", " + value : value;
        }
    }
}
