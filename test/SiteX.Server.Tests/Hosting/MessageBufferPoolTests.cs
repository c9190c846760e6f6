using System.Runtime.CompilerServices;
using SiteX.Server.Internal;

namespace SiteX.Server.Tests.Hosting;

public sealed class MessageBufferPoolTests
{
    // The largest pooled size: no other test rents arrays this big, so the pool's stack for it is this test's own.
    private const int Size = MessageBufferPool.MaxPooledLength;

    [Fact]
    public void AReturnedArray_IsRentedAgain_UntilThePoolIsReleased_ThenItIsGarbage()
    {
        var (pooledAgain, released) = RentReturnRelease();

        GC.Collect(GC.MaxGeneration, GCCollectionMode.Forced, blocking: true, compacting: true);
        GC.WaitForPendingFinalizers();
        GC.Collect();

        Assert.True(pooledAgain, "a returned array was not handed out again");
        Assert.False(released.IsAlive, "the released pool still holds its array");
    }

    [Fact]
    public void ArraysLongerThanThePooledMaximum_AreNotKept()
    {
        var big = MessageBufferPool.Pool.Rent(Size + 1);
        MessageBufferPool.Pool.Return(big);

        var next = MessageBufferPool.Pool.Rent(Size + 1);

        Assert.Equal(Size + 1, big.Length);
        Assert.NotSame(big, next);
    }

    [MethodImpl(MethodImplOptions.NoInlining)] // no stray reference to the array on this frame
    private static (bool PooledAgain, WeakReference Released) RentReturnRelease()
    {
        var first = MessageBufferPool.Pool.Rent(Size);
        MessageBufferPool.Pool.Return(first);
        var again = MessageBufferPool.Pool.Rent(Size);
        MessageBufferPool.Pool.Return(again);
        var pooledAgain = ReferenceEquals(first, again);

        MessageBufferPool.Release();

        return (pooledAgain, new WeakReference(first));
    }
}
