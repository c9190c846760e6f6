namespace SiteX.Server.Configuration;

/// <summary>
/// Host settings of one SiteX gateway, bound from the JSON config file (<c>--config</c>), environment variables
/// (<c>SITEX_*</c>) and command-line options, in increasing precedence. Every setting is documented in
/// <c>docs/configuration.md</c>.
/// </summary>
public sealed class SiteXOptions
{
    /// <summary>Party ids this gateway serves when the route table has no <c>self_party</c>.</summary>
    public List<string> SelfParties { get; set; } = ["9999"];

    /// <summary>Route table file (OSX <c>route_table.json</c> or flat rules). Empty: an empty table.</summary>
    public string? RouteTable { get; set; }

    /// <summary>Address the plain intra-site ports (gRPC and HTTP) bind to: loopback by default, so that only this host's
    /// services reach them; set it to the site's local network address for services on other hosts. Peer gateways use
    /// the TLS ports (<see cref="Tls"/>).</summary>
    public string Bind { get; set; } = "127.0.0.1";

    /// <summary>Intra-site gRPC port (cleartext HTTP/2). 0 picks a free port.</summary>
    public int GrpcPort { get; set; } = 9370;

    /// <summary>HTTP/1.1 port of the interconnection endpoints (<c>/v1/interconn/chan/*</c>), on the <see cref="Bind"/>
    /// address. 0 picks a free port.</summary>
    public int HttpPort { get; set; } = 8807;

    /// <summary>Admin port (HTTP/1.1: <c>/healthz</c>, <c>/metrics</c>, the admin API). 0 picks a free port.</summary>
    public int AdminPort { get; set; } = 9380;

    /// <summary>Address the admin port binds to; loopback unless deliberately opened.</summary>
    public string AdminBind { get; set; } = "127.0.0.1";

    /// <summary>The admin API's bearer token; see <see cref="AdminOptions"/>.</summary>
    public AdminOptions Admin { get; set; } = new();

    /// <summary>Directory for the gateway's data (access log, queues).</summary>
    public string DataDir { get; set; } = "./data";

    /// <summary>Access log file; empty means <c>&lt;DataDir&gt;/logs/flow.log</c>; <c>-</c> writes to standard output.</summary>
    public string? AccessLog { get; set; }

    /// <summary>Whether the access log is written at all.</summary>
    public bool AccessLogEnabled { get; set; } = true;

    /// <summary>Most gateways a request may pass through before it is rejected as a routing loop.</summary>
    public int MaxHops { get; set; } = 16;

    /// <summary>Time to open a TCP connection to a next hop before the call fails with <c>NextHopUnreachable</c>.</summary>
    public TimeSpan ConnectTimeout { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>A forwarded call with no bytes moving in either direction for this long is ended (hour-long
    /// federated jobs wait in long polls, hence the long default).</summary>
    public TimeSpan IdleTimeout { get; set; } = TimeSpan.FromHours(24);

    /// <summary>HTTP/2 keepalive ping interval on connections to next hops.</summary>
    public TimeSpan KeepAlivePingDelay { get; set; } = TimeSpan.FromSeconds(60);

    /// <summary>How long a keepalive ping may go unanswered before the connection is dropped.</summary>
    public TimeSpan KeepAlivePingTimeout { get; set; } = TimeSpan.FromSeconds(20);

    /// <summary>What forwards calls to gRPC endpoints: SiteX's own HTTP/2 relay (<see cref="ForwardingEngine.H2Relay"/>,
    /// the default), or YARP over <c>SocketsHttpHandler</c>. HTTP (<c>url</c>) endpoints always use YARP.</summary>
    public ForwardingEngine ForwardingEngine { get; set; } = ForwardingEngine.H2Relay;

    /// <summary>What serves HTTP/2 on the inter-site gRPC ports: SiteX's own server half (<see cref="Http2ServerEngine.SiteX"/>,
    /// the default; ADR 0011), or Kestrel's HTTP/2.</summary>
    public Http2ServerEngine Http2Server { get; set; } = Http2ServerEngine.SiteX;

    /// <summary>How often a quiet gateway checks whether to give memory back to the OS after a burst (one aggressive
    /// garbage collection when its RSS grew by 32 MiB since the last); <c>00:00:00</c> turns it off.</summary>
    public TimeSpan IdleMemoryTrimInterval { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>How long SIGTERM waits for in-flight calls to finish before the process exits.</summary>
    public TimeSpan ShutdownTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Quiet time after the last file event before a changed route table is re-read.</summary>
    public TimeSpan RouteTableReloadDelay { get; set; } = TimeSpan.FromMilliseconds(15);

    /// <summary>Largest Packet header (the part read to route DataTransferService calls), in bytes.</summary>
    public int MaxPacketHeaderBytes { get; set; } = 4 * 1024 * 1024;

    /// <summary>Largest PTP <c>invoke</c> message handled locally, in bytes.</summary>
    public int MaxLocalMessageBytes { get; set; } = 128 * 1024 * 1024;

    /// <summary>Sends exception details to callers. Off: peers only ever get stable codes and safe messages.</summary>
    public bool EnableDetailedErrors { get; set; }

    /// <summary>The inter-site TLS ports, certificates and peer identity.</summary>
    public TlsOptions Tls { get; set; } = new();

    /// <summary>PTP queue bounds and durability.</summary>
    public SiteX.Server.Queues.QueueOptions Queues { get; set; } = new();

    /// <summary>Signed request tokens shared with peers that cannot use mTLS.</summary>
    public TokenOptions Tokens { get; set; } = new();

    /// <summary>A name for this gateway instance in loop detection and logs; generated when empty.</summary>
    public string? InstanceId { get; set; }
}
