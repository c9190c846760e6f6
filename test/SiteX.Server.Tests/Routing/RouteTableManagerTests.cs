using System.Diagnostics.Metrics;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using SiteX.Server.Configuration;
using SiteX.Server.Diagnostics;
using SiteX.Server.Routing;
using SiteX.Tests.Common;

namespace SiteX.Server.Tests.Routing;

public sealed class RouteTableManagerTests : IDisposable
{
    private const string TableA = """{"route_table": {"10000": {"default": [{"ip": "10.0.0.1", "port": 9370}]}}, "self_party": ["9999"]}""";
    private const string TableB = """{"route_table": {"10000": {"default": [{"ip": "10.0.0.2", "port": 9370}]}}, "self_party": ["9999"]}""";

    private readonly TempDirectory _dir = new();
    private readonly ServiceProvider _services = new ServiceCollection().AddMetrics().BuildServiceProvider();

    [Fact]
    public void InitialLoad_BadFile_ThrowsWithEveryError()
    {
        var path = Write("route_table.json", """{"route_table": {"10000": {"default": [{"ip": "", "port": 0}]}}}""");
        using var manager = Create(path);

        var ex = Assert.Throws<RouteTableException>(manager.InitialLoad);

        Assert.Contains(ex.Errors, e => e.Path == "route_table.10000.default[0].ip");
        Assert.Contains(ex.Errors, e => e.Path == "route_table.10000.default[0].port");
        Assert.Contains(path, ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void InitialLoad_MissingFile_ThrowsNamingTheFile()
    {
        using var manager = Create(_dir.Combine("absent.json"));

        var ex = Assert.Throws<RouteTableException>(manager.InitialLoad);

        Assert.Contains("cannot read the file", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Watch_InPlaceWrite_AppliesNewTable()
    {
        var path = Write("route_table.json", TableA);
        using var manager = Create(path);
        manager.InitialLoad();
        var changed = NextChange(manager);

        await File.WriteAllTextAsync(path, TableB);
        var table = await changed.DefaultTimeout();

        Assert.Equal(2, table.Version);
        Assert.Equal("10.0.0.2:9370", table.TryLookupOrThrow("10000", "default").Group.Pick().Display);
        Assert.Same(table, manager.Current);
    }

    [Fact]
    public async Task Watch_TempFileThenRename_AppliesNewTable()
    {
        var path = Write("route_table.json", TableA);
        using var manager = Create(path);
        manager.InitialLoad();
        var changed = NextChange(manager);

        var temp = Write(".route_table.json.swp", TableB);
        File.Move(temp, path, overwrite: true);
        var table = await changed.DefaultTimeout();

        Assert.Equal("10.0.0.2:9370", table.TryLookupOrThrow("10000", "default").Group.Pick().Display);
    }

    [Fact]
    public async Task Watch_BadEdit_KeepsLastGoodTableAndReportsErrors()
    {
        var path = Write("route_table.json", TableA);
        using var manager = Create(path);
        manager.InitialLoad();
        var rejected = TestTcs.Create<IReadOnlyList<RouteTableError>>();
        manager.EditRejected += errors => rejected.TrySetResult(errors);

        // Written atomically, so the only version the watcher can see is the bad one.
        File.Move(Write("bad.tmp", """{"route_table": {"10000": {"default": [{"ip": "10.0.0.9", "port": "x"}]}}}"""), path, overwrite: true);
        var errors = await rejected.Task.DefaultTimeout();

        Assert.Contains(errors, e => e.Path == "route_table.10000.default[0].port");
        Assert.Equal(1, manager.Current.Version);
        Assert.Equal("10.0.0.1:9370", manager.Current.TryLookupOrThrow("10000", "default").Group.Pick().Display);
        Assert.Equal(errors, manager.LastErrors);

        var changed = NextChange(manager);
        await File.WriteAllTextAsync(path, TableB);
        var table = await changed.DefaultTimeout();
        Assert.Equal(2, table.Version);
        Assert.Empty(manager.LastErrors);
    }

    [Fact]
    public void ReloadFromFile_UnchangedContent_KeepsVersion()
    {
        var path = Write("route_table.json", TableA);
        using var manager = Create(path);
        manager.InitialLoad();

        Assert.True(manager.ReloadFromFile());

        Assert.Equal(1, manager.Current.Version);
    }

    [Fact]
    public void TryApply_BadJson_KeepsCurrentTable()
    {
        using var manager = Create(null);
        manager.InitialLoad();

        Assert.False(manager.TryApply("{", "admin", out var errors));
        Assert.True(manager.TryApply(TableA, "admin", out _));

        Assert.NotEmpty(errors);
        Assert.Equal(1, manager.Current.Version);
        Assert.Equal("admin", manager.Current.Source);
    }

    [Fact]
    public void InitialLoad_NoFile_ServesEmptyTableWithConfiguredSelfParty()
    {
        using var manager = Create(null);

        manager.InitialLoad();

        Assert.True(manager.Current.IsSelf("9999"));
        Assert.Equal(0, manager.Current.PartyCount);
    }

    private static Task<RouteTable> NextChange(RouteTableManager manager)
    {
        var tcs = TestTcs.Create<RouteTable>();
        manager.Changed += table => tcs.TrySetResult(table);
        return tcs.Task;
    }

    private RouteTableManager Create(string? path) =>
        new(Options.Create(new SiteXOptions { RouteTable = path }), NullLogger<RouteTableManager>.Instance,
            new GatewayMetrics(_services.GetRequiredService<IMeterFactory>()));

    private string Write(string name, string text)
    {
        var path = _dir.Combine(name);
        File.WriteAllText(path, text);
        return path;
    }

    public void Dispose()
    {
        _services.Dispose();
        _dir.Dispose();
    }
}
