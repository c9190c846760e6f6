using Xunit.Abstractions;

namespace SiteX.IntegrationTests;

/// <summary><c>sitex routes validate</c> as a real process: exit codes, the summary and every error.</summary>
public sealed class RoutesValidateTests(ITestOutputHelper output) : ProcessTestBase(output)
{
    [Fact]
    public async Task RoutesValidate_GoodOsxTable_ExitsZeroWithSummary()
    {
        // Arrange: the shape of OSX's shipped route_table.json, including its extra keys.
        var table = WriteFile("route_table.json", """
            {
              "route_table": {
                "9999": { "default": [{ "ip": "127.0.0.1", "port": 9370 }], "fateflow": [{ "ip": "127.0.0.1", "port": 9360 }] },
                "10000": { "default": [{ "ip": "192.168.0.3", "port": 9370, "useSSL": false }] }
              },
              "self_party": ["9999"],
              "permission": { "default_allow": true }
            }
            """);

        // Act
        var process = StartSitex("validate", ["routes", "validate", table]);
        var exitCode = await process.WaitForExitAsync();

        // Assert
        Assert.True(exitCode == 0, process.Describe());
        var stdout = process.StandardOutput;
        Assert.Contains("valid OSX route_table.json", stdout, StringComparison.Ordinal);
        Assert.Contains("2 parties, 3 routes", stdout, StringComparison.Ordinal);
        Assert.Contains("10000/default -> 192.168.0.3:9370", stdout, StringComparison.Ordinal);
        Assert.Contains("permissions: 0 rule(s), calls no rule matches are allowed (permission.default_allow)", stdout, StringComparison.Ordinal);
        Assert.Equal("", process.StandardError);
    }

    [Fact]
    public async Task RoutesValidate_GoodFlatTable_ExitsZeroWithSummary()
    {
        // Arrange
        var table = WriteFile("routes.json", """
            {
              "routes": [
                { "service_name": "fate-serving", "dst_site": "siteB", "endpoint": "serving-b:8000", "grpc_service": "com.webank.ai.fate.api.serving.InferenceService" },
                { "service_name": "default", "dst_site": "default", "endpoint": ["exchange-1:9370", "exchange-2:9370"] }
              ]
            }
            """);

        // Act
        var process = StartSitex("validate", ["routes", "validate", table]);
        var exitCode = await process.WaitForExitAsync();

        // Assert
        Assert.True(exitCode == 0, process.Describe());
        var stdout = process.StandardOutput;
        Assert.Contains("valid flat rule list", stdout, StringComparison.Ordinal);
        Assert.Contains("2 parties, 2 routes, 1 service bindings", stdout, StringComparison.Ordinal);
        Assert.Contains("default/default -> exchange-1:9370, exchange-2:9370", stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task RoutesValidate_BadTable_ExitsOneListingEveryError()
    {
        // Arrange: three independent mistakes.
        var table = WriteFile("bad.json", """
            {
              "route_table": {
                "10000": { "default": [{ "ip": "10.0.0.2", "port": 0 }] },
                "bad party!": { "default": [{ "ip": "10.0.0.3", "port": 9370 }] },
                "10001": { "default": [{ "ip": "10.0.0.4" }] }
              },
              "self_party": ["9999"]
            }
            """);

        // Act
        var process = StartSitex("validate", ["routes", "validate", table]);
        var exitCode = await process.WaitForExitAsync();

        // Assert
        Assert.True(exitCode == 1, process.Describe());
        var stderr = process.StandardError;
        Assert.Contains("3 error(s)", stderr, StringComparison.Ordinal);
        Assert.Contains("route_table.10000.default[0].port", stderr, StringComparison.Ordinal);
        Assert.Contains("route_table.bad party!", stderr, StringComparison.Ordinal);
        Assert.Contains("route_table.10001.default[0].port", stderr, StringComparison.Ordinal);
    }
}
