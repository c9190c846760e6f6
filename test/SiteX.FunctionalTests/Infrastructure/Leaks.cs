namespace SiteX.FunctionalTests.Infrastructure;

/// <summary>Checks that an error a caller receives carries nothing internal to the gateways.</summary>
internal static class Leaks
{
    public static void AssertNone(string? message, params int[] internalPorts)
    {
        Assert.NotNull(message);
        Assert.DoesNotContain("   at ", message, StringComparison.Ordinal);
        Assert.DoesNotContain("Exception", message, StringComparison.Ordinal);
        Assert.DoesNotContain("/work/", message, StringComparison.Ordinal);
        Assert.DoesNotContain("/tmp/", message, StringComparison.Ordinal);
        Assert.DoesNotContain("127.0.0.1", message, StringComparison.Ordinal);
        foreach (var port in internalPorts)
        {
            Assert.DoesNotContain(port.ToString(System.Globalization.CultureInfo.InvariantCulture), message, StringComparison.Ordinal);
        }
    }
}
