namespace SiteX.Cli.Commands;

/// <summary>One gateway of <c>sitex demo</c>: its party, folder, requested ports and the files a user can open.</summary>
internal sealed class DemoSite(string party, string dataDir, int grpcPort, int adminPort, string grpcPortOption, string adminPortOption)
{
    public string Party { get; } = party;

    public string DataDir { get; } = dataDir;

    /// <summary>The requested gRPC port; 0 for a free one.</summary>
    public int GrpcPort { get; } = grpcPort;

    /// <summary>The requested admin port; 0 for a free one.</summary>
    public int AdminPort { get; } = adminPort;

    public string TablePath => Path.Combine(DataDir, "route_table.json");

    public string FlowLogPath => Path.Combine(DataDir, "logs", "flow.log");

    /// <summary>Says which port could not be bound and how to choose another.</summary>
    public string DescribeBindFailure(IOException exception)
    {
        // Kestrel: "Failed to bind to address http://127.0.0.1:9370: address already in use."
        var inUse = exception.Message.Contains("in use", StringComparison.OrdinalIgnoreCase);
        var (option, port, what) = AdminPort != 0 && exception.Message.Contains($":{AdminPort}:", StringComparison.Ordinal)
            ? (adminPortOption, AdminPort, "admin port")
            : (grpcPortOption, GrpcPort, "gRPC port");
        if (port == 0)
        {
            return exception.Message;
        }

        var reason = inUse ? "is already in use (another sitex demo or sitex serve?)" : $"cannot be opened ({exception.Message})";
        return $"{what} {port} {reason}. Pick another with {option} <port>, or {option} 0 for any free port.";
    }
}
