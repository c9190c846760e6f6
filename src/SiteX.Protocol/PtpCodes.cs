namespace SiteX.Protocol;

/// <summary>
/// The string status codes of the PTP protocol (OSX <c>StatusCode.java</c>), carried in
/// <c>Outbound.code</c>, <c>TransportOutbound.code</c> and the HTTP JSON <c>code</c>.
/// </summary>
public static class PtpCodes
{
    public const string Success = "E0000000000";
    public const string InvalidRequest = "E0000000400";
    /// <summary>The interconnection standard's "request resource not authorized" (<c>E0000000403</c>).</summary>
    public const string Unauthorized = "E0000000403";
    public const string SystemError = "E0000000500";
    public const string Timeout = "E0000000601";
    public const string NetError = "E0000000607";
    public const string RouterError = "130";
    public const string PutMessageError = "139";
    public const string CycleRouteError = "145";
    public const string QueueNotFound = "138";
}

/// <summary>Full gRPC method paths of the services SiteX understands.</summary>
public static class PtpMethods
{
    public const string PtpProtocolService = "org.ppc.ptp.PrivateTransferProtocol";
    public const string PtpTransportService = "org.ppc.ptp.PrivateTransferTransport";
    public const string DataTransferService = "com.webank.ai.eggroll.api.networking.proxy.DataTransferService";

    public const string Invoke = "/org.ppc.ptp.PrivateTransferProtocol/invoke";
    public const string Transport = "/org.ppc.ptp.PrivateTransferProtocol/transport";
    public const string Push = "/org.ppc.ptp.PrivateTransferTransport/push";
    public const string Pop = "/org.ppc.ptp.PrivateTransferTransport/pop";
    public const string Peek = "/org.ppc.ptp.PrivateTransferTransport/peek";
    public const string Release = "/org.ppc.ptp.PrivateTransferTransport/release";
    public const string PacketPush = "/com.webank.ai.eggroll.api.networking.proxy.DataTransferService/push";
    public const string PacketUnaryCall = "/com.webank.ai.eggroll.api.networking.proxy.DataTransferService/unaryCall";
    public const string PacketPull = "/com.webank.ai.eggroll.api.networking.proxy.DataTransferService/pull";
    public const string PacketPolling = "/com.webank.ai.eggroll.api.networking.proxy.DataTransferService/polling";

    /// <summary>The <c>x-ptp-uri</c> OSX sends when it relays a queue push as <c>invoke</c>.</summary>
    public const string OsxPushUri = "grpcs://fedai.org/org.ppc.ptp.PrivateTransferTransport/push";
}
