using System.Collections.Concurrent;
using SiteX.Server.Forwarding.H2;
using SiteX.Tests.Common;

namespace SiteX.Server.Tests.Forwarding.H2;

/// <summary>How the relay's frame writer batches socket writes: a call's few frames wait for a thread-pool turn so
/// that other calls' frames join them; a large batch, or a flush that must not wait, goes at once.</summary>
public sealed class H2FrameWriterTests : IDisposable
{
    private readonly RecordingStream _transport = new();
    private readonly H2FrameWriter _writer;

    public H2FrameWriterTests() => _writer = new H2FrameWriter(_transport, ex => throw new InvalidOperationException("the write failed", ex));

    public void Dispose() => _transport.Dispose();

    [Fact]
    public async Task SmallFlushesOfTwoStreams_GoInOneSocketWrite_AndALaterOneInTheNext()
    {
        lock (_writer.Gate)
        {
            // Holding the gate keeps the deferred write from running before the second stream appended.
            _writer.WriteFrame(H2FrameType.Headers, H2Frame.EndHeaders, 1, new byte[100]);
            ReturnsAtOnce(_writer.FlushSoonAsync());
            _writer.WriteFrame(H2FrameType.Headers, H2Frame.EndHeaders, 3, new byte[200]);
            ReturnsAtOnce(_writer.FlushSoonAsync());
            Assert.Empty(_transport.Writes);
        }

        var first = await _transport.NextWriteAsync().DefaultTimeout();
        Assert.Equal((2 * H2Frame.HeaderLength) + 300, first.Length);
        Assert.Equal(1, first[8]); // the first frame's stream
        Assert.Equal(3, first[H2Frame.HeaderLength + 100 + 8]);

        // The deferred write is over: the next small flush is deferred again, and written.
        lock (_writer.Gate)
        {
            _writer.WriteFrame(H2FrameType.Data, H2Frame.EndStream, 5, new byte[10]);
        }

        ReturnsAtOnce(_writer.FlushSoonAsync());
        var second = await _transport.NextWriteAsync().DefaultTimeout();
        Assert.Equal(H2Frame.HeaderLength + 10, second.Length);
        Assert.Equal(5, second[8]);
    }

    [Fact]
    public void ABatchOfDeferBelowBytesOrMore_IsWrittenBeforeTheFlushReturns()
    {
        lock (_writer.Gate)
        {
            _writer.WriteFrame(H2FrameType.Data, 0, 1, new byte[H2FrameWriter.DeferBelow]);
        }

        ReturnsAtOnce(_writer.FlushSoonAsync());

        var write = Assert.Single(_transport.Writes);
        Assert.Equal(H2Frame.HeaderLength + H2FrameWriter.DeferBelow, write.Length);
    }

    [Fact]
    public void AFlushThatMustNotWait_WritesAtOnce_EvenWithADeferredOnePending()
    {
        lock (_writer.Gate)
        {
            _writer.WriteFrame(H2FrameType.Headers, H2Frame.EndHeaders, 1, new byte[100]);
            ReturnsAtOnce(_writer.FlushSoonAsync()); // deferred: its work item waits for the gate
            _writer.WriteFrame(H2FrameType.WindowUpdate, 0, 0, new byte[4]);
            ReturnsAtOnce(_writer.FlushAsync());

            var write = Assert.Single(_transport.Writes);
            Assert.Equal((2 * H2Frame.HeaderLength) + 104, write.Length);
        }
    }

    [Fact]
    public void AFlushSoonAfterTheBatchGrewPastTheMark_WritesAtOnce_ThoughADeferredOneWaits()
    {
        lock (_writer.Gate)
        {
            _writer.WriteFrame(H2FrameType.Headers, H2Frame.EndHeaders, 1, new byte[100]);
            ReturnsAtOnce(_writer.FlushSoonAsync()); // deferred: its work item waits for the gate
            _writer.WriteFrame(H2FrameType.Data, 0, 1, new byte[H2FrameWriter.DeferBelow]);
            ReturnsAtOnce(_writer.FlushSoonAsync()); // a body appended meanwhile: not left waiting behind the small batch

            var write = Assert.Single(_transport.Writes);
            Assert.Equal((2 * H2Frame.HeaderLength) + 100 + H2FrameWriter.DeferBelow, write.Length);
        }
    }

    private static void ReturnsAtOnce(ValueTask flush) => Assert.True(flush.IsCompletedSuccessfully);

    /// <summary>A transport that keeps every write, completing each at once.</summary>
    private sealed class RecordingStream : Stream
    {
        private readonly ConcurrentQueue<byte[]> _unseen = new();
        private readonly SemaphoreSlim _written = new(0);

        public ConcurrentQueue<byte[]> Writes { get; } = new();

        public override bool CanRead => false;

        public override bool CanSeek => false;

        public override bool CanWrite => true;

        public override long Length => throw new NotSupportedException();

        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public async Task<byte[]> NextWriteAsync()
        {
            await _written.WaitAsync();
            Assert.True(_unseen.TryDequeue(out var write));
            return write;
        }

        public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
        {
            Write(buffer.Span);
            return default;
        }

        public override void Write(ReadOnlySpan<byte> buffer)
        {
            var copy = buffer.ToArray();
            Writes.Enqueue(copy);
            _unseen.Enqueue(copy);
            _written.Release();
        }

        public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

        public override void Flush()
        {
        }

        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        protected override void Dispose(bool disposing)
        {
            _written.Dispose();
            base.Dispose(disposing);
        }
    }
}
