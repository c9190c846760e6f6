namespace SiteX.Samples;

/// <summary>Options of the sample <c>sitex.samples.v1.Echo</c> service.</summary>
public sealed class EchoServiceOptions
{
    /// <summary>The name the service reports in <c>EchoReply.served_by</c> and on <c>GET /hello</c>.</summary>
    public string Name { get; set; } = "echo";
}
