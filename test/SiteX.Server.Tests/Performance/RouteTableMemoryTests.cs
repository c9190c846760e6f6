using System.Globalization;
using System.Text;
using SiteX.Server.Routing;
using Xunit.Abstractions;

namespace SiteX.Server.Tests.Performance;

/// <summary>
/// Target O3: a route table of 10 000 parties, parsed from the JSON a user writes and built into the lookup model,
/// keeps its managed memory within <see cref="AllocationBudgets.RouteTable10000Parties"/> (the target says &lt; 50 MiB).
/// </summary>
[Collection(nameof(ProcessWideAllocationCollection))]
public sealed class RouteTableMemoryTests(ITestOutputHelper output)
{
    private const int Parties = 10_000;

    [BudgetFact]
    public void TenThousandPartyTable_RetainsWithinBudget()
    {
        // Arrange: the reload benchmark's table (every party with its own default endpoint), as text.
        var json = ManyParties(Parties);
        Assert.NotNull(Build(ManyParties(10))); // the parser and model code paths are warm

        // Act: what stays reachable once the parse garbage is collected.
        var before = GC.GetTotalMemory(forceFullCollection: true);
        var table = Build(json);
        var after = GC.GetTotalMemory(forceFullCollection: true);
        GC.KeepAlive(table);

        // Assert
        var retained = after - before;
        output.WriteLine($"{Parties} parties ({json.Length / 1024} KiB of JSON): {retained / 1024.0 / 1024.0:0.00} MiB retained");
        Assert.Equal(Parties, table.PartyCount);
        AllocationMeter.AssertWithin($"a {Parties}-party route table (retained)", retained, AllocationBudgets.RouteTable10000Parties);
    }

    private static RouteTable Build(string json)
    {
        var config = RouteTableParser.Parse(json, out var errors);
        Assert.True(config is not null, string.Join("; ", errors));
        return RouteTable.Create(config, ["9999"], 1, "memory test");
    }

    private static string ManyParties(int parties)
    {
        var json = new StringBuilder(parties * 80).Append("{ \"self_party\": [\"9999\"], \"route_table\": {\n");
        for (var i = 0; i < parties; i++)
        {
            json.Append(CultureInfo.InvariantCulture, $"  \"{10000 + i}\": {{ \"default\": [{{ \"ip\": \"10.{i / 65536 % 256}.{i / 256 % 256}.{i % 256}\", \"port\": {1024 + i % 60000} }}] }}")
                .Append(i + 1 < parties ? ",\n" : "\n");
        }

        return json.Append("} }\n").ToString();
    }
}
