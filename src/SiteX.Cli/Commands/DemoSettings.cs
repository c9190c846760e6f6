namespace SiteX.Cli.Commands;

/// <summary>The options of <c>sitex demo</c>. Each site has a plain gRPC port (intra-site: its own services and the
/// demo's client), a TLS gRPC port (inter-site: peer gateways, client certificates required) and an admin port.</summary>
internal sealed record DemoSettings
{
    /// <summary>Site 9999's plain gRPC port, where the demo (and grpcurl) sends its calls: <c>sitex serve</c>'s default.</summary>
    public int GrpcPortA { get; init; } = 9370;

    public int GrpcTlsPortA { get; init; }

    public int AdminPortA { get; init; }

    public int GrpcPortB { get; init; }

    /// <summary>Site 10000's TLS gRPC port, where site 9999's route to party 10000 leads.</summary>
    public int GrpcTlsPortB { get; init; }

    public int AdminPortB { get; init; }

    public string DataDir { get; init; } = Path.Combine(".", "data", "demo");

    public bool Verbose { get; init; }

    /// <summary>Site 9999's ports with the options that set them.</summary>
    public (DemoPort Grpc, DemoPort GrpcTls, DemoPort Admin) PortsA =>
        (new(GrpcPortA, "--grpc-port-a"), new(GrpcTlsPortA, "--grpc-tls-port-a"), new(AdminPortA, "--admin-port-a"));

    /// <summary>Site 10000's ports with the options that set them.</summary>
    public (DemoPort Grpc, DemoPort GrpcTls, DemoPort Admin) PortsB =>
        (new(GrpcPortB, "--grpc-port-b"), new(GrpcTlsPortB, "--grpc-tls-port-b"), new(AdminPortB, "--admin-port-b"));

    /// <summary>A message naming the bad option and how to fix it, or null when the settings can be used.</summary>
    public string? Validate()
    {
        DemoPort[] ports = [PortsA.Grpc, PortsA.GrpcTls, PortsA.Admin, PortsB.Grpc, PortsB.GrpcTls, PortsB.Admin];
        foreach (var (port, name) in ports)
        {
            if (port is < 0 or > 65535)
            {
                return $"{name} {port} is not a TCP port; use 1-65535, or 0 for a free port";
            }
        }

        var clash = ports.Where(p => p.Port != 0).GroupBy(p => p.Port).FirstOrDefault(g => g.Count() > 1);
        if (clash is not null)
        {
            return $"{string.Join(" and ", clash.Select(p => p.Option))} are {(clash.Count() == 2 ? "both" : "all")} {clash.Key}; give each its own port (or 0 for a free one)";
        }

        return string.IsNullOrWhiteSpace(DataDir) ? "--data-dir must not be empty" : null;
    }
}

/// <summary>A port a demo site asks for (0: any free port) and the option that sets it.</summary>
internal readonly record struct DemoPort(int Port, string Option);
