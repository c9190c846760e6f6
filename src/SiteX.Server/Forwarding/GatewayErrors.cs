using Grpc.Core;
using Microsoft.AspNetCore.Http;
using SiteX.Protocol;

namespace SiteX.Server.Forwarding;

/// <summary>The one place where <see cref="GatewayError"/> meets gRPC statuses, PTP codes and HTTP statuses.</summary>
public static class GatewayErrors
{
    public static StatusCode ToGrpcStatus(GatewayError error) => error switch
    {
        GatewayError.None => StatusCode.OK,
        GatewayError.MissingTarget => StatusCode.InvalidArgument,
        GatewayError.NoRoute => StatusCode.NotFound,
        GatewayError.RoutingLoop => StatusCode.FailedPrecondition,
        GatewayError.NextHopUnreachable => StatusCode.Unavailable,
        GatewayError.NextHopTimeout => StatusCode.DeadlineExceeded,
        GatewayError.BadRequest => StatusCode.InvalidArgument,
        GatewayError.Canceled => StatusCode.Cancelled,
        GatewayError.Unsupported => StatusCode.Unimplemented,
        GatewayError.NextHopFailed => StatusCode.Unavailable,
        GatewayError.TooLarge => StatusCode.ResourceExhausted,
        GatewayError.IdentityMismatch or GatewayError.LocalOnly => StatusCode.PermissionDenied,
        GatewayError.PermissionDenied => StatusCode.PermissionDenied,
        GatewayError.Unauthenticated => StatusCode.Unauthenticated,
        _ => StatusCode.Internal,
    };

    /// <summary>The PTP <c>code</c> string (OSX <c>StatusCode.java</c>) for <c>Outbound</c>/<c>TransportOutbound</c>.</summary>
    public static string ToPtpCode(GatewayError error) => error switch
    {
        GatewayError.None => PtpCodes.Success,
        GatewayError.MissingTarget or GatewayError.BadRequest or GatewayError.Unsupported or GatewayError.TooLarge
            or GatewayError.IdentityMismatch or GatewayError.LocalOnly => PtpCodes.InvalidRequest,
        GatewayError.NoRoute => PtpCodes.RouterError,
        GatewayError.RoutingLoop => PtpCodes.CycleRouteError,
        GatewayError.NextHopUnreachable or GatewayError.NextHopFailed or GatewayError.NextHopTimeout => PtpCodes.NetError,
        GatewayError.PermissionDenied or GatewayError.Unauthenticated => PtpCodes.Unauthorized,
        _ => PtpCodes.SystemError,
    };

    public static int ToHttpStatus(GatewayError error) => error switch
    {
        GatewayError.None => StatusCodes.Status200OK,
        GatewayError.MissingTarget or GatewayError.BadRequest => StatusCodes.Status400BadRequest,
        GatewayError.NoRoute => StatusCodes.Status404NotFound,
        GatewayError.RoutingLoop => StatusCodes.Status508LoopDetected,
        GatewayError.NextHopUnreachable or GatewayError.NextHopFailed => StatusCodes.Status502BadGateway,
        GatewayError.NextHopTimeout => StatusCodes.Status504GatewayTimeout,
        GatewayError.Canceled => 499,
        GatewayError.Unsupported => StatusCodes.Status501NotImplemented,
        GatewayError.TooLarge => StatusCodes.Status413PayloadTooLarge,
        GatewayError.IdentityMismatch or GatewayError.LocalOnly => StatusCodes.Status403Forbidden,
        GatewayError.PermissionDenied => StatusCodes.Status403Forbidden,
        GatewayError.Unauthenticated => StatusCodes.Status401Unauthorized,
        _ => StatusCodes.Status500InternalServerError,
    };

    /// <summary>Stable name used in the <c>x-sitex-error</c> header, logs and metrics.</summary>
    public static string Name(GatewayError error) => error switch
    {
        GatewayError.None => "none",
        GatewayError.MissingTarget => "missing_target",
        GatewayError.NoRoute => "no_route",
        GatewayError.RoutingLoop => "routing_loop",
        GatewayError.NextHopUnreachable => "next_hop_unreachable",
        GatewayError.NextHopTimeout => "next_hop_timeout",
        GatewayError.BadRequest => "bad_request",
        GatewayError.Canceled => "canceled",
        GatewayError.Unsupported => "unsupported",
        GatewayError.NextHopFailed => "next_hop_failed",
        GatewayError.TooLarge => "too_large",
        GatewayError.IdentityMismatch => "identity_mismatch",
        GatewayError.LocalOnly => "local_only",
        GatewayError.PermissionDenied => "permission_denied",
        GatewayError.Unauthenticated => "unauthenticated",
        _ => "internal",
    };
}
