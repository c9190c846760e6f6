using System.Text.Json;

namespace SiteX.IntegrationTests;

/// <summary>Runtime settings the <c>sitex</c> executable carries in its <c>sitex.runtimeconfig.json</c>.</summary>
public sealed class RuntimeConfigTests
{
    [Fact]
    public void Sitex_RuntimeConfig_StopsThreadPoolWorkersFromSpinning_AndKeepsWorkstationGc()
    {
        var path = Path.ChangeExtension(SiteXProcess.CliPath, ".runtimeconfig.json");

        using var config = JsonDocument.Parse(File.ReadAllText(path));
        var properties = config.RootElement.GetProperty("runtimeOptions").GetProperty("configProperties");

        // Idle workers sleep at once (ADR 0010: spinning cost ~20 % of the gateway's CPU per call); workstation GC
        // keeps the idle footprint small (target O4).
        Assert.Equal(0, properties.GetProperty("System.Threading.ThreadPool.UnfairSemaphoreSpinLimit").GetInt32());
        Assert.False(properties.GetProperty("System.GC.Server").GetBoolean());
    }
}
