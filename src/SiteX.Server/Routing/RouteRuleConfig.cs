namespace SiteX.Server.Routing;

/// <summary>
/// One route as the user wrote it: traffic for <see cref="Service"/> at party <see cref="DstParty"/>
/// (optionally only from callers of <see cref="SrcParty"/>) goes to one of <see cref="Endpoints"/>.
/// <c>"default"</c> as a party or service is the OSX fallback.
/// </summary>
public sealed record RouteRuleConfig
{
    public required string DstParty { get; init; }
    public required string Service { get; init; }
    public string? SrcParty { get; init; }
    public required IReadOnlyList<EndpointConfig> Endpoints { get; init; }
    /// <summary>JSON path of the rule in its source document, for error messages.</summary>
    public string Path { get; init; } = "";
}

/// <summary>
/// Binds a gRPC service name (<c>grpc.testing.TestService</c>) or an HTTP path prefix (<c>/api/</c>) to a
/// (party, service) target, so that clients that cannot add headers are forwarded too.
/// </summary>
public sealed record ServiceBindingConfig
{
    public string? GrpcService { get; init; }
    public string? PathPrefix { get; init; }
    public required string Party { get; init; }
    public required string Service { get; init; }
    public string Path { get; init; } = "";
}

/// <summary>Which document format a route table was read from.</summary>
public enum RouteTableFormat
{
    /// <summary>OSX <c>route_table.json</c>: <c>{"route_table": {...}, "self_party": [...]}</c>.</summary>
    Osx = 0,
    /// <summary>Flat rule list: <c>{"routes": [{"service_name","src_site","dst_site","protocol","endpoint"}]}</c>.</summary>
    Flat = 1,
}

/// <summary>A whole route table as read from one document, before it is indexed.</summary>
public sealed record RouteTableConfig
{
    public static RouteTableConfig Empty { get; } = new() { Format = RouteTableFormat.Osx };

    public RouteTableFormat Format { get; init; }
    /// <summary>The document's <c>self_party</c>, or null when it has none (the server's configured parties apply).</summary>
    public IReadOnlyList<string>? SelfParties { get; init; }
    public IReadOnlyList<RouteRuleConfig> Rules { get; init; } = [];
    public IReadOnlyList<ServiceBindingConfig> Bindings { get; init; } = [];
    /// <summary>The <c>permission</c> section; <see cref="PermissionConfig.AllowAll"/> when the document has none.</summary>
    public PermissionConfig Permissions { get; init; } = PermissionConfig.AllowAll;
    /// <summary>Top-level keys SiteX does not interpret, kept verbatim (OSX keeps unknown keys too).</summary>
    public IReadOnlyDictionary<string, string> ExtraJson { get; init; } = new Dictionary<string, string>();
}

/// <summary>One problem found in a route table: where it is (a JSON path) and what to do about it.</summary>
public sealed record RouteTableError(string Path, string Message)
{
    public override string ToString() => string.IsNullOrEmpty(Path) ? Message : $"{Path}: {Message}";
}
