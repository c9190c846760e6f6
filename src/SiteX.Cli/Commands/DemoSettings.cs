namespace SiteX.Cli.Commands;

/// <summary>The options of <c>sitex demo</c>.</summary>
internal sealed record DemoSettings
{
    public int PortA { get; init; } = 9370;

    public int PortB { get; init; } = 9371;

    public int AdminPortA { get; init; }

    public int AdminPortB { get; init; }

    public string DataDir { get; init; } = Path.Combine(".", "data", "demo");

    public bool Verbose { get; init; }

    /// <summary>A message naming the bad option and how to fix it, or null when the settings can be used.</summary>
    public string? Validate()
    {
        (string Name, int Port)[] ports = [("--port-a", PortA), ("--port-b", PortB), ("--admin-port-a", AdminPortA), ("--admin-port-b", AdminPortB)];
        foreach (var (name, port) in ports)
        {
            if (port is < 0 or > 65535)
            {
                return $"{name} {port} is not a TCP port; use 1-65535, or 0 for a free port";
            }
        }

        var clash = ports.Where(p => p.Port != 0).GroupBy(p => p.Port).FirstOrDefault(g => g.Count() > 1);
        if (clash is not null)
        {
            return $"{string.Join(" and ", clash.Select(p => p.Name))} are {(clash.Count() == 2 ? "both" : "all")} {clash.Key}; give each its own port (or 0 for a free one)";
        }

        return string.IsNullOrWhiteSpace(DataDir) ? "--data-dir must not be empty" : null;
    }
}
