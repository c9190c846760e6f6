using System.Runtime.InteropServices;
using SiteX.Server.Hosting;

namespace SiteX.Server.Tests.Hosting;

public sealed class IoBufferPoolTests
{
    private static byte[] ArrayOf(Memory<byte> memory) =>
        MemoryMarshal.TryGetArray<byte>(memory, out var segment) ? segment.Array! : throw new InvalidOperationException("not array-backed");

    [Fact]
    public void Rent_GivesAWholeBlock_AndAReturnedBlockIsReused()
    {
        using var pool = new IoBufferPool(startTrimming: false);

        var first = pool.Rent(4096);
        var array = ArrayOf(first.Memory);
        Assert.Equal(IoBufferPool.BlockSize, first.Memory.Length);
        Assert.Equal(1, pool.BlocksInUse);
        first.Dispose();
        using var second = pool.Rent();

        Assert.Same(array, ArrayOf(second.Memory));
        Assert.Equal(1, pool.BlocksCreated);
        Assert.Equal((1, 0), (pool.BlocksInUse, pool.IdleBlocks));
    }

    [Fact]
    public void RentAndReturn_OnAWarmPool_AllocateNothing()
    {
        using var pool = new IoBufferPool(startTrimming: false);
        pool.Rent().Dispose(); // warm: one block, and the JIT's first calls

        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 0; i < 1000; i++)
        {
            pool.Rent().Dispose();
        }

        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
        Assert.Equal(1, pool.BlocksCreated);
    }

    [Fact]
    public void Dispose_Twice_ReturnsTheBlockOnce_AndTheOwnerNoLongerGivesIt()
    {
        using var pool = new IoBufferPool(startTrimming: false);
        var owner = pool.Rent();

        owner.Dispose();
        owner.Dispose();

        Assert.Equal((0, 1), (pool.BlocksInUse, pool.IdleBlocks));
        Assert.Throws<ObjectDisposedException>(() => owner.Memory);
    }

    [Fact]
    public void Rent_LargerThanABlock_GetsItsOwnArray_ThatIsNotKept()
    {
        using var pool = new IoBufferPool(startTrimming: false);

        var owner = pool.Rent(IoBufferPool.BlockSize + 1);
        var length = owner.Memory.Length;
        owner.Dispose();

        Assert.Equal(IoBufferPool.BlockSize + 1, length);
        Assert.Equal((0, 0, 0), (pool.BlocksCreated, pool.BlocksInUse, (long)pool.IdleBlocks));
    }

    [Fact]
    public void Trim_ReleasesOnlyBlocksIdleThroughAWholeInterval()
    {
        using var pool = new IoBufferPool(startTrimming: false);
        var owners = Enumerable.Range(0, 5).Select(_ => pool.Rent()).ToList();
        owners.ForEach(o => o.Dispose());
        Assert.Equal(5, pool.IdleBlocks);

        pool.Trim(); // the interval that ends here started with no idle blocks: nothing was idle all along
        Assert.Equal(5, pool.IdleBlocks);

        // In the next interval two blocks are used (the idle count drops to 3) and come back.
        var busy = new[] { pool.Rent(), pool.Rent() };
        foreach (var owner in busy)
        {
            owner.Dispose();
        }

        pool.Trim(); // three blocks were idle throughout
        Assert.Equal(2, pool.IdleBlocks);

        pool.Trim(); // and now the last two
        Assert.Equal(0, pool.IdleBlocks);
        Assert.Equal(5, pool.BlocksCreated);
    }

    [Fact]
    public void Return_BeyondTheIdleCap_LeavesTheBlockToTheGc()
    {
        using var pool = new IoBufferPool(startTrimming: false);
        var owners = Enumerable.Range(0, IoBufferPool.MaxIdleBlocks + 3).Select(_ => pool.Rent()).ToList();

        owners.ForEach(o => o.Dispose());

        Assert.Equal(IoBufferPool.MaxIdleBlocks, pool.IdleBlocks);
        Assert.Equal(0, pool.BlocksInUse);
    }

    [Fact]
    public async Task ConcurrentRentAndReturn_KeepTheCountsExact()
    {
        using var pool = new IoBufferPool(startTrimming: false);

        await Task.WhenAll(Enumerable.Range(0, 4).Select(_ => Task.Run(() =>
        {
            for (var i = 0; i < 10_000; i++)
            {
                using var owner = pool.Rent();
                owner.Memory.Span[0] = 1;
                if (i % 1000 == 0)
                {
                    pool.Trim();
                }
            }
        }))).WaitAsync(TimeSpan.FromSeconds(60));

        Assert.Equal(0, pool.BlocksInUse);
        Assert.InRange(pool.IdleBlocks, 0, 4);
        Assert.InRange(pool.BlocksCreated, 1, 10_000 * 4);
    }
}
