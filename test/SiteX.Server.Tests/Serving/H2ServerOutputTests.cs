using System.IO.Pipelines;
using SiteX.Server.Forwarding.H2;
using SiteX.Server.Serving;
using SiteX.Tests.Common;

namespace SiteX.Server.Tests.Serving;

/// <summary>How the server half's output batches socket writes: responses written outside the read loop wait for a
/// thread-pool turn so that other responses join them; the read loop's flushes, and large ones, go at once.</summary>
public sealed class H2ServerOutputTests : IDisposable
{
    private readonly CountingWriter _transport = new();
    private readonly H2ServerOutput _output;

    public H2ServerOutputTests() => _output = new H2ServerOutput(_transport);

    public void Dispose() => _transport.Dispose();

    [Fact]
    public async Task TwoResponsesFlushedSoon_ReachTheTransportInOneFlush_AndALaterOneInTheNext()
    {
        lock (_output.Gate)
        {
            // Holding the gate keeps the deferred flush from running before the second response was written.
            _output.WriteFrame(H2FrameType.Headers, H2Frame.EndHeaders | H2Frame.EndStream, 1, new byte[50]);
            _output.FlushSoon();
            _output.WriteFrame(H2FrameType.Headers, H2Frame.EndHeaders | H2Frame.EndStream, 3, new byte[60]);
            _output.FlushSoon();
            Assert.Equal(0, _transport.Flushes);
        }

        var first = await _transport.NextFlushAsync().DefaultTimeout();
        Assert.Equal((2 * H2Frame.HeaderLength) + 110, first);

        lock (_output.Gate)
        {
            _output.WriteRstStream(5, H2ErrorCode.NoError);
        }

        _output.FlushSoon();
        var second = await _transport.NextFlushAsync().DefaultTimeout();
        Assert.Equal(H2Frame.HeaderLength + 4, second);
        Assert.Equal(2, _transport.Flushes);
    }

    [Fact]
    public void AFlushOfDeferBelowBytesOrMore_AndTheReadLoopsFlush_GoAtOnce()
    {
        lock (_output.Gate)
        {
            _output.WriteFrame(H2FrameType.Data, 0, 1, new byte[H2ServerOutput.DeferBelow]);
        }

        _output.FlushSoon();
        Assert.Equal(1, _transport.Flushes);

        lock (_output.Gate)
        {
            _output.WriteFrame(H2FrameType.Headers, H2Frame.EndHeaders, 3, new byte[10]);
            _output.FlushSoon(); // deferred: its work item waits for the gate
            _output.WriteWindowUpdate(0, 1000);
        }

        _output.Flush(); // the read loop's: at once, taking the deferred response along
        Assert.Equal(2, _transport.Flushes);
        Assert.Equal(H2Frame.HeaderLength + 10 + H2Frame.HeaderLength + 4, _transport.LastFlushed);
    }

    [Fact]
    public void AFlushSoonAfterTheBatchGrewPastTheMark_GoesAtOnce_ThoughADeferredOneWaits()
    {
        lock (_output.Gate)
        {
            _output.WriteFrame(H2FrameType.Headers, H2Frame.EndHeaders, 1, new byte[10]);
            _output.FlushSoon(); // deferred: its work item waits for the gate
            _output.WriteFrame(H2FrameType.Data, 0, 1, new byte[H2ServerOutput.DeferBelow]);
            _output.FlushSoon(); // a body written meanwhile: not left waiting behind the small batch
            Assert.Equal(1, _transport.Flushes);
            Assert.Equal((2 * H2Frame.HeaderLength) + 10 + H2ServerOutput.DeferBelow, _transport.LastFlushed);
        }
    }

    [Fact]
    public void UnreadAnswers_CountsAcknowledgementsUntilAFlushCompletes_NotResponses()
    {
        lock (_output.Gate)
        {
            _output.WriteFrame(H2FrameType.Data, 0, 1, new byte[16_384]);
            _output.WriteAnswer(H2FrameType.Ping, 0, new byte[8]);
            _output.WriteAnswer(H2FrameType.Settings, 0, default);
            Assert.Equal(H2Frame.HeaderLength + 8 + H2Frame.HeaderLength, _output.UnreadAnswers);
            Assert.Equal(16_384 + (3 * H2Frame.HeaderLength) + 8, _output.Backlog);
        }

        _output.Flush(); // the transport takes it at once
        lock (_output.Gate)
        {
            Assert.Equal(0, _output.UnreadAnswers);
        }
    }

    /// <summary>A transport that counts flushes and the bytes each handed over.</summary>
    private sealed class CountingWriter : PipeWriter, IDisposable
    {
        private readonly Pipe _pipe = new();
        private readonly SemaphoreSlim _flushed = new(0);
        private long _unflushed;
        private int _flushes;

        public int Flushes => Volatile.Read(ref _flushes);

        public long LastFlushed { get; private set; }

        public void Dispose() => _flushed.Dispose();

        public async Task<long> NextFlushAsync()
        {
            await _flushed.WaitAsync();
            return LastFlushed;
        }

        public override void Advance(int bytes)
        {
            _pipe.Writer.Advance(bytes);
            _unflushed += bytes;
        }

        public override Memory<byte> GetMemory(int sizeHint = 0) => _pipe.Writer.GetMemory(sizeHint);

        public override Span<byte> GetSpan(int sizeHint = 0) => _pipe.Writer.GetSpan(sizeHint);

        public override void CancelPendingFlush() => _pipe.Writer.CancelPendingFlush();

        public override void Complete(Exception? exception = null) => _pipe.Writer.Complete(exception);

        public override ValueTask<FlushResult> FlushAsync(CancellationToken cancellationToken = default)
        {
            LastFlushed = _unflushed;
            _unflushed = 0;
            Interlocked.Increment(ref _flushes);

            // What was flushed is read off, so the pipe never pushes back.
            var flush = _pipe.Writer.FlushAsync(cancellationToken);
            if (_pipe.Reader.TryRead(out var read))
            {
                _pipe.Reader.AdvanceTo(read.Buffer.End);
            }

            _flushed.Release();
            return flush;
        }
    }
}
