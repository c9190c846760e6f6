namespace SiteX.Cli.Commands;

/// <summary>One gateway of <c>sitex demo</c>: its party, folder, requested ports, the files a user can open, and what
/// its TLS ports saw (<see cref="Handshakes"/>).</summary>
internal sealed class DemoSite(string party, string dataDir, (DemoPort Grpc, DemoPort GrpcTls, DemoPort Admin) ports)
{
    public string Party { get; } = party;

    public string DataDir { get; } = dataDir;

    /// <summary>The requested plain (intra-site) gRPC port; 0 for a free one.</summary>
    public int GrpcPort => ports.Grpc.Port;

    /// <summary>The requested inter-site TLS gRPC port; 0 for a free one.</summary>
    public int GrpcTlsPort => ports.GrpcTls.Port;

    /// <summary>The requested admin port; 0 for a free one.</summary>
    public int AdminPort => ports.Admin.Port;

    /// <summary>The handshakes on this site's TLS ports, from its log.</summary>
    public DemoHandshakeLog Handshakes { get; } = new();

    public string TablePath => Path.Combine(DataDir, "route_table.json");

    public string FlowLogPath => Path.Combine(DataDir, "logs", "flow.log");

    /// <summary>The ports this site asked for (0: any free port), with the option that sets each.</summary>
    public IEnumerable<(int Port, string Option, string What)> RequestedPorts()
    {
        yield return (ports.Grpc.Port, ports.Grpc.Option, $"site {Party}'s gRPC port");
        yield return (ports.GrpcTls.Port, ports.GrpcTls.Option, $"site {Party}'s TLS gRPC port");
        yield return (ports.Admin.Port, ports.Admin.Option, $"site {Party}'s admin port");
    }

    /// <summary>Says which port could not be bound and how to choose another.</summary>
    public string DescribeBindFailure(Exception exception)
    {
        // Kestrel: "Failed to bind to address http://127.0.0.1:9370: address already in use."
        foreach (var (port, option, what) in RequestedPorts())
        {
            if (port != 0 && exception.Message.Contains($":{port}:", StringComparison.Ordinal))
            {
                return exception.Message.Contains("in use", StringComparison.OrdinalIgnoreCase)
                    ? InUse(port, option, what)
                    : $"port {port} ({option}, {what}) cannot be opened: {exception.Message}";
            }
        }

        return exception.Message;
    }

    public static string InUse(int port, string option, string what) =>
        $"port {port} ({option}, {what}) is already in use, perhaps by another sitex demo or sitex serve. Pick another with {option} <port>, or {option} 0 for any free port.";
}
