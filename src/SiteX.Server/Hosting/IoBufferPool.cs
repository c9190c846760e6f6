using System.Buffers;
using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using Microsoft.AspNetCore.Connections;
using SiteX.Server.Diagnostics;

namespace SiteX.Server.Hosting;

/// <summary>
/// The buffers of Kestrel's connections (socket reads and writes, HTTP/2 stream pipes): pinned 128 KiB blocks instead
/// of Kestrel's 4 KiB, so a socket read takes up to 128 KiB and a large message crosses the gateway in few reads,
/// wake-ups and pipe segments (docs/benchmarks.md section 9: 32 KiB blocks cut a 1 MiB call's gateway CPU by 44 %;
/// section 15: 128 KiB by another 22 % with SiteX's own HTTP/2 server; small calls cost the same).
/// </summary>
/// <remarks>
/// Idle blocks are kept for reuse and trimmed over time: every <see cref="TrimInterval"/>, the blocks that stayed idle
/// through the whole interval (the lowest idle count seen since the last trim) are released to the GC, and never more
/// than <see cref="MaxIdleBlocks"/> are kept. One pool serves every listener of one server (Kestrel asks the factory
/// once per listener).
/// </remarks>
internal sealed class IoBufferPool : MemoryPool<byte>, IMemoryPoolFactory<byte>
{
    public const int BlockSize = 128 * 1024;
    public const int MaxIdleBlocks = 256; // 32 MiB
    public static readonly TimeSpan TrimInterval = TimeSpan.FromSeconds(10);

    private readonly ConcurrentQueue<Block> _idle = new();
    private readonly Timer? _trimTimer;
    private int _idleCount;
    private int _lowestIdleSinceTrim;
    private long _inUse;
    private long _created;

    public IoBufferPool(IMeterFactory meterFactory)
        : this(startTrimming: true)
    {
        var meter = meterFactory.Create(GatewayMetrics.MeterName);
        meter.CreateObservableGauge("sitex.io_buffers.in_use", () => Interlocked.Read(ref _inUse) * BlockSize, "By", "Bytes of I/O buffer blocks in use by connections.");
        meter.CreateObservableGauge("sitex.io_buffers.idle", () => (long)Volatile.Read(ref _idleCount) * BlockSize, "By", "Bytes of I/O buffer blocks kept for reuse.");
    }

    /// <summary>A pool for tests: trimmed only by <see cref="Trim"/>, no instruments.</summary>
    internal IoBufferPool(bool startTrimming) =>
        _trimTimer = startTrimming ? new Timer(static s => ((IoBufferPool)s!).Trim(), this, TrimInterval, TrimInterval) : null;

    public override int MaxBufferSize => BlockSize;

    /// <summary>Blocks allocated since the pool was created (not reused ones).</summary>
    public long BlocksCreated => Interlocked.Read(ref _created);

    /// <summary>Blocks rented and not returned.</summary>
    public long BlocksInUse => Interlocked.Read(ref _inUse);

    /// <summary>Blocks kept for reuse.</summary>
    public int IdleBlocks => Volatile.Read(ref _idleCount);

    /// <summary>Kestrel asks once per listener; every listener shares this pool.</summary>
    public MemoryPool<byte> Create(MemoryPoolOptions? options = null) => this;

    public override IMemoryOwner<byte> Rent(int minBufferSize = -1)
    {
        if (minBufferSize > BlockSize)
        {
            // Kestrel asks for at most MaxBufferSize; anything larger gets its own array, not pooled.
            return new Block(null, new byte[minBufferSize]);
        }

        Interlocked.Increment(ref _inUse);
        if (_idle.TryDequeue(out var block))
        {
            var idle = Interlocked.Decrement(ref _idleCount);
            if (idle < Volatile.Read(ref _lowestIdleSinceTrim))
            {
                Volatile.Write(ref _lowestIdleSinceTrim, idle);
            }

            block.Rent();
            return block;
        }

        Interlocked.Increment(ref _created);
        return new Block(this, GC.AllocateUninitializedArray<byte>(BlockSize, pinned: true));
    }

    private void Return(Block block)
    {
        Interlocked.Decrement(ref _inUse);
        if (Interlocked.Increment(ref _idleCount) > MaxIdleBlocks)
        {
            Interlocked.Decrement(ref _idleCount); // over the cap: the GC takes it
            return;
        }

        _idle.Enqueue(block);
    }

    /// <summary>Releases the blocks that stayed idle since the last trim.</summary>
    internal void Trim()
    {
        var unused = Volatile.Read(ref _lowestIdleSinceTrim);
        for (var i = 0; i < unused && _idle.TryDequeue(out _); i++)
        {
            Interlocked.Decrement(ref _idleCount);
        }

        Volatile.Write(ref _lowestIdleSinceTrim, Volatile.Read(ref _idleCount));
    }

    protected override void Dispose(bool disposing)
    {
        // Kestrel disposes the pool of each listener it stops; the blocks stay usable until the last connection ends.
        if (disposing)
        {
            _trimTimer?.Dispose();
        }
    }

    /// <summary>A block and its array, reused together (no allocation per rent once the pool is warm).</summary>
    private sealed class Block(IoBufferPool? pool, byte[] array) : IMemoryOwner<byte>
    {
        private int _rented = 1;

        public Memory<byte> Memory => Volatile.Read(ref _rented) == 1 ? array : throw new ObjectDisposedException(nameof(IoBufferPool), "the I/O buffer was returned");

        public void Rent() => Volatile.Write(ref _rented, 1);

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _rented, 0) == 1)
            {
                pool?.Return(this);
            }
        }
    }
}
