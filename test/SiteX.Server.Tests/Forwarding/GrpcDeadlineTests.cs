using SiteX.Server.Forwarding;

namespace SiteX.Server.Tests.Forwarding;

public sealed class GrpcDeadlineTests
{
    [Theory]
    [InlineData("1H", 3_600_000)]
    [InlineData("2M", 120_000)]
    [InlineData("30S", 30_000)]
    [InlineData("250m", 250)]
    [InlineData("1500u", 1.5)]
    [InlineData("2000000n", 2)]
    public void TryParse_EachUnit_GivesMilliseconds(string value, double milliseconds)
    {
        Assert.True(GrpcDeadline.TryParse(value, out var timeout));
        Assert.Equal(milliseconds, timeout.TotalMilliseconds, 3);
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("5")]
    [InlineData("5x")]
    [InlineData("-5S")]
    [InlineData("123456789S")]
    public void TryParse_Invalid_ReturnsFalse(string? value) => Assert.False(GrpcDeadline.TryParse(value, out _));

    [Fact]
    public void Format_RoundTrips_AndStaysWithinEightDigits()
    {
        Assert.Equal("1500m", GrpcDeadline.Format(TimeSpan.FromMilliseconds(1500)));
        Assert.Equal("1m", GrpcDeadline.Format(TimeSpan.FromTicks(-5)));
        var huge = GrpcDeadline.Format(TimeSpan.FromDays(5000));
        Assert.True(huge.Length <= 9, huge);
        Assert.True(GrpcDeadline.TryParse(huge, out var back));
        Assert.True(back >= TimeSpan.FromDays(4999));
    }
}
