using System.Buffers;
using System.IO.Pipelines;
using System.Runtime.CompilerServices;
using Microsoft.AspNetCore.Http;
using SiteX.Server.Serving;
using Yarp.ReverseProxy.Forwarder;

namespace SiteX.Server.Forwarding.H2;

/// <summary>The request side of <see cref="H2Stream"/>: sends the request, waits for the response (taking over
/// the caller's response pipe when it pushes back), and ends the stream.</summary>
internal sealed partial class H2Stream : IRequestDataSink
{
    private bool _stopSending;
    private bool _endSent;
    private bool _readingRequest;

    private long _pumpedBytes;
    private long _directBytes;

    /// <summary>Request body bytes sent straight from the caller's connection (<see cref="IRequestDataSink"/>).</summary>
    public long DirectRequestBytes => Interlocked.Read(ref _directBytes);

    /// <summary>Request body bytes sent.</summary>
    public long RequestBytes => _pumpedBytes + Interlocked.Read(ref _directBytes);

    /// <summary>Bytes to credit to the next hop on this stream, not yet sent as WINDOW_UPDATE (under the connection's gate).</summary>
    public int ReceiveUnacked { get; set; }

    /// <summary>Whether the next hop ended its side (under the connection's gate or the stream lock; advisory).</summary>
    public bool EndReceived => _endReceived;

    /// <summary>
    /// Sends the request (<paramref name="headerBlock"/>, then the caller's body) and relays the response until the
    /// next hop ends it or the call fails. Returns <see cref="ForwarderError.None"/> or the failure, with
    /// <see cref="Failure"/> set.
    /// </summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    public async ValueTask<ForwarderError> RunAsync(ReadOnlyMemory<byte> headerBlock, bool hasBody, CancellationToken cancellationToken)
    {
        using var registration = cancellationToken.CanBeCanceled
            ? cancellationToken.UnsafeRegister(static s => ((H2Stream)s!).OnCanceled(), this)
            : default;
        var pump = new ValueTask<bool>(true);
        try
        {
            _connection.StartStream(this, headerBlock.Span, endStream: !hasBody);
            if (hasBody)
            {
                pump = PumpRequestAsync();
            }
            else
            {
                _endSent = true;
                await _connection.FlushSoonAsync().ConfigureAwait(false);
            }

            await RelayResponseAsync().ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            Fail(ex, ForwarderError.Request, retryable: Id == 0);
        }
        finally
        {
            if (!pump.IsCompleted)
            {
                lock (_lock)
                {
                    _stopSending = true;
                }

                CancelRequestRead();
                _sendSignal.Set();
            }

            await pump.ConfigureAwait(false);
            Detach();
        }

        lock (_lock)
        {
            if (_failure is null)
            {
                return ForwarderError.None;
            }

            Failure = _failure;
            return _failureKind;
        }
    }

    /// <summary>Why the call failed, when <see cref="RunAsync"/> returned an error.</summary>
    public Exception? Failure { get; private set; }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    private async ValueTask RelayResponseAsync()
    {
        while (true)
        {
            bool deferred;
            lock (_lock)
            {
                if (_failure is not null)
                {
                    return;
                }

                deferred = _deferred;
                if (!deferred && _endReceived)
                {
                    return;
                }
            }

            if (deferred)
            {
                await DrainAsync().ConfigureAwait(false);
            }
            else
            {
                await _responseSignal.WaitAsync().ConfigureAwait(false);
            }
        }
    }

    /// <summary>The caller's response pipe pushed back: wait for it, then write what the read loop queued meanwhile,
    /// and hand the response back to the read loop once the queue is empty and the pipe keeps up.</summary>
    private async ValueTask DrainAsync()
    {
        var writer = _context.Response.BodyWriter;
        while (true)
        {
            ValueTask<FlushResult> flush;
            int credit;
            lock (_lock)
            {
                flush = _hasPendingFlush ? _pendingFlush : default;
                _hasPendingFlush = false;
                _pendingFlush = default;
                credit = _deferredCredit;
                _deferredCredit = 0;
            }

            FlushResult result;
            Exception? failed = null;
            try
            {
                var pending = !flush.IsCompleted;
                result = await flush.ConfigureAwait(false);
                if (pending)
                {
                    // Kestrel completes a pushed-back flush inline, from inside its own output code (and locks),
                    // while the read loop may hold this stream's lock calling into that code: leave its stack before
                    // taking the lock.
                    await Task.Yield();
                }
            }
            catch (Exception ex)
            {
                (result, failed) = (default, ex);
            }

            if (failed is not null)
            {
                Fail(failed, ForwarderError.ResponseBodyClient);
                return;
            }

            if (result.IsCanceled || result.IsCompleted)
            {
                Fail(new IOException("the caller stopped reading the response"), ForwarderError.ResponseBodyClient);
                return;
            }

            _connection.CreditStream(this, credit);
            lock (_lock)
            {
                if (_failure is not null)
                {
                    ReturnQueued();
                    return;
                }

                // Write what was queued, then flush; trailers once the body is through.
                var written = 0;
                while (_queued is { Count: > 0 } queue)
                {
                    var (buffer, length) = queue.Dequeue();
                    writer.Write(buffer.AsSpan(0, length));
                    QueuedChunks.Return(buffer);
                    written += length;
                }

                ResponseBytes += written;
                if (_queuedTrailers is { } trailers)
                {
                    foreach (var trailer in trailers)
                    {
                        AppendTrailer(trailer);
                    }

                    _queuedTrailers = null;
                }

                if (written == 0)
                {
                    // Nothing new: the read loop owns the response again.
                    _deferred = false;
                    return;
                }

#pragma warning disable CA2012 // stored to be awaited once, by the next round of this loop
                _pendingFlush = writer.FlushAsync(_context.RequestAborted);
#pragma warning restore CA2012
                _hasPendingFlush = true;
                _deferredCredit = written;
            }
        }
    }

    private void ReturnQueued()
    {
        while (_queued is { Count: > 0 } queue)
        {
            QueuedChunks.Return(queue.Dequeue().Buffer);
        }

        _queuedTrailers = null;
    }

    /// <summary>Sends the caller's request body as DATA frames, END_STREAM at its end. True when it was all sent or
    /// sending stopped because the response ended.</summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<bool> PumpRequestAsync()
    {
        var reader = _context.Request.BodyReader;
        var direct = reader as IDirectRequestBody; // only a body nothing replaced (a wrapper would be bypassed)
        direct?.SetSink(this);
        try
        {
            while (true)
            {
                if (!reader.TryRead(out var read))
                {
                    await _connection.FlushSoonAsync().ConfigureAwait(false);
                    lock (_lock)
                    {
                        if (_stopSending || _failure is not null)
                        {
                            return true;
                        }

                        _readingRequest = true;
                    }

                    try
                    {
                        read = await reader.ReadAsync().ConfigureAwait(false);
                    }
                    finally
                    {
                        lock (_lock)
                        {
                            _readingRequest = false;
                        }
                    }
                }

                var buffer = read.Buffer;
                var length = buffer.Length; // before AdvanceTo, which recycles the segments
                var sent = await SendDataAsync(buffer, read.IsCompleted).ConfigureAwait(false);
                reader.AdvanceTo(buffer.End);
                _pumpedBytes += length;
                if (!sent || read.IsCompleted)
                {
                    await _connection.FlushSoonAsync().ConfigureAwait(false);
                    return true;
                }

                if (read.IsCanceled)
                {
                    lock (_lock)
                    {
                        if (_stopSending || _failure is not null)
                        {
                            return true;
                        }
                    }
                }
            }
        }
        catch (Exception ex)
        {
            // The caller's request body failed (it went away or sent a reset): the call fails.
            Fail(ex, _context.RequestAborted.IsCancellationRequested ? ForwarderError.RequestBodyCanceled : ForwarderError.RequestBodyClient);
            return false;
        }
        finally
        {
            direct?.SetSink(null);
        }
    }

    /// <summary>The caller's connection offers a DATA payload straight from its read loop (SiteX's own HTTP/2 server,
    /// <see cref="IDirectRequestBody"/>), when nothing of the body waits in its pipe: appended to the next hop's frame
    /// buffer as far as the windows and the buffer allow, the rest left for the pipe and this stream's pump.</summary>
    bool IRequestDataSink.TrySend(ref ReadOnlySequence<byte> payload, bool endStream)
    {
        lock (_lock)
        {
            if (_stopSending || _failure is not null || _endSent)
            {
                return false;
            }
        }

        var length = payload.Length;
        var progress = _connection.TrySendData(this, ref payload, endStream);
        Interlocked.Add(ref _directBytes, length - payload.Length);
        if (progress != SendProgress.Done || !endStream)
        {
            return false;
        }

        lock (_lock)
        {
            _endSent = true; // the pump, woken by the end of the body, must not send END_STREAM again
        }

        return true;
    }

    void IRequestDataSink.Flush() => _connection.Flush();

    /// <summary>Sends <paramref name="buffer"/> within the flow-control windows, waiting for window updates. False
    /// when the stream stopped first.</summary>
    private async ValueTask<bool> SendDataAsync(ReadOnlySequence<byte> buffer, bool endStream)
    {
        while (true)
        {
            lock (_lock)
            {
                if (_stopSending || _failure is not null)
                {
                    return false;
                }

                if (_endSent)
                {
                    return true; // the whole body went straight from the caller's connection (IRequestDataSink)
                }
            }

            var progress = _connection.TrySendData(this, ref buffer, endStream);
            if (progress == SendProgress.Done)
            {
                if (endStream)
                {
                    _endSent = true;
                }

                return true;
            }

            // Push what is buffered; then wait for the write to take it (buffer full) or for a WINDOW_UPDATE (or the
            // end of the stream).
            await _connection.FlushSoonAsync().ConfigureAwait(false);
            if (progress == SendProgress.BufferFull)
            {
                await _connection.WaitForRoomAsync().ConfigureAwait(false);
            }
            else
            {
                await _sendSignal.WaitAsync().ConfigureAwait(false);
            }
        }
    }

    private void OnCanceled() =>
        Fail(new OperationCanceledException("the forwarded call was cancelled"), _headersDone ? ForwarderError.ResponseBodyCanceled : ForwarderError.RequestCanceled);

    private void CancelRequestRead()
    {
        bool reading;
        lock (_lock)
        {
            reading = _readingRequest;
        }

        if (reading)
        {
            try
            {
                _context.Request.BodyReader.CancelPendingRead();
            }
            catch (Exception)
            {
                // The request already ended.
            }
        }
    }

    /// <summary>Ends the request side's use of the stream: the read loop no longer touches the caller's response,
    /// and the connection forgets the stream (resetting it at the next hop when it did not end cleanly).</summary>
    private void Detach()
    {
        bool clean;
        H2ErrorCode reset;
        lock (_lock)
        {
            _detached = true;
            ReturnQueued();
            clean = _failure is null && _endReceived && _endSent;
            reset = _resetCode;
        }

        _connection.CloseStream(this, clean ? null : reset);
    }
}
