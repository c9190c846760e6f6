using System.Buffers.Binary;
using SiteX.Server.Diagnostics;
using Yarp.ReverseProxy.Forwarder;

namespace SiteX.Server.Forwarding.H2;

/// <summary>The read loop of <see cref="H2Connection"/>: frame parsing, settings, pings, GOAWAY, flow control.</summary>
internal sealed partial class H2Connection
{
    private const int ReadBufferSize = 64 * 1024;

    private readonly HpackDecoder _decoder = new();

    /// <summary>Header names and values of the next hop's recent responses, decoded once (read loop only).</summary>
    internal H2StringCache HeaderStrings { get; } = new();
    private readonly List<H2Stream> _batch = [];
    private byte[] _headerBlock = [];
    private int _headerBlockLength;
    private int _continuationStream;
    private bool _continuationEndStream;
    private int _connectionUnacked;
    private bool _settingsAcked;
    private readonly TaskCompletionSource _peerSettings = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private long _lastReceived = Environment.TickCount64;
    private long _pingSent;
    private bool _pingOutstanding;

    /// <summary>The read loop; completes when the connection closes.</summary>
    public Task Completion { get; private set; } = Task.CompletedTask;

    /// <summary>Whether the next hop acknowledged this side's SETTINGS.</summary>
    public bool SettingsAcknowledged => Volatile.Read(ref _settingsAcked);

    /// <summary>Sends the client preface, this side's SETTINGS and connection window, and starts the read loop and
    /// the keepalive timer.</summary>
    public async ValueTask StartAsync()
    {
        lock (_writer.Gate)
        {
            _writer.WriteRaw(H2Frame.Preface);

            // ENABLE_PUSH 0, INITIAL_WINDOW_SIZE 1 MiB, MAX_HEADER_LIST_SIZE 64 KiB; HEADER_TABLE_SIZE stays 4096.
            var settings = _writer.WriteFrameHeader(H2FrameType.Settings, 0, 0, 18);
            H2Frame.WriteSetting(settings, H2Frame.SettingsEnablePush, 0);
            H2Frame.WriteSetting(settings[6..], H2Frame.SettingsInitialWindowSize, StreamWindow);
            H2Frame.WriteSetting(settings[12..], H2Frame.SettingsMaxHeaderListSize, 64 * 1024);
            WriteWindowUpdateLocked(0, ConnectionWindow - H2Frame.DefaultWindowSize);
        }

        await _writer.FlushAsync().ConfigureAwait(false);
        Completion = Task.Run(ReadLoopAsync);

        // As SocketsHttpHandler: no stream starts before the next hop's SETTINGS (its stream limit, its windows).
        await _peerSettings.Task.WaitAsync(_options.ConnectTimeout).ConfigureAwait(false);
        var period = KeepAlivePeriod(_options);
        _timer = new Timer(static s => ((H2Connection)s!).OnTimer(), this, period, period);
    }

    private const string NextHopSent = "the next hop sent";

    private async Task ReadLoopAsync()
    {
        var buffer = new byte[ReadBufferSize];
        int start = 0, end = 0;
        try
        {
            while (true)
            {
                if (start == end)
                {
                    start = end = 0;
                }
                else if (buffer.Length - end < H2Frame.HeaderLength + H2Frame.DefaultMaxFrameSize)
                {
                    buffer.AsSpan(start, end - start).CopyTo(buffer);
                    (start, end) = (0, end - start);
                }

                var read = await _transport.ReadAsync(buffer.AsMemory(end)).ConfigureAwait(false);
                if (read == 0)
                {
                    throw new IOException("the next hop closed the connection");
                }

                end += read;
                _lastReceived = Environment.TickCount64;
                while (end - start >= H2Frame.HeaderLength)
                {
                    var (length, type, flags, streamId) = H2Frame.ReadHeader(buffer.AsSpan(start));
                    if (length > H2Frame.DefaultMaxFrameSize)
                    {
                        throw new H2ProtocolException(H2ErrorCode.FrameSizeError, $"the next hop sent a {length}-byte frame; the limit is {H2Frame.DefaultMaxFrameSize}");
                    }

                    if (end - start < H2Frame.HeaderLength + length)
                    {
                        break;
                    }

                    OnFrame(type, flags, streamId, buffer.AsSpan(start + H2Frame.HeaderLength, length));
                    start += H2Frame.HeaderLength + length;
                }

                EndBatch();
            }
        }
        catch (H2ProtocolException ex)
        {
            Abort(ex, ex.Code);
        }
        catch (HpackException ex)
        {
            Abort(new H2ProtocolException(H2ErrorCode.CompressionError, $"the next hop's header block could not be decoded: {ex.Message}"), H2ErrorCode.CompressionError);
        }
        catch (Exception ex)
        {
            Abort(ex, goAway: null);
        }
    }

    private void OnFrame(H2FrameType type, byte flags, int streamId, ReadOnlySpan<byte> payload)
    {
        if (!_peerSettings.Task.IsCompleted && (type != H2FrameType.Settings || (flags & H2Frame.Ack) != 0))
        {
            throw new H2ProtocolException(H2ErrorCode.ProtocolError, $"the next hop's first frame was {type}, not SETTINGS");
        }

        if (_continuationStream != 0 && type != H2FrameType.Continuation)
        {
            throw new H2ProtocolException(H2ErrorCode.ProtocolError, $"the next hop sent {type} in the middle of a header block");
        }

        switch (type)
        {
            case H2FrameType.Data:
                OnData(flags, RequireStream(streamId, type), payload);
                break;
            case H2FrameType.Headers:
                OnHeaders(flags, RequireStream(streamId, type), payload);
                break;
            case H2FrameType.Continuation:
                OnContinuation(flags, streamId, payload);
                break;
            case H2FrameType.RstStream:
                RequireLength(type, payload, 4);
                StreamOrNull(RequireStream(streamId, type))?.OnReset((H2ErrorCode)BinaryPrimitives.ReadUInt32BigEndian(payload));
                break;
            case H2FrameType.Settings:
                OnSettings(flags, streamId, payload);
                break;
            case H2FrameType.Ping:
                OnPing(flags, streamId, payload);
                break;
            case H2FrameType.GoAway:
                OnGoAway(streamId, payload);
                break;
            case H2FrameType.WindowUpdate:
                OnWindowUpdate(streamId, payload);
                break;
            case H2FrameType.PushPromise:
                throw new H2ProtocolException(H2ErrorCode.ProtocolError, "the next hop sent PUSH_PROMISE although push is disabled");
            default:
                break; // PRIORITY and unknown frame types are ignored.
        }
    }

    private int RequireStream(int streamId, H2FrameType type)
    {
        if (streamId == 0 || (streamId & 1) == 0 || streamId >= Volatile.Read(ref _nextStreamId))
        {
            throw new H2ProtocolException(H2ErrorCode.ProtocolError, $"the next hop sent {type} on stream {streamId}, which this side never opened");
        }

        return streamId;
    }

    private static void RequireLength(H2FrameType type, ReadOnlySpan<byte> payload, int length) =>
        H2Frame.RequireLength(type, payload, length, NextHopSent);

    private H2Stream? StreamOrNull(int streamId)
    {
        lock (_writer.Gate)
        {
            return _streams.GetValueOrDefault(streamId);
        }
    }

    private void OnData(byte flags, int streamId, ReadOnlySpan<byte> payload)
    {
        var data = H2Frame.RemovePadding(flags, payload, H2FrameType.Data, NextHopSent);
        _connectionUnacked += payload.Length;
        if (StreamOrNull(streamId) is not { } stream)
        {
            return;
        }

        var credit = stream.OnData(data, payload.Length, (flags & H2Frame.EndStream) != 0);
        AddToBatch(stream);
        if (credit > 0)
        {
            CreditStreamLocked(stream, credit);
        }
    }

    private void OnHeaders(byte flags, int streamId, ReadOnlySpan<byte> payload)
    {
        var block = H2Frame.HeaderBlockFragment(flags, payload, NextHopSent);

        var endStream = (flags & H2Frame.EndStream) != 0;
        if ((flags & H2Frame.EndHeaders) != 0)
        {
            DispatchHeaders(streamId, block, endStream);
            return;
        }

        _continuationStream = streamId;
        _continuationEndStream = endStream;
        _headerBlockLength = 0;
        AppendHeaderBlock(block);
    }

    private void OnContinuation(byte flags, int streamId, ReadOnlySpan<byte> payload)
    {
        if (_continuationStream == 0 || streamId != _continuationStream)
        {
            throw new H2ProtocolException(H2ErrorCode.ProtocolError, $"the next hop sent CONTINUATION on stream {streamId} outside a header block");
        }

        AppendHeaderBlock(payload);
        if ((flags & H2Frame.EndHeaders) != 0)
        {
            _continuationStream = 0;
            DispatchHeaders(streamId, _headerBlock.AsSpan(0, _headerBlockLength), _continuationEndStream);
        }
    }

    private void AppendHeaderBlock(ReadOnlySpan<byte> fragment)
    {
        if (_headerBlockLength + fragment.Length > 256 * 1024)
        {
            throw new H2ProtocolException(H2ErrorCode.EnhanceYourCalm, "the next hop sent a header block over 256 KiB");
        }

        if (_headerBlock.Length < _headerBlockLength + fragment.Length)
        {
            Array.Resize(ref _headerBlock, Math.Max(_headerBlockLength + fragment.Length, _headerBlock.Length * 2));
        }

        fragment.CopyTo(_headerBlock.AsSpan(_headerBlockLength));
        _headerBlockLength += fragment.Length;
    }

    private void DispatchHeaders(int streamId, ReadOnlySpan<byte> block, bool endStream)
    {
        if (StreamOrNull(streamId) is { } stream)
        {
            stream.OnHeaders(_decoder, block, endStream);
            AddToBatch(stream);
        }
        else
        {
            // A stream this side already forgot: decode anyway, the dynamic table must stay in step.
            _decoder.Decode(block, DiscardingHandler.Instance);
        }
    }

    private void AddToBatch(H2Stream stream)
    {
        if (!stream.InBatch)
        {
            stream.InBatch = true;
            _batch.Add(stream);
        }
    }

    /// <summary>After each read: flush what streams wrote to their callers, wake their requests, send window
    /// updates and every frame appended meanwhile in one write.</summary>
    private void EndBatch()
    {
        foreach (var stream in _batch)
        {
            stream.InBatch = false;
            var credit = stream.EndBatch();
            if (credit > 0)
            {
                CreditStreamLocked(stream, credit);
            }
        }

        _batch.Clear();
        if (_connectionUnacked >= ConnectionWindow / 2)
        {
            lock (_writer.Gate)
            {
                WriteWindowUpdateLocked(0, _connectionUnacked);
            }

            _connectionUnacked = 0;
        }

        _writer.Flush();
    }

    /// <summary>Decodes a header block of a stream that is gone, to keep the HPACK state.</summary>
    private sealed class DiscardingHandler : IHpackHeaderHandler
    {
        public static DiscardingHandler Instance { get; } = new();

        public void OnHeader(ReadOnlySpan<byte> name, ReadOnlySpan<byte> value)
        {
        }
    }
}
