using System.Net;
using Microsoft.AspNetCore.Server.Kestrel.Core;

namespace SiteX.Server.Hosting;

/// <summary>The bound listeners; ports are known once Kestrel has bound them (port 0 picks a free one).</summary>
internal sealed class ListenerInfo
{
    public ListenOptions? Grpc { get; set; }

    public ListenOptions? Admin { get; set; }

    public ListenOptions? Http { get; set; }

    public ListenOptions? GrpcTls { get; set; }

    public ListenOptions? Https { get; set; }

    public int GrpcPort => Port(Grpc);

    public int GrpcTlsPort => Port(GrpcTls);

    public int HttpsPort => Port(Https);

    public int HttpPort => Port(Http);

    public int AdminPort => Port(Admin);

    private static int Port(ListenOptions? options) => options?.EndPoint is IPEndPoint ip ? ip.Port : 0;
}
