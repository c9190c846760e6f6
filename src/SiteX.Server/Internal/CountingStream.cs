namespace SiteX.Server.Internal;

/// <summary>Counts bytes passing through a request or response body without buffering them.</summary>
/// <remarks>
/// Writes to the caller are cancelled only by <c>writeCancellation</c> (the caller going away), not by the token the
/// forwarder passes: Kestrel answers a cancelled response write or flush by resetting the stream with
/// <c>INTERNAL_ERROR</c>, which would pre-empt the status (such as <c>DEADLINE_EXCEEDED</c>) that the gateway ends
/// a failed call with. The forwarder's token still cancels reads from the next hop, which end the copy.
/// </remarks>
internal sealed class CountingStream(Stream inner, bool isRequest, CancellationToken writeCancellation = default) : Stream
{
    public long Count { get; private set; }

    public override bool CanRead => isRequest;

    public override bool CanSeek => false;

    public override bool CanWrite => !isRequest;

    public override long Length => throw new NotSupportedException();

    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

    public override int Read(byte[] buffer, int offset, int count)
    {
        var read = inner.Read(buffer, offset, count);
        Count += read;
        return read;
    }

    // Pooled: a read that waits for the caller's next bytes would otherwise allocate its state machine every time.
    [System.Runtime.CompilerServices.AsyncMethodBuilder(typeof(System.Runtime.CompilerServices.PoolingAsyncValueTaskMethodBuilder<>))]
    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        var read = await inner.ReadAsync(buffer, cancellationToken).ConfigureAwait(false);
        Count += read;
        return read;
    }

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override void Write(byte[] buffer, int offset, int count)
    {
        inner.Write(buffer, offset, count);
        Count += count;
    }

    public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        Count += buffer.Length;
        return inner.WriteAsync(buffer, writeCancellation);
    }

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override void Flush() => inner.Flush();

    public override Task FlushAsync(CancellationToken cancellationToken) => inner.FlushAsync(writeCancellation);

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();
}
