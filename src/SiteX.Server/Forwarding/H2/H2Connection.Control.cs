using System.Buffers.Binary;
using SiteX.Server.Diagnostics;
using Yarp.ReverseProxy.Forwarder;

namespace SiteX.Server.Forwarding.H2;

/// <summary>The connection-level frames of <see cref="H2Connection"/> (SETTINGS, PING, GOAWAY, WINDOW_UPDATE) and its
/// timer (keepalive pings, idle streams and connections).</summary>
internal sealed partial class H2Connection
{
    private void OnSettings(byte flags, int streamId, ReadOnlySpan<byte> payload)
    {
        if (streamId != 0)
        {
            throw new H2ProtocolException(H2ErrorCode.ProtocolError, "the next hop sent SETTINGS on a stream");
        }

        if ((flags & H2Frame.Ack) != 0)
        {
            RequireLength(H2FrameType.Settings, payload, 0);
            Volatile.Write(ref _settingsAcked, true);
            return;
        }

        if (payload.Length % 6 != 0)
        {
            throw new H2ProtocolException(H2ErrorCode.FrameSizeError, "the next hop sent a SETTINGS frame of a length that is not a multiple of 6");
        }

        lock (_writer.Gate)
        {
            for (var i = 0; i < payload.Length; i += 6)
            {
                var id = BinaryPrimitives.ReadUInt16BigEndian(payload[i..]);
                var value = BinaryPrimitives.ReadUInt32BigEndian(payload[(i + 2)..]);
                switch (id)
                {
                    case H2Frame.SettingsMaxConcurrentStreams:
                        _peerMaxConcurrent = (int)Math.Min(value, int.MaxValue);
                        break;
                    case H2Frame.SettingsInitialWindowSize when value > H2Frame.MaxWindowSize:
                        throw new H2ProtocolException(H2ErrorCode.FlowControlError, $"the next hop set an initial window of {value}");
                    case H2Frame.SettingsInitialWindowSize:
                        var delta = (int)value - _peerInitialWindow;
                        _peerInitialWindow = (int)value;
                        foreach (var stream in _streams.Values)
                        {
                            stream.SendWindow += delta;
                            if (delta > 0 && stream.WaitingForWindow)
                            {
                                stream.WaitingForWindow = false;
                                stream.WakeSender();
                            }
                        }

                        break;
                    case H2Frame.SettingsMaxFrameSize when value is < H2Frame.DefaultMaxFrameSize or > 16_777_215:
                        throw new H2ProtocolException(H2ErrorCode.ProtocolError, $"the next hop set a maximum frame size of {value}");
                    case H2Frame.SettingsMaxFrameSize:
                        _peerMaxFrameSize = (int)value;
                        break;
                    case H2Frame.SettingsHeaderTableSize:
                        // The encoder uses no dynamic table, but a decoder whose limit changed may insist that the next
                        // header block starts with a size update (RFC 7541 section 4.2; nghttp2 does): StartStream
                        // writes one, to 0, after this SETTINGS' ACK.
                        _tableSizeUpdatePending = true;
                        break;
                    default:
                        break; // the rest need nothing.
                }
            }

            _writer.WriteFrame(H2FrameType.Settings, H2Frame.Ack, 0, []);
        }

        _peerSettings.TrySetResult();
    }

    private void OnPing(byte flags, int streamId, ReadOnlySpan<byte> payload)
    {
        if (streamId != 0)
        {
            throw new H2ProtocolException(H2ErrorCode.ProtocolError, "the next hop sent PING on a stream");
        }

        RequireLength(H2FrameType.Ping, payload, 8);
        if ((flags & H2Frame.Ack) != 0)
        {
            _pingOutstanding = false;
            return;
        }

        lock (_writer.Gate)
        {
            _writer.WriteFrame(H2FrameType.Ping, H2Frame.Ack, 0, payload);
        }
    }

    private void OnGoAway(int streamId, ReadOnlySpan<byte> payload)
    {
        if (streamId != 0 || payload.Length < 8)
        {
            throw new H2ProtocolException(H2ErrorCode.ProtocolError, "the next hop sent an invalid GOAWAY");
        }

        var lastStreamId = (int)(BinaryPrimitives.ReadUInt32BigEndian(payload) & 0x7FFF_FFFF);
        var code = (H2ErrorCode)BinaryPrimitives.ReadUInt32BigEndian(payload[4..]);
        List<H2Stream> refused = [];
        bool drained;
        lock (_writer.Gate)
        {
            _closing = true;
            foreach (var (id, stream) in _streams)
            {
                if (id > lastStreamId)
                {
                    refused.Add(stream);
                }
            }

            drained = _streams.Count == refused.Count;
        }

        H2RelayLog.GoAway(_logger, _endpoint, code.ToString(), lastStreamId);
        _onClosed(this); // no new streams here: the pool opens another connection
        foreach (var stream in refused)
        {
            stream.Fail(new H2ConnectionClosedException($"the next hop sent GOAWAY ({code}) before processing the call"), ForwarderError.Request, retryable: true);
        }

        if (drained)
        {
            Abort(new H2ConnectionClosedException($"the next hop sent GOAWAY ({code})"), H2ErrorCode.NoError);
        }
    }

    private void OnWindowUpdate(int streamId, ReadOnlySpan<byte> payload)
    {
        RequireLength(H2FrameType.WindowUpdate, payload, 4);
        var increment = (int)(BinaryPrimitives.ReadUInt32BigEndian(payload) & 0x7FFF_FFFF);
        if (increment == 0 && streamId == 0)
        {
            throw new H2ProtocolException(H2ErrorCode.ProtocolError, "the next hop sent a WINDOW_UPDATE of 0");
        }

        H2Stream? failed = null;
        var failure = H2ErrorCode.NoError;
        lock (_writer.Gate)
        {
            if (streamId == 0)
            {
                _sendWindow += increment;
                if (_sendWindow > H2Frame.MaxWindowSize)
                {
                    throw new H2ProtocolException(H2ErrorCode.FlowControlError, "the next hop's connection window overflowed");
                }

                foreach (var waiter in _windowWaiters)
                {
                    waiter.WaitingForWindow = false;
                    waiter.WakeSender();
                }

                _windowWaiters.Clear();
                return;
            }

            if (_streams.GetValueOrDefault(streamId) is { } stream)
            {
                // Errors on a stream's window are stream errors (RFC 9113 sections 6.9 and 6.9.1): that call fails.
                if (increment == 0 || stream.SendWindow + increment > H2Frame.MaxWindowSize)
                {
                    (failed, failure) = (stream, increment == 0 ? H2ErrorCode.ProtocolError : H2ErrorCode.FlowControlError);
                }
                else
                {
                    stream.SendWindow += increment;
                    if (stream.WaitingForWindow)
                    {
                        stream.WaitingForWindow = false;
                        stream.WakeSender();
                    }
                }
            }
        }

        failed?.FailStream(failure, failure == H2ErrorCode.ProtocolError
            ? "the next hop sent a WINDOW_UPDATE of 0 for the stream"
            : "the next hop overflowed the stream's send window");
    }

    private static TimeSpan KeepAlivePeriod(H2ConnectionOptions options) => H2TimerPeriod.QuarterOfShortest(
        fallback: TimeSpan.FromSeconds(1), min: TimeSpan.FromMilliseconds(50), max: TimeSpan.FromSeconds(1),
        options.KeepAlivePingDelay, options.KeepAlivePingTimeout, options.IdleTimeout);

    /// <summary>Keepalive pings (as SocketsHttpHandler's <c>KeepAlivePingPolicy.Always</c>: a ping after
    /// <c>KeepAlivePingDelay</c> without frames from the next hop, the connection dropped when it goes unanswered for
    /// <c>KeepAlivePingTimeout</c>) and closing a connection idle for <c>IdleTimeout</c>.</summary>
    private void OnTimer()
    {
        var now = Environment.TickCount64;
        if (_pingOutstanding)
        {
            if (now - _pingSent > (long)_options.KeepAlivePingTimeout.TotalMilliseconds)
            {
                Abort(new TimeoutException($"the next hop did not answer a keepalive ping within {_options.KeepAlivePingTimeout}"), H2ErrorCode.NoError);
                return;
            }
        }
        else if (_options.KeepAlivePingDelay > TimeSpan.Zero && _options.KeepAlivePingDelay != Timeout.InfiniteTimeSpan
            && now - _lastReceived > (long)_options.KeepAlivePingDelay.TotalMilliseconds)
        {
            _pingSent = now;
            _pingOutstanding = true;
            lock (_writer.Gate)
            {
                if (_closed)
                {
                    return;
                }

                Span<byte> payload = stackalloc byte[8];
                BinaryPrimitives.WriteInt64BigEndian(payload, now);
                _writer.WriteFrame(H2FrameType.Ping, 0, 0, payload);
            }

            _writer.Flush();
        }

        List<H2Stream>? stale = null;
        var idleMs = (long)_options.IdleTimeout.TotalMilliseconds;
        bool idle;
        lock (_writer.Gate)
        {
            if (_options.IdleTimeout != Timeout.InfiniteTimeSpan)
            {
                foreach (var stream in _streams.Values)
                {
                    if (now - stream.LastActivity > idleMs)
                    {
                        (stale ??= []).Add(stream);
                    }
                }
            }

            idle = !_closing && _reserved == 0 && _options.IdleTimeout != Timeout.InfiniteTimeSpan
                && now - _idleSince > (long)_options.IdleTimeout.TotalMilliseconds;
            if (idle)
            {
                _closing = true;
            }
        }

        foreach (var stream in stale ?? [])
        {
            stream.OnIdle(_options.IdleTimeout);
        }

        if (idle)
        {
            H2RelayLog.ConnectionIdle(_logger, _endpoint);
            Abort(new H2ConnectionClosedException("the connection was idle"), H2ErrorCode.NoError);
        }
    }
}
