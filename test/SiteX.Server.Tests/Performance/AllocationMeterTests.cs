using Xunit.Sdk;

namespace SiteX.Server.Tests.Performance;

/// <summary>The meter behind the allocation budget tests counts what a path allocates, and a path over its budget
/// fails with a message that names it; in any build.</summary>
public sealed class AllocationMeterTests
{
    [Fact]
    public void AssertWithin_PathAllocatingOneObjectPerCall_FailsNamingPathAndBudget()
    {
        // Arrange
        object? sink = null;

        // Act
        var bytes = AllocationMeter.PerOperation(() => sink = new object());
        var failure = Assert.Throws<XunitException>(() => AllocationMeter.AssertWithin("RouteTable.TryLookup", bytes, budget: 0));

        // Assert
        Assert.NotNull(sink);
        Assert.Equal(3 * IntPtr.Size, bytes); // the smallest object: its header, method table pointer and minimum payload
        Assert.StartsWith($"RouteTable.TryLookup allocated {bytes} B/op, budget 0 B/op.", failure.Message, StringComparison.Ordinal);
    }
}
